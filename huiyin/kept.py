"""Model queries whose SQL is compiled once per process: for the hottest reads of a request
(`cases.access.case_for`), where Django compiles the same `select_related` query on every call.
Below every app, as huiyin/db.py is (huiyin/tests/test_layers.py): it knows no model of ours.

A query is kept under a key that holds everything it is made of but the call's own values (the
case number); those are passed with placeholders to `build`, found among the compiled
parameters and replaced on each call. Rows are read again on every call, and the instances are
made as Django's `ModelIterable` makes them (the main model, then each `select_related` one).
Compiling `case_for`'s query cost ~3 ms of Python a call; running it from here ~0.5 ms.
`rows` does the same for a `values_list` query of columns (an action's small reads: the next
deadline, the rules that fired, whom a notice goes to), which Django compiles in ~0.3–0.5 ms.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from weakref import ref as weak_ref

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable, ValuesListIterable, get_related_populators
from django.db.models.sql.compiler import SQLCompiler

KEEP = 1000  # keys kept per process; when full, the cache starts again (no lock needed)


@dataclass(frozen=True)
class _Kept:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[int, ...]  # where each of the call's values goes among `params`; sql "": no rows
    compiler: SQLCompiler  # after compiling: its select and klass_info say how rows become instances
    fetch_mode: Any


_KEPT: dict[Hashable, _Kept | None] = {}


Value = str | int | datetime


def placeholder(n: int, like: Value) -> Value:
    """The n-th placeholder for a value like `like`: a string, a moment, or an integer such as a
    key or a round (one every integer column takes, even a small positive one: Django turns a
    lookup out of the column's range into "no rows" before the SQL is made)."""
    if isinstance(like, datetime):
        return datetime(1001, 1, 1, tzinfo=UTC) + timedelta(days=n)
    return 31_000 + n if isinstance(like, int) else f"\x00kept-{n}\x00"


def _kind(value: Value) -> str:
    return "datetime" if isinstance(value, datetime) else "int" if isinstance(value, int) else "str"


def instances[M: Model](
    key: Hashable, build: Callable[[Sequence[Any]], QuerySet[M]], values: Sequence[Value]
) -> list[M]:
    """The instances of `build(values)`, its SQL compiled once per process and database for `key`
    (with placeholders in place of `values` — strings, integers or moments — each of which must
    reach the SQL as one parameter, unchanged but for the database's form of a moment). A query of
    another shape (annotations, a value used twice or changed) is not kept: it runs through the
    ORM on every call."""
    connection = connections["default"]
    kept = _kept(connection, key, build, values, models=True)
    if kept is None:
        return list(build(values))
    if not kept.sql:
        return []
    return _made(kept, _fetch(kept, values, connection), connection)


def rows(key: Hashable, build: Callable[[Sequence[Any]], QuerySet[Any]], values: Sequence[Value]) -> list[tuple[Any, ...]]:
    """The rows of `build(values)`, a `values_list(...)` query of columns (not `flat`, no
    annotations), as the tuples `values_list` gives, its SQL kept as `instances` keeps a model
    query's. Another query runs through the ORM on every call, as there."""
    connection = connections["default"]
    kept = _kept(connection, key, build, values, models=False)
    if kept is None:  # e.g. a `flat` one: each value as a row of one
        return [row if isinstance(row, tuple) else (row,) for row in build(values)]
    if not kept.sql:
        return []
    found = _fetch(kept, values, connection)
    compiler, converters = _converters(kept, connection)
    return [tuple(row) for row in compiler.apply_converters(found, converters)] if converters else \
        [tuple(row) for row in found]


def _kept(connection: Any, key: Hashable, build: Callable[[Sequence[Any]], QuerySet[Any]], values: Sequence[Value],
          *, models: bool) -> _Kept | None:
    db_key = (connection.alias, connection.vendor, key, tuple(_kind(v) for v in values))
    if db_key not in _KEPT:
        if len(_KEPT) >= KEEP:
            _KEPT.clear()
        holders = [placeholder(n, v) for n, v in enumerate(values)]
        _KEPT[db_key] = _compile(build(holders), holders, models=models)
    return _KEPT[db_key]


def _fetch(kept: _Kept, values: Sequence[Value], connection: Any) -> list[Any]:
    """The rows of the kept SQL with the call's values in their slots."""
    params = list(kept.params)
    adapt = connection.ops.adapt_datetimefield_value
    for slot, value in zip(kept.slots, values, strict=True):
        if isinstance(value, datetime):
            params[slot] = adapt(value)
        elif isinstance(value, int) and type(params[slot]) is not int:
            params[slot] = type(params[slot])(value)  # as it was compiled, e.g. psycopg's Int2
        else:
            params[slot] = value
    with connection.cursor() as cursor:
        cursor.execute(kept.sql, params)
        return cursor.fetchall()


def _compile(qs: QuerySet[Any], holders: list[Value], *, models: bool) -> _Kept | None:
    state: Any = qs  # Django's private state of the queryset, which ModelIterable reads too
    if qs.db != "default" or state._known_related_objects or state._prefetch_related_lookups:
        return None
    if state._iterable_class is not (ModelIterable if models else ValuesListIterable):
        return None  # a model query for `instances`; `values_list` of columns (not flat) for `rows`
    compiler = qs.query.get_compiler(using=qs.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # it can match nothing (e.g. `pk__in=[]`): nothing is run, as in the ORM
        return _Kept("", (), (), compiler, state._fetch_mode)
    slots = []
    adapt = compiler.connection.ops.adapt_datetimefield_value
    for holder in holders:
        sent = adapt(holder) if isinstance(holder, datetime) else holder  # as a DateTimeField sends it
        # an integer may come back as a subclass of int that names its width (psycopg's Int2 for a
        # small integer column): `instances` gives the call's value the same type
        found = [i for i, p in enumerate(params)
                 if (isinstance(p, int) if type(sent) is int else type(p) is type(sent)) and p == sent]
        if len(found) != 1:
            return None
        slots.append(found[0])
    if compiler.has_extra_select:
        return None
    if models and (compiler.annotation_col_map or not compiler.klass_info):
        return None
    if not models and (qs.query.annotations or compiler.col_count != len(state._fields or ())):
        return None  # `rows`: the columns asked for, in their order, and nothing else
    return _Kept(sql, tuple(params), tuple(slots), compiler, state._fetch_mode)


@dataclass(frozen=True)
class _Maker:
    """How the rows of a kept query become instances on one connection (its converters)."""

    kept: _Kept  # held here, so that neither id in the key is reused while this is kept
    compiler: SQLCompiler
    converters: dict[int, Any]
    start: int
    end: int
    init_list: list[str]
    from_db: Callable[..., Any]
    populators: list[Any]


_MAKERS: dict[tuple[int, int], _Maker] = {}  # by (id of the kept query, id of the connection)


def _maker(kept: _Kept, connection: Any) -> _Maker:
    """What `ModelIterable.__iter__` (Django 6.1) works out before its first row, once per kept
    query and connection: the converters of each column (the costliest part), the main model's
    columns, the related models' populators."""
    key = (id(kept), id(connection))
    maker = _MAKERS.get(key)
    if maker is None or maker.kept is not kept or maker.compiler.connection is not connection:
        compiler = copy.copy(kept.compiler)
        compiler.connection = connection  # the converters of this thread's connection
        select, klass_info = compiler.select, compiler.klass_info
        assert klass_info is not None
        fields = [s[0] for s in select[0 : compiler.col_count]]
        assert not compiler.has_composite_fields(fields)
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        maker = _Maker(
            kept, compiler, compiler.get_converters(fields), start, end,
            [f[0].target.attname for f in select[start:end]],
            partial(klass_info["model"].from_db, fetch_mode=kept.fetch_mode),
            get_related_populators(klass_info, select, connection.alias, kept.fetch_mode),
        )
        if len(_MAKERS) >= KEEP:
            _MAKERS.clear()
        _MAKERS[key] = maker
    return maker


_CONVERTERS: dict[tuple[int, int], tuple[_Kept, SQLCompiler, dict[int, Any]]] = {}


def _converters(kept: _Kept, connection: Any) -> tuple[SQLCompiler, dict[int, Any]]:
    """A kept `values_list` query's compiler on this connection (the converters are passed the
    connection) and its columns' converters, worked out once per query and connection."""
    key = (id(kept), id(connection))
    held = _CONVERTERS.get(key)
    if held is None or held[0] is not kept or held[1].connection is not connection:
        compiler = copy.copy(kept.compiler)
        compiler.connection = connection
        fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
        if len(_CONVERTERS) >= KEEP:
            _CONVERTERS.clear()
        held = _CONVERTERS[key] = (kept, compiler, compiler.get_converters(fields))
    return held[1], held[2]


def _made(kept: _Kept, rows: list[Any], connection: Any) -> list[Any]:
    """As `django.db.models.query.ModelIterable.__iter__` (Django 6.1) without known related objects
    or annotations."""
    maker = _maker(kept, connection)
    if maker.converters:
        rows = list(maker.compiler.apply_converters(rows, maker.converters))
    out = []
    peers: list[Any] = []
    for row in rows:
        obj = maker.from_db(connection.alias, maker.init_list, row[maker.start : maker.end])
        if kept.fetch_mode.track_peers:
            peers.append(weak_ref(obj))
            obj._state.peers = peers
        for populator in maker.populators:
            populator.populate(row, obj)
        out.append(obj)
    return out
