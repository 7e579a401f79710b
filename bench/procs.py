"""Processes the bench starts, and nothing else: started, watched, measured and stopped by pid.

Every child is started in its own session (so a Ctrl-C in the terminal reaches only the
driver, which then stops them in order) and recorded here; `stop_all()` ends whatever
is still running. Nothing is ever killed by name.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

_started: list[Proc] = []


class Proc:
    """A child process with its log file; `stop()` is idempotent."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log: Path | None) -> None:
        self.name, self.popen, self.log = name, popen, log
        self.extra_pids: set[int] = set()  # e.g. gunicorn workers, seen while running
        self.port = 0  # the port a server listens on, when it is one

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, n: int = 30) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            self.extra_pids |= set(children(self.pid))
            _signal(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        # Children that outlived their parent (a gunicorn worker whose master was killed):
        # end them by the pids recorded while the parent ran, if they are still ours.
        deadline = time.monotonic() + 5
        for pid in sorted(self.extra_pids):
            while _is_orphan_of_ours(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _is_orphan_of_ours(pid):
                _signal(pid, signal.SIGKILL)
        if self in _started:
            _started.remove(self)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _is_orphan_of_ours(pid: int) -> bool:
    """True while `pid` still runs one of our Python programs (checked via its cmdline)."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and (b"gunicorn" in cmd or b"huiyin" in cmd)


def spawn(name: str, cmd: list[str], *, env: dict[str, str], log: Path | None, cwd: str | None = None) -> Proc:
    out: IO[Any] | int = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    try:
        popen = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        if not isinstance(out, int):
            out.close()
    proc = Proc(name, popen, log)
    _started.append(proc)
    return proc


def run(cmd: list[str], *, env: dict[str, str], timeout: float, log: Path | None = None,
        cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run to completion (own session, so Ctrl-C is handled by the driver); raise on failure."""
    popen = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        text=True, start_new_session=True,
    )
    proc = Proc(cmd[0], popen, None)  # type: ignore[arg-type]
    _started.append(proc)
    try:
        out, err = popen.communicate(timeout=timeout)
    except BaseException:
        proc.stop(timeout=5)
        raise
    finally:
        if proc in _started:
            _started.remove(proc)
    if log is not None:
        with open(log, "a") as fh:
            fh.write(f"$ {' '.join(cmd)}\n{out}{err}\n")
    if popen.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} … failed ({popen.returncode}):\n{(err or out)[-3000:]}")
    return subprocess.CompletedProcess(cmd, popen.returncode, out, err)


def stop_all() -> None:
    for proc in reversed(list(_started)):
        try:
            proc.stop(timeout=8)
        except Exception as exc:  # noqa: BLE001 — cleanup must go on
            print(f"    could not stop {proc.name} (pid {proc.pid}): {exc}", file=sys.stderr)


def children(pid: int) -> list[int]:
    """Direct children of `pid` (scanning /proc: PPid)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def memory(pid: int) -> dict[str, int] | None:
    """VmRSS and VmHWM (peak RSS) of `pid`, in kB; None when it has gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out if "VmRSS" in out else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, *, proc: Proc, timeout: float = 60.0) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited early:\n{proc.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{proc.name} did not answer {url} within {timeout:.0f}s:\n{proc.log_tail()}")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time `pid` has used so far, in seconds; None when it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
