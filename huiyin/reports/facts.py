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
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
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
from .models import CaseFact, Cursor, StageFact

FLAGS = tuple(name for name in outcomes.OUTCOMES if name != "valid")
BATCH = 500  # cases summarised per transaction (following the timeline)
BUILD_BATCH = 5000  # ids summarised per step of the first build


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
        # the SQL is Django's, compiled from our querysets, and our table names; values are parameters
        cur.execute(f"DELETE FROM {stages} WHERE fact_id IN ({ids_sql})", ids_params)  # noqa: S608  # nosec B608
        cur.execute(f"DELETE FROM {facts} WHERE case_id IN ({ids_sql})", ids_params)  # noqa: S608  # nosec B608
        cur.execute(f"INSERT INTO {facts} ({columns}) {select}", params)  # nosec B608
        n = cur.rowcount
        stage_sql = f"INSERT INTO {stages} (fact_id, code, late) SELECT t.case_id, t.code, t.late = 1 FROM ({t_sql}) t"  # noqa: S608  # nosec B608
        cur.execute(stage_sql, t_params)
        _handling_minutes(where)
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
    return follow("facts", Q(), compute, now=now, batch=BATCH)


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
        return 0
    last = first + BUILD_BATCH - 1
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
