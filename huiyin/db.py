"""Database helpers for the background work that writes a lot while requests are served.

`insert_rows`: a fast bulk INSERT of plain rows, for the few paths that write thousands of
rows at once. The scheduler's pass over 10,000 due timers appends 10,000 timeline events and
writes 10,000 notices. Django's `bulk_create` sends every value through its field's machinery
(pre_save, get_db_prep_save, placeholders), about 60 µs a row on SQLite — more than the
database takes to store it. `insert_rows` adapts only the values that need it (datetimes,
JSON) with the backend's own adapters and sends multi-row INSERTs, several times faster.
On PostgreSQL the rows travel as one JSON document, turned into rows by the server
(`INSERT … SELECT … FROM json_to_recordset(%s)`): one parameter for psycopg to pass instead
of one per value, which is where most of the time went; from `COPY_FROM` rows with COPY.
It is `bulk_create` without the model: no signals, no field defaults, no primary keys set on
anything. Give a value for every column that has no database default. Use it where the rows
are many and simple; everywhere else, use the ORM.

`insert_objects` does the same for unsaved model instances.

`insert_one`: one unsaved instance, lean, with its new primary key — what `Model.save()` does
for a new row (field defaults, `pre_save` such as auto_now and sealing, `get_db_prep_save`)
without compiling a query each time: the statement is built once per model. The intake writes
its case, timer, event and notice this way (issue 9: a new case's Python was the cost).

`Columns`: one model's columns in a hand-written SELECT that joins several models, and its
rows turned back into instances as the ORM would (the backend's and the fields' converters,
`Model.from_db`). The API's token check reads the token, its user and the user's roles in one
statement this way.

`give_way`: the pause a worker takes after each of its write transactions, so that requests
waiting for SQLite's single write lock get it (see its docstring).
"""

from __future__ import annotations

import enum
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache, partial
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connections, models, router, transaction
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.backends.signals import connection_created
from django.db.models.constants import OnConflict

log = logging.getLogger("huiyin.db")

_PREPARED = (models.UUIDField, models.DecimalField, models.DateField, models.TimeField, models.DurationField,
             models.GenericIPAddressField, models.BinaryField)


def insert_objects(objs: Sequence[models.Model], *, ignore_conflicts: bool = False) -> int:
    """`insert_rows` for unsaved model instances of one model (their field defaults applied
    when they were built): every concrete field but an unset primary key."""
    if not objs:
        return 0
    model = type(objs[0])
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and getattr(objs[0], f.attname) is None)]
    return insert_rows(model, [f.name for f in fields], [[getattr(o, f.attname) for f in fields] for o in objs],
                       ignore_conflicts=ignore_conflicts)


_ONE_SQL: dict[tuple[str, type[models.Model], bool], tuple[str, list[models.Field[Any, Any]]]] = {}


class _Way(enum.IntEnum):
    """How `_prepared` turns a field's value into what `Model.save()` would write."""

    FIELD = 0  # the field's own `pre_save` and `get_db_prep_save` (every field may take this way)
    TEXT = 1  # CharField or TextField itself: a str (a choice's member too) as it is, as Django's
    #           preparation returns it
    INTEGER = 2  # an integer column, or a key to an integer primary key: None, or an int as it is
    BOOLEAN = 3  # BooleanField: None, or a bool as it is
    MOMENT = 4  # a DateTimeField the code sets (not auto_now): None, or an aware datetime through the
    #             backend's adapter (where get_db_prep_save ends)
    NULL = 5  # a DecimalField or DateField: None as it is
    JSON = 6  # JSONField itself: None, or a dict or list through the backend's JSON adapter with one
    #           encoder for every row (`_json_adapter`: what get_db_prep_save ends in, without a new
    #           encoder each time)


# The fields' own way costs ~2 µs a None and ~6 µs a datetime: a new case has ~90 columns, most of
# them None, a default or a number, and the intake writes five rows (issue 9). Only the field
# classes themselves take a shortcut: a subclass may prepare its values (sealed, e-mail …).
_AS_IS = (models.CharField, models.TextField)
_INTEGERS = (models.IntegerField, models.SmallIntegerField, models.BigIntegerField, models.PositiveIntegerField,
             models.PositiveSmallIntegerField, models.PositiveBigIntegerField, models.AutoField, models.BigAutoField)
_MISSING = object()
type _Plan = list[tuple[models.Field[Any, Any], str, _Way, Callable[[Any], Any] | None]]
_PLAN: dict[tuple[str, type[models.Model]], _Plan] = {}


def _way(field: models.Field[Any, Any], ops: BaseDatabaseOperations) -> _Way:
    kind = type(field)
    if kind in _AS_IS:
        return _Way.TEXT
    if type(ops).adapt_integerfield_value is BaseDatabaseOperations.adapt_integerfield_value and (
            kind in _INTEGERS or (isinstance(field, models.ForeignKey) and kind is models.ForeignKey
                                  and type(field.target_field) in _INTEGERS)):
        return _Way.INTEGER
    if kind is models.BooleanField:
        return _Way.BOOLEAN
    if kind in (models.DateTimeField, models.DateField) and (field.auto_now or field.auto_now_add):  # type: ignore[attr-defined]
        return _Way.FIELD
    if kind is models.DateTimeField:
        return _Way.MOMENT
    if kind in (models.DecimalField, models.DateField):
        return _Way.NULL
    if kind is models.JSONField:
        return _Way.JSON
    return _Way.FIELD


def _plan(model: type[models.Model], connection: Any) -> _Plan:
    """Each column `insert_one` writes (`_columns`) with its attribute, its `_Way` and that way's
    adapter (datetimes, JSON)."""
    key = (connection.vendor, model)
    plan = _PLAN.get(key)
    if plan is None:
        ops = connection.ops
        plan = []
        for f in _columns(model):
            way = _way(f, ops)
            adapt = (ops.adapt_datetimefield_value if way is _Way.MOMENT
                     else _json_adapter(ops, f.encoder) if way is _Way.JSON else None)  # type: ignore[attr-defined]
            plan.append((f, f.attname, way, adapt))
        _PLAN[key] = plan
    return plan


def _prepared(obj: models.Model, connection: Any) -> list[Any]:
    """Each field's value of `obj` as `Model.save()` would write it (its `pre_save`, then its
    database preparation), with the values whose preparation changes nothing taken as they are
    (`_Way`): the strings of plain text columns, None, plain ints and bools, and aware datetimes
    and JSON through the backend's adapter alone. huiyin/tests/test_db.py checks the result
    against the fields' own preparation."""
    out: list[Any] = []
    values = obj.__dict__
    for f, attname, way, adapt in _plan(type(obj), connection):
        if way:
            value = values.get(attname, _MISSING)
            if value is None and way is not _Way.TEXT:
                out.append(None)
                continue
            kind = type(value)
            if ((way is _Way.TEXT and isinstance(value, str)) or (way is _Way.INTEGER and kind is int)
                    or (way is _Way.BOOLEAN and kind is bool)):
                out.append(value)
                continue
            if adapt is not None and ((way is _Way.MOMENT and kind is datetime and value.tzinfo is not None)
                                      or (way is _Way.JSON and (kind is dict or kind is list))):
                out.append(adapt(value))
                continue
        out.append(f.get_db_prep_save(f.pre_save(obj, True), connection))
    return out


@cache
def _columns(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The columns `insert_one` writes: every concrete field but a primary key the database
    numbers (an AutoField); a primary key that is another row's (a OneToOneField) is written."""
    opts = model._meta
    return [f for f in opts.concrete_fields if not (f.primary_key and f is opts.auto_field)]


def _insert_one_sql(model: type[models.Model], connection: Any,
                    ignore_conflicts: bool) -> tuple[str, list[models.Field[Any, Any]]]:
    key = (connection.vendor, model, ignore_conflicts)
    cached = _ONE_SQL.get(key)
    if cached is None:
        opts, ops = model._meta, connection.ops
        fields = _columns(model)
        columns = ", ".join(ops.quote_name(f.column) for f in fields if f.column)
        on_conflict = OnConflict.IGNORE if ignore_conflicts else None
        tail = ops.on_conflict_suffix_sql(fields, on_conflict, None, None)
        pk_column = opts.pk.column or "id"
        sql = (f"{ops.insert_statement(on_conflict=on_conflict)} {ops.quote_name(opts.db_table)} ({columns}) "
               f"VALUES ({', '.join(['%s'] * len(fields))}){' ' + tail if tail else ''} "
               f"RETURNING {ops.quote_name(pk_column)}")
        cached = _ONE_SQL[key] = (sql, fields)
    return cached


def insert_values(obj: models.Model) -> list[Any]:
    """The values `insert_one` would write for `obj`, computed now (each field's `pre_save` and
    database preparation: encryption, JSON, dates). Hand them to `insert_one(obj, values=…)`
    to do that work before a transaction rather than while it holds a lock. `obj` must not
    change in between."""
    return _prepared(obj, connections[router.db_for_write(type(obj))])


@cache
def insert_position(model: type[models.Model], attname: str) -> int:
    """Where field `attname` of `model` sits in the values of `insert_values` (e.g. to put in a
    value known only once the transaction has begun)."""
    return [f.attname for f in _columns(model)].index(attname)


def insert_one(obj: models.Model, *, ignore_conflicts: bool = False, values: list[Any] | None = None) -> bool:
    """INSERT one unsaved instance as `obj.save()` would (every concrete field but a primary key
    the database numbers, after each field's `pre_save`), set its primary key and mark it saved. No
    signals (none of the models written this way has a receiver). `ignore_conflicts`: a row
    that breaks a unique constraint is skipped (ON CONFLICT DO NOTHING) and False returned.
    `values`: what `insert_values(obj)` returned for it (computed earlier, e.g. before a lock)."""
    model = type(obj)
    connection = connections[router.db_for_write(model)]
    sql, fields = _insert_one_sql(model, connection, ignore_conflicts)
    numbered = model._meta.pk is model._meta.auto_field
    if numbered and obj.pk is not None:
        raise ValueError("insert_one writes new rows only (the primary key is set by the database)")
    if not numbered and obj.pk is None:
        raise ValueError(f"insert_one: {model.__name__}'s primary key is not numbered by the database: set it")
    if values is not None and len(values) != len(fields):
        raise ValueError(f"insert_one: {len(values)} values for {len(fields)} columns of {model.__name__}")
    params = values if values is not None else _prepared(obj, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return True


class Columns:
    """The concrete columns of `model` under the table alias `alias` in a raw SELECT, and the
    instance made from them. Build one per model and alias once (e.g. at module level); the
    converters are looked up on first use, per database connection's vendor."""

    def __init__(self, model: type[models.Model], alias: str) -> None:
        self.model, self.alias = model, alias
        self.fields = list(model._meta.concrete_fields)
        self.names = [f.attname for f in self.fields]
        self._converters: dict[str, list[tuple[int, list[Any], Any]]] = {}

    def __len__(self) -> int:
        return len(self.fields)

    def sql(self, connection: Any) -> str:
        """`alias."col1", alias."col2", …` for the SELECT list."""
        return ", ".join(f"{self.alias}.{connection.ops.quote_name(f.column)}" for f in self.fields)

    def instance(self, connection: Any, values: Sequence[Any]) -> models.Model:
        """The instance of the values of these columns (in `sql`'s order), as a queryset
        would make it: each value converted from what the database driver returned."""
        converters = self._converters.get(connection.vendor)
        if converters is None:
            converters = []
            for i, f in enumerate(self.fields):
                col = f.get_col(self.alias)
                convs = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
                if convs:
                    converters.append((i, convs, col))
            self._converters[connection.vendor] = converters
        row = list(values)
        for i, convs, col in converters:
            for convert in convs:
                row[i] = convert(row[i], col, connection)
        return self.model.from_db(connection.alias, self.names, row)


def _adapt_json(ops: Any, encoder: Any, value: Any) -> Any:
    return None if value is None else ops.adapt_json_value(value, encoder)


def _json_adapter(ops: Any, encoder: Any) -> Callable[[Any], Any]:
    """The JSON column's adapter. Django's (`json.dumps(value, cls=encoder)`) builds an encoder
    per value — ~20 µs, four JSON columns a notice: one encoder, the same text."""
    if type(ops).adapt_json_value is not BaseDatabaseOperations.adapt_json_value:
        return partial(_adapt_json, ops, encoder)
    return _json_text((encoder or json.JSONEncoder)().encode)


_INTS = frozenset((int,))


def _json_text(encode: Callable[[Any], str]) -> Callable[[Any], str | None]:
    """`encode`, but the values most JSON columns of a bulk write hold (a notice's recipients,
    addresses and transports: an empty list or object, a few user ids) written without a call
    into the encoder (its call costs more than its work there), as the encoder writes them."""

    def text(value: Any) -> str | None:
        kind = type(value)
        if value is None:
            return None
        if kind is list:
            if not value:
                return "[]"
            if _INTS.issuperset(map(type, value)):  # exact type: not a bool
                return "[" + ", ".join(map(str, value)) + "]"
        elif kind is dict and not value:
            return "{}"
        return encode(value)
    return text


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence[Any]], *,
                ignore_conflicts: bool = False) -> int:
    """INSERT `rows` (tuples of plain values, in the order of `fields`) into `model`'s table;
    return how many were inserted. `ignore_conflicts`: rows that break a unique constraint
    are skipped (ON CONFLICT DO NOTHING), as with `bulk_create(ignore_conflicts=True)`."""
    if not rows:
        return 0
    connection = connections[router.db_for_write(model)]
    ops = connection.ops
    opts = model._meta
    columns: list[models.Field[Any, Any]] = []
    for name in fields:
        column = opts.get_field(name)
        assert isinstance(column, models.Field)
        columns.append(column)
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    names = ", ".join(ops.quote_name(f.column) for f in columns if f.column)
    head = f"{ops.insert_statement(on_conflict=on_conflict)} {ops.quote_name(opts.db_table)} ({names}) "
    tail = ops.on_conflict_suffix_sql(columns, on_conflict, None, None)
    tail = " " + tail if tail else ""
    if connection.vendor == "postgresql":
        if len(rows) >= COPY_FROM:
            if not ignore_conflicts:
                return _copy_postgresql(connection, opts.db_table, columns, rows)
            # COPY cannot skip a conflict: tried first in a savepoint (a conflict is rare: the
            # notices of a scheduler pass are new), and on one, the INSERT that skips it.
            try:
                with transaction.atomic(using=connection.alias):
                    return _copy_postgresql(connection, opts.db_table, columns, rows)
            except IntegrityError:
                pass
        return _insert_postgresql(connection, head, tail, columns, rows)
    adapters: list[Callable[[Any], Any] | None] = []
    for field in columns:
        if isinstance(field, models.JSONField):
            adapters.append(_json_adapter(ops, field.encoder))
        elif isinstance(field, models.DateTimeField):  # once per moment: a batch's rows share theirs
            adapters.append(cache(ops.adapt_datetimefield_value))
        elif isinstance(field, _PREPARED):  # stored differently from their Python value (UUID as hex …)
            adapters.append(partial(field.get_db_prep_save, connection=connection))
        else:  # text, numbers, booleans, foreign keys: as they are
            adapters.append(None)
    inserted = 0
    with connection.cursor() as cursor:
        row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
        size = max(1, min(500, (connection.features.max_query_params or 32766) // len(columns)))
        for start in range(0, len(rows), size):
            chunk = rows[start:start + size]
            params = [v if adapt is None else adapt(v) for row in chunk for v, adapt in zip(row, adapters, strict=True)]
            cursor.execute(head + "VALUES " + ", ".join([row_sql] * len(chunk)) + tail, params)
            inserted += cursor.rowcount
    return inserted


# On PostgreSQL, `insert_rows` sends this many rows or more with COPY (with `ignore_conflicts`,
# COPY is tried in a savepoint, and if a row conflicts, the INSERT … ON CONFLICT DO NOTHING is
# sent instead). The server parses COPY's text straight into each column's type; through
# `json_to_recordset` a JSON column is parsed twice (the document, then each value into jsonb).
# Below it the one INSERT … SELECT costs about the same in one round trip instead of two.
COPY_FROM = 100


def _encoder_of(columns: list[Any]) -> type[json.JSONEncoder]:
    """The JSON encoder of the rows' JSON columns on PostgreSQL (the first JSON column's, else
    Django's): one for every value, in COPY and in `json_to_recordset`'s document alike."""
    encoders = (f.encoder for f in columns if isinstance(f, models.JSONField) and f.encoder is not None)
    return next(encoders, None) or DjangoJSONEncoder


def _copy_postgresql(connection: Any, table: str, columns: list[Any], rows: Sequence[Sequence[Any]]) -> int:
    """The rows with `COPY … FROM STDIN` (text format): psycopg writes each value with its own
    dumper (text, numbers, booleans, datetimes with their offset, UUIDs …); a JSON column's value
    goes as its JSON text, encoded with the field's encoder as `json_to_recordset`'s document is."""
    qn = connection.ops.quote_name
    encode = _json_text(_encoder_of(columns)(ensure_ascii=False).encode)
    is_json = [isinstance(f, models.JSONField) for f in columns]
    plain = not any(is_json)
    sql = f"COPY {qn(table)} ({', '.join(qn(f.column) for f in columns)}) FROM STDIN"
    # Django's cursor does not wrap COPY's errors: `wrap_database_errors` makes psycopg's
    # IntegrityError (a unique key taken) Django's, as an INSERT's would be.
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        write = copy.write_row
        for row in rows:
            write(row if plain else [encode(v) if j else v for v, j in zip(row, is_json, strict=True)])
    return len(rows)


def _insert_postgresql(connection: Any, head: str, tail: str, columns: list[Any], rows: Sequence[Sequence[Any]]) -> int:
    """The rows as one JSON document, typed column by column by `json_to_recordset`."""
    names = [f"c{i}" for i in range(len(columns))]
    types = ", ".join(f"{n} {f.db_type(connection)}" for n, f in zip(names, columns, strict=True))
    select = f"SELECT {', '.join(names)} FROM json_to_recordset(%s::json) AS r({types})"  # noqa: S608  # nosec B608 (identifiers from the model, values bound)
    encoder = _encoder_of(columns)
    inserted = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            chunk = rows[start:start + 5000]
            # datetimes as ISO text (the server reads them with their offset); JSON values nest as they are
            document = json.dumps([
                {n: (v.isoformat() if isinstance(v, datetime) else v) for n, v in zip(names, row, strict=True)}
                for row in chunk
            ], cls=encoder, ensure_ascii=False)
            cursor.execute(head + select + tail, [document])
            inserted += cursor.rowcount
    return inserted


def pk_in(model: type[models.Model], ids: Sequence[int], *, column: str = "") -> Any:
    """A filter for `model.objects.filter(…)`: the column (the primary key by default) is one of
    `ids` (integers). On PostgreSQL `= ANY(%s)` with the ids as one array parameter: `pk__in`
    sends one parameter per id, which Django prepares one by one and psycopg parses again for
    every call above STATEMENT_CACHE_PARAMS (a batch of 200 ids cost ~2 ms a query that way).
    Elsewhere `IN (%s, …)` with the ids bound as they are (Django's `__in` prepares each one:
    ~3 ms for 200 on SQLite; keep `ids` under SQLite's 32,766 parameters)."""
    from django.db.models.expressions import RawSQL

    opts = model._meta
    field = opts.get_field(column) if column else opts.pk
    assert isinstance(field, models.Field)
    if not ids:
        return models.Q(pk__in=[])
    connection = connections[router.db_for_read(model)]
    qn = connection.ops.quote_name
    name = f"{qn(opts.db_table)}.{qn(str(field.column))}"
    params: tuple[Any, ...]
    if connection.vendor == "postgresql":
        sql, params = f"{name} = ANY(%s)", (list(ids),)
    else:
        sql, params = f"{name} IN ({', '.join(['%s'] * len(ids))})", tuple(int(i) for i in ids)
    return RawSQL(sql, params, output_field=models.BooleanField())  # noqa: S611  # nosec B611 (identifiers from the model, values bound)


# psycopg keeps the parsed form of a statement (where its placeholders are) in an LRU cache,
# but only for statements of at most 50 parameters: the case's lean INSERT has 90, and parsing
# it again cost ~0.4 ms of every intake on PostgreSQL. The cache stays bounded as before (128
# statements of at most 4 KiB); only statements of up to 120 parameters now enter it.
STATEMENT_CACHE_PARAMS = 120


# Set when the first PostgreSQL connection opens, so that a process on SQLite never imports psycopg.
def _cache_long_statements(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor != "postgresql":
        return
    from psycopg import _queries

    if getattr(_queries, "MAX_CACHED_STATEMENT_PARAMS", STATEMENT_CACHE_PARAMS) < STATEMENT_CACHE_PARAMS:
        _queries.MAX_CACHED_STATEMENT_PARAMS = STATEMENT_CACHE_PARAMS


connection_created.connect(_cache_long_statements, dispatch_uid="huiyin.db.cache_long_statements")


def give_way(started: float) -> None:
    """Pause as long as the write transaction begun at `started` (time.monotonic()) took, at
    most settings.WORKER_GIVE_WAY_MAX_S, before the next one.

    SQLite has one write lock and no queue: a waiting request retries on a timer (its busy
    handler sleeps 1 ms, 2, 5 … 100 ms between tries), so a worker that goes straight into its
    next transaction takes the lock again before the request's retry comes round, and a
    backlog of short transactions stalls intake for seconds. Pausing as long as the work
    took lets every waiting request in, and a backlog is worked off at most half the time
    (on PostgreSQL too: the worker then leaves the CPU to the web workers)."""
    longest = settings.WORKER_GIVE_WAY_MAX_S
    if longest > 0:
        time.sleep(min(longest, max(0.0, time.monotonic() - started)))


# --- SQLite's checkpoints --------------------------------------------------------------------------


def checkpoint() -> int:
    """SQLite: copy the WAL's committed pages back into the database file (a PASSIVE checkpoint:
    it waits for no reader and no writer; two fsyncs). The worker does it every pass, so that the
    web requests, which checkpoint only past `wal_autocheckpoint` (settings), do not pay for it.
    Returns the WAL's pages now in the database file; 0 on PostgreSQL."""
    connection = connections["default"]
    if connection.vendor != "sqlite":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        row = cursor.fetchone()
    return max(0, int(row[2])) if row else 0


CHECKPOINT_EVERY_S = 1.0  # how often the worker's keeper checkpoints (`keep_wal_short`)


def keep_wal_short(stop: threading.Event, *, every: float = CHECKPOINT_EVERY_S) -> None:
    """SQLite: checkpoint every `every` seconds until `stop` is set, on this thread's own
    connection (closed at the end). The worker runs it on a thread of its own beside its passes.

    A checkpoint waits for two fsyncs: ~80 ms here for the WAL's 10,000 pages. The web requests
    checkpoint only past those 10,000 pages (settings), but at a hotline's peak (~200 intakes a
    second, ~50 pages each) the WAL grows that much in a second, far sooner than the worker's
    next pass (15 s): one intake in ~200 then waited for the checkpoint (round 36). Checkpointed
    every second, the WAL is copied in small pieces off the requests' way, and each complete
    checkpoint lets the next writer start the WAL again from its beginning, so it never reaches
    the requests' threshold. A failed checkpoint is logged and tried again."""
    try:
        while not stop.wait(every):
            try:
                checkpoint()
            except Exception:  # a locked or vanished file: the next second tries again
                log.exception("WAL checkpoint failed")
    finally:
        connections.close_all()  # this thread's own


# --- SQLite's planner statistics ------------------------------------------------------------------

# Without statistics SQLite's planner guesses every index alike. Over 100,000 cases the intake's
# repeat look-up (the customer's phone hash, among the closed cases) then walked every closed case
# through the state index: 58 ms of CPU an intake, growing with the cases, where the phone hash's
# index finds the few rows in 0.1 ms. ANALYZE writes the statistics into the database file
# (sqlite_stat1) and every connection opened afterwards plans with them. The worker refreshes them
# (`huiyin worker`, `refresh_statistics`); PostgreSQL's autovacuum keeps its own.
ANALYZE_SAMPLE = 400  # rows ANALYZE looks at per index (PRAGMA analysis_limit): milliseconds an index


def refresh_statistics(*, sample: int = ANALYZE_SAMPLE) -> int:
    """SQLite: ANALYZE each table of the database (all its indexes), one short statement (its
    own write transaction) a table, giving way after each (`give_way`) so that no intake waits
    long for the write lock. Returns how many tables were analysed; 0 on PostgreSQL (autovacuum
    analyses)."""
    connection = connections["default"]
    if connection.vendor != "sqlite":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA analysis_limit = {int(sample)}")
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name")
        names = [name for (name,) in cursor.fetchall()]
    for name in names:
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(name)}")
        give_way(started)
    return len(names)


# --- PostgreSQL's second index on a unique or indexed text column ---------------------------------
# For a CharField with unique=True or db_index=True, Django makes on PostgreSQL a second index,
# `<name>_like` (varchar_pattern_ops), for `LIKE 'prefix%'` queries. Where a column is only ever
# looked up by equality (a case number, a dedupe key), it is one more index entry every INSERT
# writes and nothing reads. Migrations drop those by name with `without_pattern_indexes`. Django's
# migration state never records a `_like` index, so the fields keep unique/db_index as they were;
# a later AlterField of such a field may make the index again: test_migrations.py fails then
# (`test_text_looked_up_by_equality_has_one_index`).


def without_pattern_indexes(indexes: dict[str, tuple[str, str]]) -> Any:
    """A migration operation that drops PostgreSQL's `_like` indexes {name: (table, column)}, and
    makes them again when the migration is reversed. Nothing on SQLite, which has no such index.
    Not elidable: a squash's CreateModel makes the indexes again. Module-level functions under
    `partial`, so that `squashmigrations` can write the operation out."""
    from django.db import migrations

    return migrations.RunPython(partial(_drop_pattern_indexes, indexes), partial(_make_pattern_indexes, indexes),
                                elidable=False)


def _drop_pattern_indexes(indexes: dict[str, tuple[str, str]], apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for name in indexes:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def _make_pattern_indexes(indexes: dict[str, tuple[str, str]], apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for name, (table, column) in indexes.items():
            schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}" varchar_pattern_ops)')
