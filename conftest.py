"""The whole suite's test database (huiyin/ and bench/ alike): one session fixture for every
test, so this file sits at the root (a fixture in huiyin/conftest.py would leave bench/ to
pytest-django's own, which creates the database a second time)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# --- the test database ------------------------------------------------------------------------
# Migrating an empty SQLite database costs each test process about 10 s of CPU. The first process
# migrates and keeps a copy, the template, named after a hash of the product's code (every file of
# huiyin/ but the tests, the locked requirements, Python's and SQLite's versions); every other
# process, in this run or a later one with the same code, starts from a copy of it. `migrate` still runs on the copy (it
# finds nothing to apply, and its post_migrate handlers run as after a fresh migration).
# PostgreSQL migrates as before.

def _code_hash() -> str:
    import hashlib
    import sqlite3
    import sys

    import django

    root = Path(__file__).resolve().parent / "huiyin"
    digest = hashlib.sha256(f"{django.__version__} {sqlite3.sqlite_version} {sys.version}".encode())
    for lock in sorted((root.parent / "requirements").glob("*.lock")):  # the other apps' migrations
        digest.update(lock.read_bytes())
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or {"tests", "__pycache__"} & set(rel.parts) or rel.name == "conftest.py":
            continue
        digest.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _sqlite_copy(source: str, target: str) -> None:
    """Copy a SQLite database with SQLite's own backup (a consistent copy, whatever its journal)."""
    import sqlite3

    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: Any,
    django_db_use_migrations: bool,
    django_db_keepdb: bool,
    django_db_createdb: bool,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """pytest-django's own fixture (the same steps), with the SQLite template above."""
    import fcntl

    from django.conf import settings
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.fixtures import _disable_migrations, _get_databases_for_setup

    keepdb = django_db_keepdb and not django_db_createdb
    if not django_db_use_migrations:
        _disable_migrations()
    aliases, serialized_aliases = _get_databases_for_setup(request.session.items)
    db = settings.DATABASES["default"]
    sqlite = connections["default"].vendor == "sqlite" and django_db_use_migrations and aliases == {"default"}

    def setup(keep: bool) -> Any:
        with django_db_blocker.unblock():
            return setup_databases(
                verbosity=request.config.option.verbose, interactive=False,
                aliases=aliases,  # type: ignore[arg-type]  # a set, as pytest-django passes it
                serialized_aliases=serialized_aliases, keepdb=keep,
            )

    if sqlite and not keepdb:
        folder = Path(settings.VAR_DIR) / "test" / "templates"
        folder.mkdir(parents=True, exist_ok=True)
        template = folder / f"{_code_hash()}.sqlite3"
        target = str(db["TEST"]["NAME"])
        with open(folder / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one process migrates; the others wait for its template
            if template.exists():
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(target + suffix).unlink(missing_ok=True)
                _sqlite_copy(str(template), target)
                db_cfg = setup(keep=True)
            else:
                db_cfg = setup(keep=False)
                connections["default"].close()
                for old in folder.glob("*.sqlite3"):  # templates of other code
                    old.unlink()
                _sqlite_copy(target, str(template) + ".tmp")
                os.replace(str(template) + ".tmp", template)
    else:
        db_cfg = setup(keep=keepdb)

    yield

    if not django_db_keepdb:
        with django_db_blocker.unblock():
            try:
                teardown_databases(db_cfg, verbosity=request.config.option.verbose)
            except Exception as exc:  # noqa: BLE001 — as pytest-django: a failed teardown only warns
                request.node.warn(pytest.PytestWarning(f"Error when trying to teardown test databases: {exc!r}"))
