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
from typing import Any

from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Max, OuterRef, Q, Subquery
from django.db.models.fields.json import KT
from django.utils import timezone

from huiyin.cases import outcomes
from huiyin.cases.models import Case, Category, Event, State, Timer
from huiyin.policies.services import config_for
from huiyin.sla import calendar as cal

from .follow import follow, start_at
from .models import CaseFact, Cursor, StageFact

FLAGS = tuple(name for name in outcomes.OUTCOMES if name != "valid")
BATCH = 500  # cases summarised per transaction


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


def compute(case_ids: Iterable[int]) -> int:
    """Summarise these cases again (in one transaction); returns how many."""
    ids = sorted(set(case_ids))
    if not ids:
        return 0
    flags = {f"o_{name}": ExpressionWrapper(outcomes.OUTCOMES[name](), output_field=BooleanField()) for name in FLAGS}
    last_reached = (Event.objects.filter(case=OuterRef("pk"), action="callback",
                                         changes__satisfaction__1__in=list(outcomes.REACHED))
                    .order_by("-id").annotate(v=KT("changes__satisfaction__1")).values("v")[:1])
    last_closed = (Event.objects.filter(case=OuterRef("pk"), to_state=State.CLOSED).order_by("-id").values("at")[:1])
    rows = list(Case.objects.filter(pk__in=ids).annotate(
        **flags, o_last_satisfaction=Subquery(last_reached), o_closed_at=Subquery(last_closed),
    ).values("pk", "received_at", "kind", "channel", "severity", "customer_class", "region", "category_id",
             "owner_unit_id", "unit_id", "policy_id", *flags, "o_last_satisfaction", "o_closed_at"))
    late: dict[tuple[int, str], bool] = {}
    for case_id, code, state in Timer.objects.filter(
        case_id__in=ids, co_unit__isnull=True, state__in=list(outcomes.DECIDED),
    ).values_list("case_id", "code", "state"):
        late[(case_id, code)] = late.get((case_id, code), False) or state == "breached"
    roots = category_roots()
    now = timezone.now()
    facts, stages = [], []
    for r in rows:
        closed_at = r["o_closed_at"]
        concluded = bool(r["o_concluded"])
        minutes = None
        if concluded and closed_at is not None:
            minutes = cal.business_minutes_between(r["received_at"], closed_at,
                                                   hours=config_for(r["policy_id"]).business_hours)
        facts.append(CaseFact(
            case_id=r["pk"], received_at=r["received_at"], received_day=timezone.localdate(r["received_at"]),
            closed_day=timezone.localdate(closed_at) if concluded and closed_at else None,
            kind=r["kind"], channel=r["channel"], severity=r["severity"], customer_class=r["customer_class"] or "",
            region=r["region"] or "", category_id=r["category_id"],
            category_root_id=roots.get(r["category_id"]) if r["category_id"] else None,
            owner_unit_id=r["owner_unit_id"], unit_id=r["unit_id"],
            satisfaction=r["o_last_satisfaction"] or "", handling_minutes=minutes, refreshed_at=now,
            **{name: bool(r[f"o_{name}"]) for name in FLAGS},
        ))
    for (case_id, code), is_late in late.items():
        stages.append(StageFact(fact_id=case_id, code=code, late=is_late))
    with transaction.atomic():
        CaseFact.objects.filter(case_id__in=ids).delete()  # their stages go with them
        CaseFact.objects.bulk_create(facts)
        StageFact.objects.bulk_create(stages)
    return len(facts)


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
    ids = list(Case.objects.filter(id__gt=built.position).order_by("id").values_list("id", flat=True)[:BATCH])
    if not ids:
        start_at("facts", _cursor("facts_build_from").position)
        Cursor.objects.get_or_create(name="facts_complete", defaults={"position": 1})
        return 0
    compute(ids)
    _move("facts_built", ids[-1])
    return len(ids)


def refresh(*, max_steps: int = 20) -> bool:
    """Bring the summaries up to date before a report is read (a few steps at most); returns
    whether they are (False: the worker still has work; the figures lag behind by that)."""
    for _ in range(max_steps):
        if step() == 0:
            return True
    return False
