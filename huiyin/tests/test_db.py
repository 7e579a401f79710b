"""huiyin.db.insert_one and insert_rows: the lean INSERTs (and on PostgreSQL the COPY) that the
intake and the scheduler write their rows with store what save() stores."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from django.db import IntegrityError, transaction
from hypothesis import given
from hypothesis import strategies as st

from huiyin.db import COPY_FROM, _json_text, checkpoint, insert_one, insert_rows, insert_values
from huiyin.notify.models import Event, Notice

pytestmark = pytest.mark.django_db


def _notice(key: str) -> Notice:
    return Notice(event="case.created", case_number="TS20260101-000001", dedupe_key=key,
                  context={"subject": "配送延误", "when": datetime(2026, 1, 1, 8, 30, tzinfo=UTC)},
                  recipients=[1, 2], transports={"1": ["email"]})


def test_insert_one_stores_what_save_stores() -> None:
    saved, lean = _notice("a"), _notice("b")
    saved.save()
    assert insert_one(lean) is True
    assert lean.pk is not None and lean.pk != saved.pk and not lean._state.adding
    columns = [f.attname for f in Notice._meta.concrete_fields if f.attname not in ("id", "dedupe_key", "created_at")]
    rows = {n.dedupe_key: n for n in Notice.objects.filter(pk__in=[saved.pk, lean.pk])}
    assert [getattr(rows["b"], c) for c in columns] == [getattr(rows["a"], c) for c in columns]
    assert rows["b"].created_at == lean.created_at  # the field default, as the instance had it


def test_insert_one_writes_the_values_computed_before_as_save_would() -> None:
    # The intake computes its case's values before its transaction (workflow.register_prepare)
    saved, lean = _notice("a"), _notice("b")
    saved.save()
    values = insert_values(lean)
    assert Notice.objects.count() == 1  # computing them writes nothing
    assert insert_one(lean, values=values) is True
    columns = [f.attname for f in Notice._meta.concrete_fields if f.attname not in ("id", "dedupe_key", "created_at")]
    rows = {n.dedupe_key: n for n in Notice.objects.filter(pk__in=[saved.pk, lean.pk])}
    assert [getattr(rows["b"], c) for c in columns] == [getattr(rows["a"], c) for c in columns]
    with pytest.raises(ValueError, match="values for"):  # values of another model: refused, nothing written
        insert_one(_notice("c"), values=values[:-1])
    assert not Notice.objects.filter(dedupe_key="c").exists()


@given(st.one_of(st.text(max_size=20), st.integers(-5, 5), st.none(), st.sampled_from(list(Event))))
def test_a_text_columns_value_is_prepared_as_django_prepares_it(value: object) -> None:
    """`insert_values` takes the strings of plain CharField/TextField columns as they are (a
    string subclass such as a choices member included) and prepares anything else as Django does:
    the same values as each field's own `get_db_prep_save`."""
    from django.db import connection

    notice = _notice("p")
    notice.case_number = value  # type: ignore[assignment]
    notice.event = value  # type: ignore[assignment]
    fields = [f for f in Notice._meta.concrete_fields if not f.primary_key]
    expected = [f.get_db_prep_save(f.pre_save(notice, True), connection) for f in fields]
    got = insert_values(notice)

    def plain(v: object) -> object:  # psycopg's Jsonb wrapper has no equality of its own
        return getattr(v, "obj", v)

    assert [plain(v) for v in got] == [plain(v) for v in expected]
    assert [type(v) for v in got] == [type(v) for v in expected]


def test_insert_one_skips_a_conflict_when_asked() -> None:
    assert insert_one(_notice("same")) is True
    again = _notice("same")
    assert insert_one(again, ignore_conflicts=True) is False
    assert again._state.adding and Notice.objects.filter(dedupe_key="same").count() == 1
    with pytest.raises(ValueError, match="new rows only"):
        insert_one(Notice.objects.get(dedupe_key="same"))


# What a value may hold that COPY's text format must escape: tabs, new lines, backslashes, \N.
_AWKWARD = "配送延误\t第二列\n第二行 \\N 反斜杠\\ \"引号\" 'x'"
_FIELDS = ("event", "case_number", "context", "recipients", "addresses", "transports", "urgent",
           "dedupe_key", "created_at", "fanned_out_at")


def _row(key: str) -> list[object]:
    n = _notice(key)
    n.context = {**n.context, "subject": _AWKWARD, "none": None}
    n.case_number = _AWKWARD[:40]
    n.created_at = datetime(2026, 3, 1, 23, 59, 59, 123456, tzinfo=UTC)
    return [getattr(n, f) for f in _FIELDS]


@pytest.mark.parametrize("count", [3, COPY_FROM])  # on PostgreSQL: one INSERT, then COPY
def test_insert_rows_stores_what_save_stores(count: int) -> None:
    saved = Notice(**dict(zip(_FIELDS, _row("saved"), strict=True)))
    saved.save()
    assert insert_rows(Notice, _FIELDS, [_row(f"k{i}") for i in range(count)]) == count
    columns = [f.attname for f in Notice._meta.concrete_fields if f.attname not in ("id", "dedupe_key")]
    expected = [getattr(Notice.objects.get(pk=saved.pk), c) for c in columns]
    stored = Notice.objects.exclude(pk=saved.pk).order_by("dedupe_key")
    assert stored.count() == count
    for notice in stored:
        assert [getattr(notice, c) for c in columns] == expected
    assert Notice.objects.filter(context__subject=_AWKWARD).count() == count + 1  # the JSON is JSON


@pytest.mark.parametrize("count", [3, COPY_FROM])
def test_insert_rows_skips_taken_keys_only_when_asked(count: int) -> None:
    insert_one(_notice("k1"))
    rows = [_row(f"k{i}") for i in range(count)]
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(Notice, _FIELDS, rows)
    assert Notice.objects.count() == 1  # nothing of the refused rows was written
    assert insert_rows(Notice, _FIELDS, rows, ignore_conflicts=True) == count - 1
    assert Notice.objects.count() == count
    assert Notice.objects.get(dedupe_key="k1").context["subject"] == "配送延误"  # the first one kept


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                     max_leaves=8)


@given(_JSON)
def test_the_bulk_writes_json_text_is_the_encoders(value: object) -> None:
    encode = json.JSONEncoder().encode
    assert _json_text(encode)(value) == (None if value is None else encode(value))


def test_the_planner_statistics_are_sqlites_to_refresh_and_postgresqls_own() -> None:
    from django.db import connection

    from huiyin.db import refresh_statistics

    insert_one(_notice("k"))
    analysed = refresh_statistics()
    if connection.vendor != "sqlite":
        assert analysed == 0  # autovacuum analyses PostgreSQL's tables
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'")
        assert analysed == cursor.fetchone()[0]
        cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'notify_notice'")
        stats = cursor.fetchall()
    assert stats and all(stat.split()[0] == "1" for (stat,) in stats)  # each index: the table's one row


@pytest.mark.parametrize("count", [3, COPY_FROM + 20])  # the fan-out's messages: UUIDs, choices, JSON
def test_insert_objects_writes_messages_as_save_does_and_skips_their_taken_keys(count: int) -> None:
    from huiyin.db import insert_objects
    from huiyin.notify.models import Message

    notice = _notice("n")
    notice.save()

    def message(i: int) -> Message:
        return Message(event="case.created", case_number="TS20260101-000001", transport="email",
                       address=f"u{i}@example.cn", notice=notice, dedupe_key=f"m{i}", urgent=True,
                       extra={"mentions": ["张三"], "at": datetime(2026, 1, 1, 8, 30, tzinfo=UTC)})

    first = message(0)
    first.save()
    batch = [message(i) for i in range(count)]  # m0 is taken: skipped, the others written
    assert insert_objects(batch, ignore_conflicts=True) == count - 1
    stored = {m.dedupe_key: m for m in Message.objects.all()}
    assert len(stored) == count and stored["m0"].delivery_id == first.delivery_id
    for m in batch[1:]:
        row = stored[m.dedupe_key]
        assert (row.delivery_id, row.address, row.extra, row.created_at) == (
            m.delivery_id, m.address, {"mentions": ["张三"], "at": "2026-01-01T08:30:00Z"}, m.created_at)


_MOMENTS = st.one_of(
    st.none(), st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),  # naive: Django's warning and zone
    st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))
_NUMBERS = st.one_of(st.none(), st.integers(0, 30000), st.booleans(), st.sampled_from(["7", 3.0]))


@given(occurred_at=_MOMENTS, round_=_NUMBERS, anonymous=st.one_of(st.none(), st.booleans(), st.sampled_from([0, 1])),
       amount=st.one_of(st.none(), st.decimals(0, 10**6, places=2), st.integers(0, 99), st.just("12.50")),
       category_id=_NUMBERS, subject=st.one_of(st.text(max_size=5), st.none(), st.integers(0, 9)),
       flags=st.one_of(st.none(), st.just("text"), st.lists(st.text(max_size=3), max_size=3),
                       st.lists(st.integers(0, 9), max_size=3), st.lists(st.booleans(), max_size=2),
                       st.dictionaries(st.text(max_size=2), st.one_of(st.integers(), st.text(max_size=2)), max_size=2)))
def test_the_lean_insert_prepares_every_kind_of_value_as_django_prepares_it(
        occurred_at: object, round_: object, anonymous: object, amount: object, category_id: object,
        subject: object, flags: object) -> None:
    """`insert_values` takes None, plain ints and bools, strings, aware datetimes and JSON the short way
    (`huiyin.db._Way`) and anything else through the field: either way, each value is the one
    the field's own `get_db_prep_save` gives, of the same type, on either database."""
    import warnings

    from django.db import connection

    from huiyin.cases.models import Case

    case = Case(number="TS20260101-000001", kind="complaint", subject="s", received_at=datetime(2026, 1, 1, tzinfo=UTC))
    case.occurred_at, case.round, case.anonymous = occurred_at, round_, anonymous  # type: ignore[assignment]
    case.amount, case.category_id, case.subject = amount, category_id, subject  # type: ignore[assignment]
    case.flags = flags
    fields = [f for f in Case._meta.concrete_fields if not f.primary_key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a naive datetime, made aware either way
        got = insert_values(case)
        expected = [f.get_db_prep_save(f.pre_save(case, True), connection) for f in fields]
    moving = {i for i, f in enumerate(fields) if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)}

    def plain(v: object) -> object:  # psycopg's Jsonb wrapper has no equality of its own
        return getattr(v, "obj", v)

    assert ([plain(v) for i, v in enumerate(got) if i not in moving]
            == [plain(v) for i, v in enumerate(expected) if i not in moving])
    assert [type(v) for v in got] == [type(v) for v in expected]


def _in_the_file(key: str) -> int:
    """The notices of `dedupe_key` in the SQLite database file alone, without its WAL."""
    import sqlite3

    from django.db import connection

    alone = sqlite3.connect(f"file:{connection.settings_dict['NAME']}?immutable=1", uri=True)
    try:
        return alone.execute("SELECT count(*) FROM notify_notice WHERE dedupe_key = ?", [key]).fetchone()[0]
    finally:
        alone.close()


@pytest.mark.django_db(transaction=True)
def test_the_worker_checkpoints_sqlites_wal_so_that_the_requests_need_not() -> None:
    """A committed row stays in SQLite's WAL until a checkpoint copies it into the database file.
    The web requests checkpoint only past 10,000 pages (settings); every pass of the worker does."""

    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "sqlite":
        assert checkpoint() == 0  # PostgreSQL checkpoints itself
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 10000
    assert insert_one(_notice("in-the-wal"))  # committed (autocommit): in the WAL
    assert _in_the_file("in-the-wal") == 0
    call_command("worker", "--once")
    assert _in_the_file("in-the-wal") == 1
    assert checkpoint() > 0  # the WAL's pages, all in the file now


@pytest.mark.django_db(transaction=True)
def test_the_workers_keeper_checkpoints_every_second_between_its_passes() -> None:
    """`keep_wal_short` (a thread of `huiyin worker` on SQLite) copies what was committed into the
    database file within its period, on its own connection, until it is told to stop."""
    import threading
    import time

    from django.db import connection

    from huiyin.db import keep_wal_short

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL checkpoints itself")
    stop = threading.Event()
    keeper = threading.Thread(target=keep_wal_short, args=(stop,), kwargs={"every": 0.05}, daemon=True)
    keeper.start()
    try:
        for key in ("first", "second"):  # each committed row reaches the file, the second after the first
            assert insert_one(_notice(key))
            deadline = time.monotonic() + 20
            while not _in_the_file(key):
                assert time.monotonic() < deadline, f"row {key!r} still only in the WAL"
                stop.wait(0.05)
    finally:
        stop.set()
        keeper.join(timeout=20)
    assert not keeper.is_alive()


@pytest.mark.parametrize("every", ["0.001", "-1", "nan", "inf", "86400"])
def test_the_worker_refuses_a_checkpoint_period_that_would_spin_or_never_come(every: str) -> None:
    from django.core.management import CommandError, call_command

    assert insert_one(_notice("waiting"))
    with pytest.raises(CommandError, match="--checkpoint-every"):
        call_command("worker", "--once", "--checkpoint-every", every)
    assert Notice.objects.get(dedupe_key="waiting").fanned_out_at is None  # no pass ran


def test_postgresql_caches_the_parse_of_the_intakes_long_insert() -> None:
    """psycopg caches a statement's parse only up to 50 parameters by default; the case's lean
    INSERT has ~90. The limit is raised when the first PostgreSQL connection opens (huiyin.db),
    so a process on SQLite never imports psycopg for it."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("psycopg's cache: PostgreSQL only")
    from psycopg import _queries

    from huiyin.db import STATEMENT_CACHE_PARAMS

    connection.ensure_connection()
    assert _queries.MAX_CACHED_STATEMENT_PARAMS >= STATEMENT_CACHE_PARAMS
