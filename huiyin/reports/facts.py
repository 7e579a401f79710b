"""The per-case summaries the reports count (`CaseFact`, `StageFact`): a materialised rollup of
the timeline, kept fresh from it.

Each summary is the value, for one case, of the outcomes of `cases.outcomes` — the same
conditions the case list filters by — evaluated by the database in one query per batch of cases,
so a report's figure and the list behind it count the same cases. A summary is recomputed
whenever its case gets a new timeline event (every change of a case appends one: an action, a
rule, a breach, a reclassification), also long after the period it counts in: a report for a
past period reads what is known now.

The job (`step`) follows the timeline by event id (`reports.follow`: each event read when seen and
again once settled). A first run on an existing database summarises every case by id
(`facts_built`), then follows the events from the last one that existed when it began.

The per-day totals (`DayUnitTotal`, `DayCaseTotal`, `DayStageTotal`) are sums of the summaries
by the Beijing day of receipt and a few columns, for the whole organisation's dashboard. The same
transaction that rewrites a case's summary subtracts its old row from them and adds its new one
(`_apply_totals`), behind a lock on the `totals` cursor, so they equal a GROUP BY over the
summaries at every commit. They are built in one statement each from the summaries when the first
build ends, and again by `rebuild_totals` (`huiyin report rebuild-totals`; also when the cursor
is missing, e.g. after an upgrade): until then the reports read the summaries themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.db.models import (
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models import Case as Case_
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from huiyin.cases import outcomes
from huiyin.cases.models import Case, Category, Event, State, Timer
from huiyin.policies.services import config_for
from huiyin.sla import calendar as cal

from .follow import follow, start_at
from .models import CaseFact, Cursor, DayCaseTotal, DayStageTotal, DayUnitTotal, StageFact

FLAGS = tuple(name for name in outcomes.OUTCOMES if name != "valid")
BATCH = 500  # cases summarised per transaction (following the timeline)
BUILD_BATCH = 5000  # ids summarised per step of the first build
# On SQLite a step's transaction holds the one write lock that intake waits for (5,000 ids held
# it 1.3 s at 20,000 cases: intake p95 10× with the worker running, issue 9 item 8): smaller steps.
SQLITE_BATCH, SQLITE_BUILD_BATCH = 100, 100


def _size(size: int, on_sqlite: int) -> int:
    from django.db import connection

    return on_sqlite if connection.vendor == "sqlite" else size


def _cursor(name: str) -> Cursor:
    return Cursor.objects.get_or_create(name=name)[0]


def _move(name: str, position: int) -> None:
    Cursor.objects.filter(name=name, position__lt=position).update(position=position, updated_at=timezone.now())


def category_roots() -> dict[int, int]:
    """Category id → the id of the top of its branch."""
    parent = dict(Category.objects.values_list("id", "parent_id"))
    roots: dict[int, int] = {}
    for pk in parent:
        top, seen = pk, 0
        while parent.get(top) is not None and seen < 20:
            top, seen = parent[top], seen + 1
        roots[pk] = top
    return roots


def _fact_select(where: Q, now: datetime) -> tuple[str, tuple[Any, ...]]:
    """The SELECT giving the `reports_casefact` row of every case matching `where`, in the table's
    column order: the outcomes of `cases.outcomes` evaluated by the database (one statement for
    the whole batch; no row passes through Python). `handling_minutes` is left NULL here: the
    working-day calendar is Python's (`_handling_minutes` fills it in)."""
    concluded = outcomes.OUTCOMES["concluded"]()
    last_reached = (Event.objects.filter(case=OuterRef("pk"), action="callback",
                                         changes__satisfaction__1__in=list(outcomes.REACHED))
                    .order_by("-id").annotate(v=KT("changes__satisfaction__1")).values("v")[:1])
    last_closed = Event.objects.filter(case=OuterRef("pk"), to_state=State.CLOSED).order_by("-id").values("at")[:1]
    roots = category_roots()
    root: Any = (Case_(*[When(category_id=pk, then=Value(top)) for pk, top in roots.items()], default=Value(None),
                       output_field=IntegerField()) if roots else Value(None, output_field=IntegerField()))
    flags = {f"f_{name}": Case_(When(outcomes.OUTCOMES[name](), then=Value(True)), default=Value(False),
                                output_field=BooleanField()) for name in FLAGS}
    columns: dict[str, Any] = {
        "f_case": F("pk"), "f_received_at": F("received_at"), "f_received_day": TruncDate("received_at"),
        "f_closed_day": Case_(When(concluded, then=TruncDate(Subquery(last_closed, output_field=DateTimeField()))),
                              default=Value(None), output_field=DateField()),
        "f_kind": F("kind"), "f_channel": F("channel"), "f_severity": F("severity"),
        "f_customer_class": F("customer_class"), "f_region": F("region"), "f_category": F("category_id"),
        "f_category_root": root, "f_owner_unit": F("owner_unit_id"), "f_unit": F("unit_id"),
        **flags,
        "f_satisfaction": Coalesce(Subquery(last_reached, output_field=CharField()), Value("")),
        "f_handling_minutes": Value(None, output_field=IntegerField()),
        "f_refreshed_at": Value(now, output_field=DateTimeField()),
    }
    wanted = [f"f_{f.attname.removesuffix('_id')}" if f.attname.endswith("_id") else f"f_{f.attname}"
              for f in CaseFact._meta.concrete_fields]
    if wanted != list(columns):  # a column added to CaseFact needs its expression here
        raise RuntimeError(f"reports.facts: the summary's columns changed: {wanted} != {list(columns)}")
    qs = Case.objects.filter(where).annotate(**columns).values(*columns).order_by()
    sql, params = qs.query.sql_with_params()
    return sql, tuple(params)


def _handling_minutes(where: Q) -> None:
    """The business minutes from receipt to the last closing of the concluded cases just summarised."""
    from django.db import connection

    last_closed = Event.objects.filter(case=OuterRef("pk"), to_state=State.CLOSED).order_by("-id").values("at")[:1]
    done = CaseFact.objects.filter(concluded=True).values("case_id")
    rows = (Case.objects.filter(where, pk__in=done).annotate(last_closed_at=Subquery(last_closed))
            .values_list("pk", "received_at", "last_closed_at", "policy_id"))
    hours: dict[int, Any] = {}
    pairs: list[tuple[int, int]] = []
    for pk, received_at, closed_at, policy_id in rows.iterator(chunk_size=5000):
        if closed_at is None:
            continue
        if policy_id not in hours:
            hours[policy_id] = config_for(policy_id).business_hours
        pairs.append((cal.business_minutes_between(received_at, closed_at, hours=hours[policy_id]), pk))
    if not pairs:
        return
    table = CaseFact._meta.db_table
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            sql = f"UPDATE {table} AS f SET handling_minutes = v.m FROM unnest(%s::integer[], %s::integer[]) AS v(m, id) "  # noqa: S608  # nosec B608 (names are ours)
            cur.execute(sql + "WHERE f.case_id = v.id", [[m for m, _ in pairs], [i for _, i in pairs]])
        else:
            sql = f"UPDATE {table} SET handling_minutes = %s WHERE case_id = %s"  # noqa: S608  # nosec B608 (names are ours)
            cur.executemany(sql, pairs)


def _summarise(where: Q) -> int:
    """Summarise the cases matching `where` again, in one transaction: their `CaseFact` and
    `StageFact` rows are deleted and rebuilt by INSERT … SELECT; returns how many cases."""
    from django.db import connection

    facts, stages = CaseFact._meta.db_table, StageFact._meta.db_table
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in CaseFact._meta.concrete_fields)
    select, params = _fact_select(where, timezone.now())
    timers = (Timer.objects.filter(case__in=Case.objects.filter(where).values("pk"), co_unit__isnull=True,
                                   state__in=list(outcomes.DECIDED)).values("case_id", "code")
              .annotate(late=Max(Case_(When(state="breached", then=Value(1)), default=Value(0)))).order_by())
    t_sql, t_params = timers.query.sql_with_params()
    ids_sql, ids_params = Case.objects.filter(where).values("pk").order_by().query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cur:
        totals = _totals_lock()
        if totals:
            old_days = _apply_totals(cur, f"IN ({ids_sql})", ids_params, sign=-1)
        # the SQL is Django's, compiled from our querysets, and our table names; values are parameters
        cur.execute(f"DELETE FROM {stages} WHERE fact_id IN ({ids_sql})", ids_params)  # noqa: S608  # nosec B608
        cur.execute(f"DELETE FROM {facts} WHERE case_id IN ({ids_sql})", ids_params)  # noqa: S608  # nosec B608
        cur.execute(f"INSERT INTO {facts} ({columns}) {select}", params)  # nosec B608
        n = cur.rowcount
        stage_sql = f"INSERT INTO {stages} (fact_id, code, late) SELECT t.case_id, t.code, t.late = 1 FROM ({t_sql}) t"  # noqa: S608  # nosec B608
        cur.execute(stage_sql, t_params)
        _handling_minutes(where)
        if totals:
            _apply_totals(cur, f"IN ({ids_sql})", ids_params, sign=1, days=old_days)
    return max(n, 0)


def compute(case_ids: Iterable[int]) -> int:
    """Summarise these cases again (in one transaction); returns how many."""
    ids = sorted(set(case_ids))
    if not ids:
        return 0
    return _summarise(Q(pk__in=ids))


def compute_range(first: int, last: int) -> int:
    """Summarise the cases with ids first..last (the first build, a range at a time)."""
    return _summarise(Q(pk__gte=first, pk__lte=last))


def step(*, now: Any = None) -> int:
    """One step of keeping the summaries fresh; returns how many cases it summarised (0: none
    left to do): the initial build by case id, then the cases of new and of settled events."""
    if not Cursor.objects.filter(name="facts_complete").exists():
        return _build_step(_cursor("facts_built"))
    if not totals_ready():
        return max(rebuild_totals(), 1)
    return follow("facts", Q(), compute, now=now, batch=_size(BATCH, SQLITE_BATCH))


def _build_step(built: Cursor) -> int:
    """Summarise the next batch of cases by id; at the end, hand over to the event cursors from
    the last event that existed when the build began."""
    if built.position == 0:
        start_event = Event.objects.aggregate(m=Max("id"))["m"] or 0
        Cursor.objects.update_or_create(name="facts_build_from", defaults={"position": start_event})
    first = Case.objects.filter(id__gt=built.position).order_by("id").values_list("id", flat=True).first()
    if first is None:
        start_at("facts", _cursor("facts_build_from").position)
        Cursor.objects.get_or_create(name="facts_complete", defaults={"position": 1})
        rebuild_totals()
        return 0
    last = first + _size(BUILD_BATCH, SQLITE_BUILD_BATCH) - 1
    n = compute_range(first, last)
    _move("facts_built", last)
    return max(n, 1)


def refresh(*, max_steps: int = 20) -> bool:
    """Bring the summaries up to date before a report is read (a few steps at most); returns
    whether they are (False: the worker still has work; the figures lag behind by that)."""
    for _ in range(max_steps):
        if step() == 0:
            return True
    return False


# --- the per-day totals -------------------------------------------------------------------------

TOTALS_CURSOR = "totals"  # position 1: the per-day totals are built and kept


def _on(flag: str) -> str:
    return f"CASE WHEN f.{flag} THEN 1 ELSE 0 END"


_HANDLED = "f.concluded AND f.handling_minutes IS NOT NULL"
# Each per-day total: its table, its key (column → expression over the summary `f`, and the stage
# `s`), its sums (column → expression summed), the rows it sums (FROM … JOIN …) and the summary's
# id column. A missing unit or category is 0 in the key.
_TOTALS: tuple[tuple[Any, dict[str, str], dict[str, str], str, str], ...] = (
    (DayUnitTotal,
     {"day": "f.received_day", "kind": "f.kind", "home_unit_id": "COALESCE(f.unit_id, f.owner_unit_id)",
      "category_root_id": "COALESCE(f.category_root_id, 0)"},
     {"received": "1", **{flag: _on(flag) for flag in FLAGS},
      "handling_cases": f"CASE WHEN {_HANDLED} THEN 1 ELSE 0 END",
      "handling_minutes": f"CASE WHEN {_HANDLED} THEN f.handling_minutes ELSE 0 END"},
     f"{CaseFact._meta.db_table} f", "f.case_id"),
    (DayCaseTotal,
     {"day": "f.received_day", "kind": "f.kind", "channel": "f.channel", "severity": "f.severity",
      "customer_class": "f.customer_class"},
     {"received": "1", **{flag: _on(flag) for flag in ("concluded", "resolved", "reached", "satisfied")}},
     f"{CaseFact._meta.db_table} f", "f.case_id"),
    (DayStageTotal,
     {"day": "f.received_day", "kind": "f.kind", "home_unit_id": "COALESCE(f.unit_id, f.owner_unit_id)",
      "code": "s.code"},
     {"n": "1", "late": "CASE WHEN s.late THEN 1 ELSE 0 END"},
     f"{StageFact._meta.db_table} s JOIN {CaseFact._meta.db_table} f ON f.case_id = s.fact_id", "s.fact_id"),
)


def _check_totals() -> None:
    for model, key, sums, _src, _id in _TOTALS:
        wanted = [f.column for f in model._meta.concrete_fields if f.column not in ("id", "span")]
        if wanted != [*key, *sums]:  # a column added to a total needs its expression here
            raise RuntimeError(f"reports.facts: {model.__name__}'s columns changed: {wanted} != {[*key, *sums]}")


_check_totals()


SPANS = ("d", "m")  # the totals per day, and per month (`day`: the month's first day)


def _month_of(expr: str) -> str:
    """SQL: the first day of the month of the date `expr`."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"CAST(date_trunc('month', {expr}) AS date)"
    return f"date({expr}, 'start of month')"


def _totals_select(key: dict[str, str], sums: dict[str, str], source: str, where: str, sign: int, span: str) -> str:
    exprs = [_month_of(e) if c == "day" and span == "m" else e for c, e in key.items()]
    values = ", ".join(f"{'-' if sign < 0 else ''}SUM({expr})" for expr in sums.values())
    group = ", ".join(str(i) for i in range(2, len(key) + 2))
    return f"SELECT '{span}', {', '.join(exprs)}, {values} FROM {source} WHERE {where} GROUP BY {group}"  # noqa: S608  # nosec B608 (ours)


def _month_start(day: Any) -> date:
    d = day if isinstance(day, date) else date.fromisoformat(str(day))
    return d.replace(day=1)


def _apply_totals(cur: Any, ids_in: str, params: tuple[Any, ...], *, sign: int, days: list[Any] | None = None) -> list[Any]:
    """Add (sign 1) or subtract (sign -1) the summaries of the cases whose id is `ids_in` to the
    per-day and per-month totals: one INSERT … SELECT … GROUP BY … ON CONFLICT per total and span
    (SQLite ≥ 3.24 and PostgreSQL both have it). Subtracting returns the days it touched; adding
    then deletes the rows of those days (and their months) left at zero."""
    if sign < 0:
        cur.execute(f"SELECT DISTINCT f.received_day FROM {CaseFact._meta.db_table} f WHERE f.case_id {ids_in}",  # noqa: S608  # nosec B608 (ours)
                    params)
        days = [row[0] for row in cur.fetchall()]
        if not days:
            return []
    for model, key, sums, source, id_column in _TOTALS:
        table = model._meta.db_table
        columns = ", ".join(["span", *key, *sums])
        update = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in sums)
        for span in SPANS:
            select = _totals_select(key, sums, source, f"{id_column} {ids_in}", sign, span)
            cur.execute(f"INSERT INTO {table} ({columns}) {select} "  # nosec B608 (our names; values are parameters)
                        f"ON CONFLICT ({', '.join(['span', *key])}) DO UPDATE SET {update}", params)
        if sign > 0 and days:
            months = sorted({_month_start(d) for d in days})
            for span, keys in (("d", days), ("m", months)):
                marks = ", ".join(["%s"] * len(keys))
                cur.execute(f"DELETE FROM {table} WHERE span = %s AND {next(iter(sums))} = 0 AND day IN ({marks})",  # noqa: S608  # nosec B608 (ours)
                            [span, *keys])
    return days or []


def _totals_lock() -> bool:
    """In a transaction: wait for any other rewrite of the totals (the row lock of their cursor on
    PostgreSQL; SQLite's transactions are serial) and say whether the totals are kept."""
    return list(Cursor.objects.select_for_update().filter(name=TOTALS_CURSOR).values_list("position", flat=True)) == [1]


def totals_ready() -> bool:
    """Whether the per-day totals equal the summaries (built, and kept since)."""
    return Cursor.objects.filter(name=TOTALS_CURSOR, position=1).exists()


def rebuild_totals() -> int:
    """Build the per-day totals again from the summaries, one INSERT … SELECT … GROUP BY each, in
    one transaction; returns how many rows."""
    from django.db import connection

    Cursor.objects.get_or_create(name=TOTALS_CURSOR)
    rows = 0
    with transaction.atomic(), connection.cursor() as cur:
        _totals_lock()
        for model, key, sums, source, _id in _TOTALS:
            table = model._meta.db_table
            cur.execute(f"DELETE FROM {table}", ())  # noqa: S608  # nosec B608 (our names)
            for span in SPANS:
                select = _totals_select(key, sums, source, "1 = 1", 1, span)
                cur.execute(f"INSERT INTO {table} ({', '.join(['span', *key, *sums])}) {select}", ())  # nosec B608 (ours)
                rows += max(cur.rowcount, 0)
        Cursor.objects.filter(name=TOTALS_CURSOR).update(position=1, updated_at=timezone.now())
    return rows
