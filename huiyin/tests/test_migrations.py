"""The migrations: the models and the migrations agree, and the squashed migrations (one per app,
docs/migrations.md) are what a fresh database is migrated through.

Two slower checks run only with HUIYIN_TEST_MIGRATION_CHAINS=1 (each migrates scratch databases
in subprocesses, about 10 s of CPU; on SQLite, and on PostgreSQL when the suite runs there):
- a fresh database migrated through the old chain of replaced migrations and one migrated
  through the squashed migrations have the same schema (`sqlite_master`, `pg_dump --schema-only`);
- a database migrated halfway through the old chain (cases up to 0012) migrates to the end.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader

pytestmark = pytest.mark.django_db

SQUASHED = {
    "cases": "0001_squashed_0018_event_case_index_once",
    "notify": "0001_squashed_0008_knowledge_expired_event",
    "org": "0001_squashed_0006_merge_0004_duty_shifts_0005_audit_append_only",
    "policies": "0001_squashed_0002_policy_origin",
    "reports": "0001_squashed_0002_day_totals",
    "text": "0001_squashed_0002_retrain_schedule",
}


def test_the_models_need_no_new_migration() -> None:
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)  # exits 1 on a change
    assert "No changes detected" in out.getvalue()


# The migrations made after the squash, in order.
LATER = {
    "cases": ["0019_staff_list_indexes_declared", "0020_references_indexed_where_set",
              "0021_case_number_without_pattern_index", "0022_identity_hashes_null_when_empty",
              "0023_timer_co_unit_indexed_where_set"],
    "notify": ["0009_dedupe_keys_without_pattern_indexes"],
}


def test_a_fresh_database_is_migrated_through_the_squashed_migrations() -> None:
    loader = MigrationLoader(connection)
    for app, name in SQUASHED.items():
        later = [(app, n) for n in LATER.get(app, [])]
        assert (app, name) in loader.applied_migrations
        assert all(key in loader.applied_migrations for key in later)
        assert loader.graph.leaf_nodes(app) == [later[-1] if later else (app, name)]
        replaced = loader.disk_migrations[app, name].replaces
        assert {key for key in loader.disk_migrations if key[0] == app} == {(app, name), *replaced, *later}


def test_the_staff_pages_indexes_exist_on_either_database() -> None:
    # 0014 made them in SQL and SQLite lost them in the rebuilds of 0015/0016 until 0019 declared them
    names = {"case_state_due", "case_compensation_status", "case_registered_by_state"}
    with connection.cursor() as cursor:
        assert names <= {i for i in connection.introspection.get_constraints(cursor, "cases_case")}


def test_references_a_new_case_lacks_are_indexed_only_where_set() -> None:
    """0020: the five partial indexes exist and the foreign keys' own indexes are gone, so an
    intake with none of these references writes no entry for them."""
    with connection.cursor() as cursor:
        indexes = connection.introspection.get_constraints(cursor, "cases_case")
    def alone(column: str) -> set[str]:
        """The indexes of `column` alone (the unique and primary keys aside)."""
        return {n for n, c in indexes.items() if c["index"] and not c["unique"] and c["columns"] == [column]}

    for name in ("category", "proposed_unit", "respondent_unit", "merged_into", "repeat_of"):
        assert alone(f"{name}_id") == {f"case_{name}"}
    assert alone("registered_by_id") == set()
    assert indexes["case_registered_by_state"]["columns"] == ["registered_by_id", "state"]


def test_text_looked_up_by_equality_has_one_index() -> None:
    """cases 0021 and notify 0009: a case number, the dedupe keys and a message's case number are
    only ever compared with `=`, so each has one index (its unique or its own), without
    PostgreSQL's second one for LIKE 'prefix%' (huiyin.db.without_pattern_indexes). An intake wrote
    entries in two of them, a notification's delivery in three."""
    columns = {"cases_case": ["number"], "notify_notice": ["dedupe_key"],
               "notify_message": ["dedupe_key", "case_number"], "notify_inboxitem": ["dedupe_key"]}
    with connection.cursor() as cursor:
        for table, names in columns.items():
            found = connection.introspection.get_constraints(cursor, table)
            for column in names:
                over = sorted(n for n, c in found.items() if (c["index"] or c["unique"]) and c["columns"] == [column])
                assert len(over) == 1, f"{table}.{column}: {over}"


# The slower checks: scratch databases migrated in subprocesses.

chains = pytest.mark.skipif(os.environ.get("HUIYIN_TEST_MIGRATION_CHAINS") != "1",
                            reason="HUIYIN_TEST_MIGRATION_CHAINS=1 runs the old chain against the squash")

# Applies the old chain of replaced migrations (the loader told not to use the squashed ones) up to
# the given targets (app.name), or to the old chain's end.
OLD_CHAIN = """
import sys
import django
django.setup()
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
executor = MigrationExecutor(connection)
executor.loader = MigrationLoader(connection, replace_migrations=False)
squashed = {key for key, migration in executor.loader.disk_migrations.items() if migration.replaces}
targets = [tuple(t.split(".", 1)) for t in sys.argv[1:]] or [
    key for key in executor.loader.graph.leaf_nodes() if key not in squashed]
plan = executor.migration_plan(targets)
assert not any((m.app_label, m.name) in squashed for m, _ in plan)
executor.migrate(targets, plan=plan)
"""


@pytest.fixture
def scratch() -> Iterator[list[str]]:
    """Database URLs for scratch databases on the suite's engine (each created empty on first use
    by `_url`), dropped at the end."""
    urls: list[str] = []
    yield urls
    for url in urls:
        if url.startswith("postgresql:"):
            _postgres_admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"')


def _url(scratch: list[str], tmp_path: Path, name: str) -> str:
    db = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        url = f"sqlite:///{tmp_path / name}.sqlite3"
    else:
        database = f"scratch_{name}_{uuid.uuid4().hex[:8]}"
        _postgres_admin(f'CREATE DATABASE "{database}"')
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        url = f"postgresql://{auth}@{db['HOST']}:{db['PORT']}/{database}"
    scratch.append(url)
    return url


def _postgres_admin(sql: str) -> None:
    import psycopg

    db = settings.DATABASES["default"]
    with psycopg.connect(dbname="postgres", user=db["USER"], password=db.get("PASSWORD") or None,
                         host=db["HOST"], port=db["PORT"], autocommit=True) as conn:
        conn.execute(sql)


def _run(url: str, tmp_path: Path, *args: str) -> str:
    env = {**os.environ, "HUIYIN_DATABASE_URL": url, "HUIYIN_VAR_DIR": str(tmp_path / "var"),
           "DJANGO_SETTINGS_MODULE": "huiyin.settings"}
    r = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def _manage(url: str, tmp_path: Path, *args: str) -> str:
    return _run(url, tmp_path, "-m", "django", *args)


def schema(url: str) -> list[str]:
    """The database's schema, one line per object, normalised (whitespace; SQLite: the columns of
    a table sorted, its other text as stored — see `column_order`)."""
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            rows = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master "
                              "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, tbl_name, name").fetchall()
        out = []
        for type_, name, table, sql in rows:
            sql = re.sub(r"\s*([(),])\s*", r"\1", re.sub(r"\s+", " ", sql or ""))
            if type_ == "table" and sql.startswith("CREATE TABLE"):
                head, _, body = sql.partition("(")
                sql = head + "(" + ",".join(sorted(_split_columns(body[:-1]))) + ")"
            out.append(f"{type_} {table} {name} {sql}")
        return out
    # the server's own pg_dump (as scripts/pg-start finds the server), else the one on PATH
    servers = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"),
                     key=lambda p: [int(x) for x in re.findall(r"\d+", p)])
    pg_dump = servers[-1] if servers else shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed to compare PostgreSQL schemas"
    dump = subprocess.run([pg_dump, "--schema-only", "--no-owner", "--no-privileges", url],
                          capture_output=True, text=True, check=True).stdout
    return [line for line in dump.splitlines()
            if line and not line.startswith(("--", "SET ", "SELECT pg_catalog", "\\restrict", "\\unrestrict"))]


def column_order(url: str) -> dict[str, list[str]]:
    """SQLite: each table's columns in their stored order."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: [r[1] for r in db.execute(f'PRAGMA table_info("{t}")')] for t in tables}


def _split_columns(body: str) -> list[str]:
    """A CREATE TABLE's column definitions, split at the commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(body):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    return [*parts, body[start:]]


@chains
def test_the_squashed_migrations_make_the_old_chains_schema(scratch: list[str], tmp_path: Path) -> None:
    old, new = _url(scratch, tmp_path, "old"), _url(scratch, tmp_path, "new")
    _run(old, tmp_path, "-c", OLD_CHAIN)
    _manage(new, tmp_path, "migrate", "--noinput", "-v0")
    assert schema(new) == schema(old)
    if old.startswith("sqlite:"):
        # The one difference on SQLite: the old chain rebuilt tables to change a column and the
        # rebuild put that column last (as Django's own auth_permission, whose order differs from
        # PostgreSQL's); the squash creates the columns in the old chain's PostgreSQL order.
        before, after = column_order(old), column_order(new)
        moved = sorted(t for t in before if before[t] != after[t])
        assert set(moved) <= {"cases_attachment", "cases_case", "cases_category", "notify_transportconfig",
                              "notify_webhook", "org_auditentry"}, moved


@chains
def test_a_database_halfway_through_the_old_chain_migrates_to_the_end(scratch: list[str], tmp_path: Path) -> None:
    half, fresh = _url(scratch, tmp_path, "half"), _url(scratch, tmp_path, "fresh")
    _run(half, tmp_path, "-c", OLD_CHAIN, "cases.0012_case_next_deadline")
    _manage(half, tmp_path, "migrate", "--noinput", "-v0")
    _manage(half, tmp_path, "migrate", "--check", "--noinput", "-v0")  # nothing left to apply
    listed = _manage(half, tmp_path, "showmigrations", "cases", "org", "notify", "policies", "reports", "text")
    assert "[ ]" not in listed
    _run(fresh, tmp_path, "-c", OLD_CHAIN)
    assert schema(half) == schema(fresh)
