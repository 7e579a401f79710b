"""After the bulk load (bench/dataset.py writes rows with SQL): fill what the application keeps
beside each case but the loader does not compute, so that the screen-pop (and anything else that
searches by identity or reads the case's deadline) finds what it would find in production:

- the keyed hashes of the complainant's phone, name and account (`<field>_hash`, cases.identity),
  computed in Python exactly as the application does (`identity.stored_hash`), once per distinct
  value (~300,000 phones at 1,000,000 cases), put into a scratch table with executemany and
  written with one UPDATE that reads it by primary key;
- `next_due_at` / `next_remind_at` of every open case from its open handling timers (what
  `cases.deadlines.refresh_case_deadline` keeps), in the same UPDATE, so every row is written once.

Called by the channels phase before the screen-pop is measured (`channels.screen_pop_child`);
rows that already have a phone hash (the demo's cases, made through the application) are left as
they are, so a second call finds nothing to do.
"""

from __future__ import annotations

import time
from typing import Any

FIELDS = ("complainant_phone", "complainant_name", "complainant_account")
BATCH = 5000


def fill() -> dict[str, Any]:
    from django.db import connection, transaction

    from huiyin.cases import identity
    from huiyin.cases.models import FINAL_STATES, Case, Timer
    from huiyin.policies.config import TIMER_CODES

    case_t, timer_t = Case._meta.db_table, Timer._meta.db_table
    pg = connection.vendor == "postgresql"
    todo = f"{identity.hash_column('complainant_phone')} IS NULL"
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        if pg:  # no deferred foreign-key checks pending when the indexes are built again
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        else:
            cur.execute("PRAGMA cache_size = -262144")  # 256 MB of page cache for the big UPDATE
        cur.execute(f"SELECT COUNT(*) FROM {case_t} WHERE {todo}")  # nosec B608 (our own table names)
        out["rows"] = cur.fetchone()[0]
        if not out["rows"]:
            return {**out, "seconds": 0.0}
        temp = "CREATE TEMPORARY TABLE bench_identity (f smallint, v text, h text, PRIMARY KEY (f, v))"
        cur.execute(temp + (" ON COMMIT DROP" if pg else ""))
        distinct = 0
        for i, field in enumerate(FIELDS):
            cur.execute(f"SELECT DISTINCT {field} FROM {case_t} WHERE {todo} AND {field} <> ''")  # nosec B608
            values = [r[0] for r in cur.fetchall()]
            distinct += len(values)
            out[f"distinct_{field.removeprefix('complainant_')}"] = len(values)
            opened = Case._meta.get_field(field).open  # type: ignore[attr-defined]  # clear text as it is
            rows = [(i, v, identity.stored_hash(field, opened(v))) for v in values]
            for start in range(0, len(rows), BATCH):
                cur.executemany("INSERT INTO bench_identity (f, v, h) VALUES (%s, %s, %s)", rows[start:start + BATCH])
        out["hashed_s"] = round(time.perf_counter() - t0, 2)
        sets = [f"{identity.hash_column(f)} = (SELECT h FROM bench_identity WHERE f = {i} AND v = {f})"  # NULL: none
                for i, f in enumerate(FIELDS)]
        final = ", ".join(f"'{s}'" for s in FINAL_STATES)
        codes = ", ".join(f"'{c}'" for c in TIMER_CODES)
        timer = (f"FROM {timer_t} t WHERE t.case_id = {case_t}.id AND t.stopped_at IS NULL AND t.co_unit_id IS NULL "
                 f"AND t.state <> 'paused' AND t.code IN ({codes}) ORDER BY t.due_at LIMIT 1")
        sets += [f"next_due_at = CASE WHEN state IN ({final}) THEN NULL ELSE (SELECT t.due_at {timer}) END",
                 f"next_remind_at = CASE WHEN state IN ({final}) THEN NULL ELSE (SELECT t.remind_at {timer}) END"]
        # The indexes on the columns written are dropped and built again after (sorting 1,000,000
        # keys once is far cheaper than 1,000,000 random inserts into each index). PostgreSQL
        # writes a new version of every row, with an entry in every index: there, all of the
        # table's plain indexes.
        indexes = _indexes_on(cur, case_t, None if pg else [identity.hash_column(f) for f in FIELDS] + [
            "next_due_at", "next_remind_at"])
        for name, _ in indexes:
            cur.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
        t1 = time.perf_counter()
        cur.execute(f"UPDATE {case_t} SET {', '.join(sets)} WHERE {todo}")  # nosec B608 (no user input)
        out["updated"] = cur.rowcount
        out["update_s"] = round(time.perf_counter() - t1, 1)
        t1 = time.perf_counter()
        for _, definition in indexes:
            cur.execute(definition)
        out["indexes"] = [name for name, _ in indexes]
        out["index_s"] = round(time.perf_counter() - t1, 1)
        if not pg:
            cur.execute("DROP TABLE bench_identity")
    if pg:
        with connection.cursor() as cur:
            cur.execute(f"ANALYZE {case_t}")  # nosec B608
    cur_open = Case.objects.exclude(state__in=FINAL_STATES)
    out["open_with_deadline"] = cur_open.filter(next_due_at__isnull=False).count()
    out["open"] = cur_open.count()
    out["distinct"] = distinct
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _indexes_on(cur: Any, table: str, columns: list[str] | None) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the table's plain (not unique) indexes that cover one of
    `columns` (all of them for None)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        cur.execute("SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname "
                    "JOIN pg_index x ON x.indexrelid = c.oid WHERE i.tablename = %s AND NOT x.indisunique", [table])
    else:
        cur.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL "
                    "AND sql NOT LIKE 'CREATE UNIQUE%%'", [table])
    return [(name, sql) for name, sql in cur.fetchall()
            if columns is None or any(f'"{c}"' in sql or f" {c}" in sql or f"({c}" in sql for c in columns)]
