"""PostgreSQL for the bench: the server in HUIYIN_BENCH_POSTGRES_URL, or a throw-away one
started with scripts/pg-start (and stopped with scripts/pg-stop), plus fresh databases.

Only databases created here in this run (named huiyin_bench_<phase>_<run token>, marked
with the run's token, see bench.guard) are ever dropped; the database named in the URL is
only used to connect for CREATE/DROP DATABASE, never written to.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import guard, procs


@dataclass
class Server:
    url: str  # any database on the server; used for CREATE/DROP DATABASE
    own_dir: str | None = None  # PG_TEST_DIR when we started it
    note: str = ""
    created: list[str] = field(default_factory=list)

    def _admin(self) -> Any:
        import psycopg

        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError:
            return psycopg.connect(_with_db(self.url, "postgres"), autocommit=True, connect_timeout=10)

    def fresh_database(self, phase: str, token: str) -> str:
        """Create an empty database holding the run's marker and return its URL. A name that
        exists already is an error (CREATE DATABASE fails): nothing is dropped to make room."""
        name = f"huiyin_bench_{phase}_{token}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')
        self.created.append(name)
        url = _with_db(self.url, name)
        guard.mark_postgres(url, token)
        return url

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        if name not in self.created:
            return
        try:
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self.created.remove(name)
        except Exception as exc:  # noqa: BLE001 — a leftover database on a throw-away server is harmless
            print(f"    could not drop database {name}: {exc}", file=sys.stderr)

    def version(self) -> str:
        with self._admin() as conn:
            row = conn.execute("SHOW server_version").fetchone()
            settings = dict(conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('shared_buffers','fsync','synchronous_commit','work_mem','effective_cache_size')"
            ).fetchall())
        return f"PostgreSQL {row[0]} " + " ".join(f"{k}={v}" for k, v in sorted(settings.items()))

    def stop(self, repo: str) -> None:
        for name in list(self.created):
            self.drop_database(_with_db(self.url, name))
        if self.own_dir:
            env = dict(os.environ, PG_TEST_DIR=self.own_dir)
            subprocess.run([f"{repo}/scripts/pg-stop"], env=env, check=False, timeout=60,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.own_dir = None


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def start(repo: str) -> tuple[Server | None, str]:
    """The server to use, or (None, why PostgreSQL is skipped)."""
    given = os.environ.get("HUIYIN_BENCH_POSTGRES_URL")
    if given:
        return Server(url=given, note="HUIYIN_BENCH_POSTGRES_URL"), ""
    port = procs.free_port()
    env = dict(os.environ, PG_TEST_PORT=str(port))
    env.pop("PG_TEST_DIR", None)
    try:
        res = subprocess.run([f"{repo}/scripts/pg-start"], env=env, capture_output=True, text=True, timeout=120,
                             check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"scripts/pg-start failed: {exc}"
    out = res.stdout
    m_dir = re.search(r"export PG_TEST_DIR=(\S+)", out)
    m_url = re.search(r"export HUIYIN_TEST_POSTGRES_URL=(\S+)", out)
    if res.returncode != 0 or not m_url:
        if m_dir:  # half-started: stop what we can
            subprocess.run([f"{repo}/scripts/pg-stop"], env=dict(os.environ, PG_TEST_DIR=m_dir.group(1)),
                           check=False, timeout=60)
        why = (res.stderr or out).strip().splitlines()
        if "binaries not found" in out + res.stderr:
            return None, "PostgreSQL server binaries not found (install postgresql-15 or set HUIYIN_BENCH_POSTGRES_URL)"
        return None, "scripts/pg-start failed: " + (why[-1] if why else f"exit {res.returncode}")
    return Server(url=m_url.group(1), own_dir=m_dir.group(1) if m_dir else None,
                  note=f"throw-away server from scripts/pg-start on port {port}"), ""
