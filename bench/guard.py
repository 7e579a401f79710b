"""The bench writes only to databases it created itself.

Every database the bench uses is made by the driver in this run — a SQLite file in its
own temporary directory, or a PostgreSQL database `huiyin_bench_<phase>_<token>` it
CREATEs on the server — and the first thing written into it is the table
`huiyin_bench_marker` holding this run's token (`HUIYIN_BENCH_TOKEN`, random per run).

Nothing is started against a database before the marker is found there:

- the driver checks a URL (`check_url`) before it builds the environment of any process
  (migrate, demo, gunicorn, the worker, a measuring child);
- every measuring child and the bench's WSGI module check the database Django is
  configured with (`check_configured`) before their first statement;
- the functions that delete or rewrite rows (the notify bench, the scheduler bench, the
  bulk loader) check again themselves.

So `HUIYIN_DATABASE_URL` pointing at a real database — the dev database in var/, a
production server — is refused with `NotABenchDatabase` and its message, and no row of
it is read, written or deleted. The checks open SQLite files read-only (a missing file
is not created) and only SELECT from PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

MARKER_TABLE = "huiyin_bench_marker"
TOKEN_ENV = "HUIYIN_BENCH_TOKEN"


class NotABenchDatabase(RuntimeError):
    """The database was not created by this bench run: the bench refuses to touch it."""


def new_token() -> str:
    return secrets.token_hex(8)


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _refuse(url: str, why: str) -> NotABenchDatabase:
    return NotABenchDatabase(
        f"refusing to run the bench against {redact(url)}: {why}. The bench writes and deletes rows, so it "
        f"only runs against a database it created itself in this run (marked by the table {MARKER_TABLE} "
        f"holding the run's {TOKEN_ENV}). Run it with `make bench` (python -m bench), which creates its own "
        "databases; it never uses HUIYIN_DATABASE_URL."
    )


def sqlite_path(url: str) -> str:
    """The file of a sqlite:/// URL (sqlite:////abs/path or sqlite:///relative/path)."""
    return url.removeprefix("sqlite:///")


def create_sqlite(path: Path, token: str) -> str:
    """Create a new SQLite file holding the marker, and return its URL. Refuses an existing file."""
    if path.exists():
        raise NotABenchDatabase(f"refusing to create the bench database {path}: the file exists already")
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    try:
        _write_marker_sqlite(conn, token)
    finally:
        conn.close()
    return f"sqlite:///{path}"


def _write_marker_sqlite(conn: sqlite3.Connection, token: str) -> None:
    with conn:
        conn.execute(f"CREATE TABLE {MARKER_TABLE} (token text NOT NULL, created_at text NOT NULL)")
        conn.execute(f"INSERT INTO {MARKER_TABLE} VALUES (?, datetime('now'))", [token])


def mark_postgres(url: str, token: str) -> None:
    """Write the marker into a PostgreSQL database the caller has just CREATEd."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f"CREATE TABLE {MARKER_TABLE} (token text NOT NULL, created_at timestamptz NOT NULL "
                     "DEFAULT now())")
        conn.execute(f"INSERT INTO {MARKER_TABLE} (token) VALUES (%s)", [token])


def _tokens(url: str) -> list[str]:
    """The tokens in the marker table of `url`; raises NotABenchDatabase when there is none."""
    if url.startswith("sqlite:"):
        path = sqlite_path(url)
        if not url.startswith("sqlite:///") or not path or path == ":memory:":
            raise _refuse(url, "not a SQLite file the bench made")
        if not Path(path).is_file():
            raise _refuse(url, "the file does not exist")
        try:
            conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True, timeout=30)
        except sqlite3.Error as exc:
            raise _refuse(url, f"it cannot be opened read-only ({exc})") from exc
        try:
            return [r[0] for r in conn.execute(f"SELECT token FROM {MARKER_TABLE}")]
        except sqlite3.Error as exc:
            raise _refuse(url, f"it has no {MARKER_TABLE} table, so the bench did not create it") from exc
        finally:
            conn.close()
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg

        try:
            with psycopg.connect(url, connect_timeout=10) as conn:
                conn.read_only = True
                exists = conn.execute("SELECT to_regclass(%s)", [MARKER_TABLE]).fetchone()
                if not exists or exists[0] is None:
                    raise _refuse(url, f"it has no {MARKER_TABLE} table, so the bench did not create it")
                return [r[0] for r in conn.execute(f"SELECT token FROM {MARKER_TABLE}")]
        except psycopg.Error as exc:
            raise _refuse(url, f"it cannot be checked ({type(exc).__name__}: {exc})") from exc
    raise _refuse(url, "not a sqlite:/// or postgresql:// URL")


def check_url(url: str, token: str | None) -> None:
    """Raise NotABenchDatabase unless `url` holds the marker of the run `token`."""
    if not token:
        raise _refuse(url, f"{TOKEN_ENV} is not set (no bench run is going on)")
    found = _tokens(url)
    if token not in found:
        raise _refuse(url, "its marker belongs to another bench run" if found else "its marker table is empty")


def configured_url() -> str:
    """The database URL Django is configured with (Huiyin's settings read HUIYIN_DATABASE_URL)."""
    from django.conf import settings

    return str(settings.DATABASE_URL)


def check_configured() -> None:
    """Raise NotABenchDatabase unless Django's database is one this bench run created."""
    check_url(configured_url(), os.environ.get(TOKEN_ENV))
