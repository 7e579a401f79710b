"""A real IMAP server for the tests: Debian's Dovecot (`.ci/run` installs dovecot-imapd), started
on a free loopback port with its own configuration, users and maildirs in a temporary folder,
and stopped by its pid. Where Dovecot is not installed, the tests that need it are skipped and
say why."""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "ts@example.test", "imap-pw-for-tests"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dovecot:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        if os.geteuid() == 0:
            # Dovecot never gives mail to uid 0: the mail processes run as `nobody`, logins as its own users.
            mail_user, mail_group = "nobody", grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
            login_user = "dovenull" if _exists("dovenull") else "nobody"
            internal = "dovecot" if _exists("dovecot") else "nobody"
        else:
            mail_user = login_user = internal = pwd.getpwuid(os.geteuid()).pw_name
            mail_group = grp.getgrgid(os.getegid()).gr_name
        uid, gid = pwd.getpwnam(mail_user).pw_uid, grp.getgrnam(mail_group).gr_gid
        for sub in ("mail", "home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
            os.chown(self.root / sub, uid, gid) if os.geteuid() == 0 else None
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# a wrong password is answered at once (Dovecot waits 2 s by default: a test server needs no brake)
auth_failure_delay = 0
mail_location = maildir:{self.root}/mail/%u
first_valid_uid = 1
default_internal_user = {internal}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name}
default_login_user = {login_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={self.root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0600
  }}
}}
"""

    def start(self) -> None:
        conf = self.root / "dovecot.conf"
        conf.write_text(self.config())
        for sub in ("run", "state"):
            (self.root / sub).mkdir(exist_ok=True)
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                log = (self.root / "dovecot.log").read_text() if (self.root / "dovecot.log").exists() else ""
                raise RuntimeError(f"dovecot exited: {err}\n{log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("dovecot did not start within 15 s")

    def stop(self) -> None:
        """Stop the server and every process it started, at once: a graceful stop waits about a
        second for its children, per test (a test's server keeps nothing the next one reads)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session (start_new_session)
            except ProcessLookupError:
                pass
            self.proc.wait(10)

    # --- what a mail client does ----------------------------------------------------------------

    def client(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(USER, PASSWORD)
        conn.select("INBOX")
        return conn

    def deliver(self, raw: bytes) -> None:
        conn = self.client()
        try:
            typ, _ = conn.append("INBOX", "", imaplib.Time2Internaldate(time.time()), raw)
            assert typ == "OK"
        finally:
            conn.logout()

    def flags(self) -> list[str]:
        """The flags of every message in the inbox, in order."""
        conn = self.client()
        try:
            typ, data = conn.fetch("1:*", "(FLAGS)")
            if typ != "OK" or data == [None]:
                return []
            return [item.decode() for item in data if isinstance(item, bytes)]
        finally:
            conn.logout()


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


@pytest.fixture
def dovecot():
    if not Path(DOVECOT).exists():
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd; .ci/run installs it)")
    # Not under pytest's temporary folder (0700): Dovecot's own users must read the configuration.
    root = Path(tempfile.mkdtemp(prefix="huiyin-dovecot-"))
    os.chmod(root, 0o755)  # noqa: S103 — Dovecot's users read it; nothing secret in a test server
    server = Dovecot(root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
