"""Read-only queries of the staff pages: the workbench, lists, approvals, the overdue board.

Every query starts from `cases.access.cases_for(user)`; nothing here writes. Which case
waits for whom is read off the workflow's own table (`workflow.ACTIONS`: the roles of the
action that moves a case on from its state), never restated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import (
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
)
from django.utils import timezone

from huiyin.cases import workflow
from huiyin.cases.access import cases_for
from huiyin.cases.models import (
    FINAL_STATES,
    Case,
    CoHandling,
    Extension,
    ExtensionStatus,
    Satisfaction,
    State,
    Timer,
    TimerState,
)
from huiyin.cases.selectors import text_query
from huiyin.org.access import grants
from huiyin.org.models import Role, Unit, User
from huiyin.policies.models import Policy
from huiyin.policies.services import config_for

OPEN_STATES = [s.value for s in State if s not in FINAL_STATES]
COUNT_CAP = 100  # counts on the workbench stop here ("99+"): never a COUNT(*) over everything
QUEUE_CAP = 200  # per-state counts of a unit queue stop here ("199+")

S = State

# (state, the action that moves it on, whose unit the role must cover, extra condition)
WAITING: list[tuple[str, str, str, Q]] = [
    (S.REGISTERED, "dispatch", "owner", Q()),
    (S.RETURNED, "dispatch", "owner", Q(return_disputed=False)),
    (S.RETURNED, "decide_return", "owner", Q(return_disputed=True)),
    (S.PENDING_APPROVAL, "approve", "owner", Q()),
    (S.DISPATCHED, "acknowledge", "unit", Q()),
    (S.ACCEPTED, "submit_result", "unit", Q()),
    (S.SUSPENDED, "resume", "unit", Q()),
    (S.PLAN_APPROVAL, "approve_plan", "owner", Q()),
    (S.RESULT_SUBMITTED, "review", "owner", Q()),
    (S.PENDING_CALLBACK, "callback", "owner", ~Q(satisfaction=Satisfaction.UNSATISFIED)),
    (S.PENDING_CALLBACK, "redispatch", "owner", Q(satisfaction=Satisfaction.UNSATISFIED, round=1)),
]


def subtree_ids(paths: set[str]) -> list[int]:
    if not paths:
        return []
    q = Q()
    for p in paths:
        q |= Q(path__startswith=p)
    return list(Unit.objects.filter(q).values_list("id", flat=True))


class Scope:
    """The unit ids a user reaches through each role, computed once per request."""

    def __init__(self, user: User):
        self.user = user
        self._by_roles: dict[frozenset[str], list[int]] = {}

    def ids(self, roles: tuple[str, ...] | frozenset[str] | set[str]) -> list[int]:
        key = frozenset(roles)
        if key not in self._by_roles:
            self._by_roles[key] = subtree_ids({g.path for g in grants(self.user) if g.role in key})
        return self._by_roles[key]

    def roles(self) -> set[str]:
        return {g.role for g in grants(self.user)}


def waiting_terms(user: User, scope: Scope | None = None) -> list[Q]:
    """Cases whose next step is the user's: the state's moving action is one the user's roles
    may take over the right unit (the registering centre's line or the handling unit).
    One term per (state, action), each answerable from an index on its own."""
    scope = scope or Scope(user)
    terms: list[Q] = []
    for state, action_name, side, extra in WAITING:
        action = workflow.ACTIONS.get(action_name)
        if action is None:
            continue
        ids = scope.ids(action.roles)
        if not ids:
            continue
        where = Q(owner_unit_id__in=ids) if side == "owner" else Q(unit_id__in=ids)
        terms.append(Q(state=state) & extra & where)
    # A pending extension request waits for whoever may grant it.
    grant = workflow.ACTIONS.get("grant_extension")
    if grant is not None and (ids := scope.ids(grant.roles)):
        pending = Extension.objects.filter(status=ExtensionStatus.REQUESTED).values("case_id")
        terms.append(Q(pk__in=pending, owner_unit_id__in=ids, state__in=list(grant.sources)))
    # A joint case's co-handling unit (协办) has its own acknowledgement and contribution.
    if ids := scope.ids((Role.HANDLER, Role.FIRST_RESPONSIBLE)):
        co = CoHandling.objects.filter(unit_id__in=ids, active=True, submitted_at__isnull=True).values("case_id")
        terms.append(Q(pk__in=co, state__in=[S.DISPATCHED, S.ACCEPTED, S.SUSPENDED]))
    return terms


def waiting_ids(user: User, scope: Scope | None = None, *, cap: int = COUNT_CAP) -> list[int]:
    """Ids of the cases waiting for the user, oldest first: the union of one small indexed query
    per term (an OR of them all would make the database scan the whole table)."""
    visible = cases_for(user)
    ids: set[int] = set()
    for term in waiting_terms(user, scope):
        ids.update(visible.filter(term).order_by("id").values_list("id", flat=True)[:cap])
    return sorted(ids)


# --- deadlines -----------------------------------------------------------------------------


def open_timers() -> QuerySet[Timer]:
    """Timers still counting (paused ones are not: a suspended case's clock stops)."""
    return Timer.objects.filter(stopped_at__isnull=True).exclude(state=TimerState.PAUSED)


def overdue_timers(now: datetime) -> QuerySet[Timer]:
    return open_timers().filter(due_at__lt=now)


def due_today_timers(now: datetime) -> QuerySet[Timer]:
    end = timezone.make_aware(datetime.combine(timezone.localdate(now) + timedelta(days=1), time.min))
    return open_timers().filter(due_at__gte=now, due_at__lt=end)


def at_risk_timers(now: datetime) -> QuerySet[Timer]:
    """Not yet due but past the policy's reminder share of their time (e.g. 75 %): the timer's
    own `remind_at` (set by cases.deadlines from the policy's reminder_share); for a timer
    written before that column existed, the share read from its policy here."""
    left = ExpressionWrapper(F("due_at") - Value(now, output_field=DateTimeField()), output_field=DurationField())
    total = ExpressionWrapper(F("due_at") - F("started_at"), output_field=DurationField())
    by_share: dict[int, list[int]] = {}
    for pid in Policy.objects.values_list("id", flat=True):
        share = min(100, max(0, round(config_for(pid).reminder_share * 100)))
        by_share.setdefault(share, []).append(pid)
    legacy = Q(pk__in=[])
    for share, pids in by_share.items():
        rest = ExpressionWrapper(F("total") * (100 - share), output_field=DurationField())
        legacy |= Q(case__policy_id__in=pids, left100__lte=rest)
    return (
        open_timers()
        .filter(due_at__gte=now)
        .alias(left=left, total=total)
        .alias(left100=ExpressionWrapper(F("left") * 100, output_field=DurationField()))
        .filter(Q(remind_at__lte=now) | (Q(remind_at__isnull=True) & legacy))
    )


def timer_case_ids(timers: QuerySet[Timer]) -> QuerySet[Timer]:
    return timers.values("case_id")


# --- the workbench ---------------------------------------------------------------------------


def capped_count(qs: QuerySet[Any], cap: int = COUNT_CAP) -> int:
    return qs[:cap].count()


@dataclass
class Tab:
    key: str
    count: int
    rows: list[Case] = field(default_factory=list)


def workbench(user: User, *, tab: str, limit: int = 50) -> dict[str, Any]:
    now = timezone.now()
    scope = Scope(user)
    visible = cases_for(user)
    waiting = waiting_ids(user, scope)
    mine = visible.filter(Q(pk__in=waiting) | Q(registered_by=user, state__in=OPEN_STATES))
    sets: dict[str, QuerySet[Case]] = {
        "registered_by_me": visible.filter(registered_by=user, state__in=OPEN_STATES),
        "due_today": mine.filter(pk__in=timer_case_ids(due_today_timers(now))),
        "at_risk": mine.filter(pk__in=timer_case_ids(at_risk_timers(now))),
        "overdue": mine.filter(pk__in=timer_case_ids(overdue_timers(now))),
    }
    counts = {"waiting": len(waiting), **{key: capped_count(qs) for key, qs in sets.items()}}
    tab = tab if tab in counts else "waiting"
    if tab == "waiting":
        ordered = visible.filter(pk__in=waiting[:limit]).order_by("id")
    elif tab == "registered_by_me":
        ordered = sets[tab].order_by("id")
    else:
        ordered = sets[tab].order_by("-id")
    rows = list(ordered.select_related("owner_unit", "unit", "category")[:limit])
    attach_next_deadline(rows, now)
    if tab not in ("waiting", "registered_by_me"):
        rows.sort(key=lambda c: (c.next_due is None, c.next_due or now))
    return {"tab": tab, "counts": counts, "rows": rows, "queues": unit_queues(user, scope), "now": now}


def unit_queues(user: User, scope: Scope) -> list[dict[str, Any]]:
    """Open cases per state of each unit the user dispatches for or handles in."""
    result = []
    seen: set[tuple[int, str]] = set()
    for g in grants(user):
        if g.role in (Role.DISPATCHER,):
            side = "owner"
        elif g.role in (Role.HANDLER, Role.FIRST_RESPONSIBLE):
            side = "unit"
        else:
            continue
        if (g.unit_id, side) in seen:
            continue
        seen.add((g.unit_id, side))
        ids = subtree_ids({g.path})
        where = Q(owner_unit_id__in=ids) if side == "owner" else Q(unit_id__in=ids)
        # One capped count per state (each from the state index), not a GROUP BY over every open case.
        counts = {st: capped_count(cases_for(user).filter(where, state=st), QUEUE_CAP) for st in OPEN_STATES}
        unit = Unit.objects.filter(pk=g.unit_id).first()
        result.append({
            "unit": unit, "side": side, "cap": QUEUE_CAP,
            "states": [(s, counts.get(s, 0)) for s in OPEN_STATES],
            "total": sum(counts.values()),
        })
    return result


def attach_next_deadline(rows: list[Case], now: datetime) -> None:
    """Set `next_due`, `next_timer` and `overdue` on each case: its earliest counting deadline."""
    by_case: dict[int, Timer] = {}
    if rows:
        for t in open_timers().filter(case_id__in=[c.pk for c in rows], co_unit__isnull=True).order_by("due_at"):
            by_case.setdefault(t.case_id, t)
    for c in rows:
        t = by_case.get(c.pk)
        c.next_timer = t  # type: ignore[attr-defined]
        c.next_due = t.due_at if t else None  # type: ignore[attr-defined]
        c.overdue = bool(t and t.due_at < now)  # type: ignore[attr-defined]


# --- lists -------------------------------------------------------------------------------------

# Keyset-friendly orders only: the id follows registration, and every filter index ends in id,
# so any filter with either order reads a few index entries. (Ordering by received_at would need
# composite indexes per filter column at 1,000,000 cases; not offered.)
SORTS = {
    "-id": ("-id",),
    "id": ("id",),
}


@dataclass
class ListFilters:
    state: list[str] = field(default_factory=list)
    kind: str = ""
    unit: Unit | None = None
    severity: str = ""
    category: str = ""
    channel: str = ""
    overdue: str = ""  # "", "yes", "no"
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""
    sort: str = "-id"


def apply_filters(user: User, f: ListFilters, *, now: datetime | None = None) -> QuerySet[Case]:
    now = now or timezone.now()
    qs = cases_for(user)
    if f.state:
        qs = qs.filter(state__in=f.state)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.severity:
        qs = qs.filter(severity=f.severity)
    if f.channel:
        qs = qs.filter(channel=f.channel)
    if f.category:
        qs = qs.filter(category__code=f.category)
    if f.unit is not None:
        qs = qs.filter(unit_id__in=subtree_ids({f.unit.path}))
    if f.overdue == "yes":
        qs = qs.filter(pk__in=timer_case_ids(overdue_timers(now)))
    elif f.overdue == "no":
        qs = qs.exclude(pk__in=timer_case_ids(overdue_timers(now)))
    if f.date_from:
        qs = qs.filter(received_at__gte=timezone.make_aware(datetime.combine(f.date_from, time.min)))
    if f.date_to:
        qs = qs.filter(received_at__lt=timezone.make_aware(datetime.combine(f.date_to + timedelta(days=1), time.min)))
    if f.q:
        qs = qs.filter(text_q(f.q))
    return qs


def text_q(text: str) -> Q:
    """The search box (see cases.selectors.text_query)."""
    return text_query(text)


def page(qs: QuerySet[Case], *, sort: str, cursor: str, limit: int) -> tuple[list[Case], str | None]:
    """One page by keyset (never OFFSET): `cursor` is the last row's sort key of the previous page."""
    order = SORTS.get(sort, SORTS["-id"])
    if cursor:
        try:
            last_id = int(cursor)
        except ValueError:
            last_id = 0
        if last_id > 0:
            qs = qs.filter(id__lt=last_id) if sort == "-id" else qs.filter(id__gt=last_id)
    rows = list(qs.select_related("owner_unit", "unit", "category").order_by(*order)[: limit + 1])
    has_next = len(rows) > limit
    rows = rows[:limit]
    if not has_next or not rows:
        return rows, None
    return rows, str(rows[-1].pk)


# --- leaders and supervisors ----------------------------------------------------------------


def approvals(user: User, *, limit: int = 100) -> dict[str, list[Case]]:
    """What waits for the leader's decision: 批示, plan approval, extension requests, compensation."""
    scope = Scope(user)
    visible = cases_for(user).select_related("owner_unit", "unit", "proposed_unit", "category")
    out: dict[str, list[Case]] = {}
    for key, action_name, cond in (
        ("dispatch", "approve", Q(state=S.PENDING_APPROVAL)),
        ("plan", "approve_plan", Q(state=S.PLAN_APPROVAL)),
        ("extension", "grant_extension", Q(pk__in=Extension.objects.filter(
            status=ExtensionStatus.REQUESTED).values("case_id"))),
        ("compensation", "approve_compensation", Q(compensation_status="requested")),
    ):
        action = workflow.ACTIONS[action_name]
        ids = scope.ids(action.roles)
        out[key] = list(visible.filter(cond, owner_unit_id__in=ids).order_by("id")[:limit]) if ids else []
    ext_cases = [c.pk for c in out["extension"]]
    pending = {e.case_id: e for e in Extension.objects.filter(case_id__in=ext_cases, status=ExtensionStatus.REQUESTED)
               .select_related("requested_by")}
    for c in out["extension"]:
        c.pending_extension = pending.get(c.pk)  # type: ignore[attr-defined]
    return out


def board(user: User, *, unit: Unit | None, limit: int = 200) -> dict[str, Any]:
    """Overdue and at-risk open cases, counted per handling unit, for 督办."""
    now = timezone.now()
    qs = cases_for(user).filter(state__in=OPEN_STATES)
    if unit is not None:
        ids = subtree_ids({unit.path})
        qs = qs.filter(Q(unit_id__in=ids) | Q(unit__isnull=True, owner_unit_id__in=ids))
    overdue = qs.filter(pk__in=timer_case_ids(overdue_timers(now)))
    at_risk = qs.filter(pk__in=timer_case_ids(at_risk_timers(now))).exclude(pk__in=timer_case_ids(overdue_timers(now)))
    per_unit: dict[int | None, dict[str, Any]] = {}
    for key, subset in (("overdue", overdue), ("at_risk", at_risk)):
        for row in subset.values("unit_id", "owner_unit_id").annotate(n=Count("id")).order_by():
            uid = row["unit_id"] or row["owner_unit_id"]
            entry = per_unit.setdefault(uid, {"overdue": 0, "at_risk": 0})
            entry[key] += row["n"]
    units = Unit.objects.in_bulk([u for u in per_unit if u is not None])
    table = sorted(
        ({"unit": units.get(uid), **v} for uid, v in per_unit.items()),
        key=lambda r: (-r["overdue"], -r["at_risk"], r["unit"].path if r["unit"] else ""),
    )
    rows = []
    for key, subset in (("overdue", overdue), ("at_risk", at_risk)):
        for c in subset.select_related("owner_unit", "unit", "category").order_by("id")[:limit]:
            c.board_kind = key  # type: ignore[attr-defined]
            rows.append(c)
    attach_next_deadline(rows, now)
    rows.sort(key=lambda c: (c.next_due is None, c.next_due or now))
    for c in rows:
        c.can = possible(user, c, ("urge", "escalate"))  # type: ignore[attr-defined]
    return {"table": table, "rows": rows, "now": now,
            "totals": {"overdue": sum(r["overdue"] for r in table), "at_risk": sum(r["at_risk"] for r in table)}}


def possible(user: User, case: Case, names: tuple[str, ...]) -> set[str]:
    """Which of `names` the user may take on the case now, by the workflow's own table and guards
    (a cheaper `workflow.allowed_actions` for rows of a board)."""
    cfg = config_for(case.policy_id)
    out = set()
    for name in names:
        action = workflow.ACTIONS.get(name)
        if action is None or case.state not in action.sources or not workflow.may(user, case, action):
            continue
        if action.guard is None or action.guard(case, cfg) is None:
            out.add(name)
    return out


def org_units(user: User) -> list[Unit]:
    """The active units of the user's organisation (the trees of the user's grants), in tree order:
    what a dispatcher may send a case to (workflow checks it again with `org.access.unit_for`)."""
    roots = {g.path.split("/")[1] for g in grants(user) if g.path.count("/") >= 2}
    if not roots:
        return []
    q = Q()
    for r in roots:
        q |= Q(path__startswith=f"/{r}/")
    return list(Unit.objects.filter(q, active=True).order_by("path"))


def visible_units(user: User) -> list[Unit]:
    """The units in the user's own subtrees (for filters that narrow what the user sees)."""
    paths = {g.path for g in grants(user)}
    ids = subtree_ids(paths)
    return list(Unit.objects.filter(id__in=ids).order_by("path"))


# --- the dashboard ---------------------------------------------------------------------------


def in_unit(unit: Unit | None) -> Q:
    """Cases handled in the unit's subtree, or registered there and not yet dispatched."""
    if unit is None:
        return Q()
    ids = subtree_ids({unit.path})
    return Q(unit_id__in=ids) | Q(unit__isnull=True, owner_unit_id__in=ids)


DASHBOARD_SECONDS = 60  # the dashboard's figures are recomputed at most once a minute per view


def dashboard(user: User, *, unit: Unit | None, days: int = 30) -> dict[str, Any]:
    """The dashboard's figures for what the user sees (cached briefly: aggregates over every open
    case and a month of intake are the heaviest reads of the pages)."""
    from django.core.cache import cache

    key = "web:dashboard:{}:{}:{}".format(
        ",".join(str(i) for i in sorted(visible_unit_ids_of(user))), unit.pk if unit else "-", days
    )
    data = cache.get(key)
    if data is None:
        data = _dashboard(user, unit=unit, days=days)
        cache.set(key, data, DASHBOARD_SECONDS)
    return data


def visible_unit_ids_of(user: User) -> list[int]:
    from huiyin.org.access import visible_unit_ids

    return visible_unit_ids(user)


def _dashboard(user: User, *, unit: Unit | None, days: int = 30) -> dict[str, Any]:
    from django.db.models.functions import TruncDate

    now = timezone.now()
    base = cases_for(user).filter(in_unit(unit))
    # Open cases by state and unit.
    open_rows = list(
        base.filter(state__in=OPEN_STATES).values("unit_id", "owner_unit_id", "state").annotate(n=Count("id"))
        .order_by()
    )
    unit_ids = {r["unit_id"] or r["owner_unit_id"] for r in open_rows}
    names = {u.pk: u for u in Unit.objects.filter(pk__in=unit_ids)}
    by_unit: dict[int, dict[str, int]] = {}
    for r in open_rows:
        uid = r["unit_id"] or r["owner_unit_id"]
        by_unit.setdefault(uid, {})[r["state"]] = by_unit.get(uid, {}).get(r["state"], 0) + r["n"]
    ordered_units = sorted(by_unit, key=lambda uid: names[uid].path if uid in names else "")
    # Intake per day.
    first_day = timezone.localdate(now) - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first_day, time.min))
    recent = base.filter(received_at__gte=start)
    per_day = {
        r["day"]: r["n"]
        for r in recent.annotate(day=TruncDate("received_at")).values("day").annotate(n=Count("id")).order_by()
    }
    day_list = [first_day + timedelta(days=i) for i in range(days)]
    # Timeliness per timer (finished stages of the cases received in the period).
    timeliness: dict[str, dict[str, int]] = {}
    for r in (
        Timer.objects.filter(case__in=recent.values("pk"), co_unit__isnull=True, stopped_at__isnull=False,
                             state__in=[TimerState.MET, TimerState.BREACHED])
        .values("code", "state").annotate(n=Count("id")).order_by()
    ):
        timeliness.setdefault(r["code"], {"met": 0, "breached": 0})[r["state"]] = r["n"]
    satisfaction = {
        r["satisfaction"]: r["n"]
        for r in recent.exclude(satisfaction="").values("satisfaction").annotate(n=Count("id")).order_by()
    }
    open_total = sum(sum(v.values()) for v in by_unit.values())
    return {
        "open_total": open_total,
        "intake_total": sum(per_day.values()),
        "open_by_state_unit": {
            "units": [names[uid].name if uid in names else "?" for uid in ordered_units],
            "series": [
                {"state": s, "data": [by_unit[uid].get(s, 0) for uid in ordered_units]}
                for s in OPEN_STATES if any(by_unit[uid].get(s, 0) for uid in ordered_units)
            ],
        },
        "intake": {"days": [d.strftime("%m-%d") for d in day_list], "counts": [per_day.get(d, 0) for d in day_list]},
        "timeliness": timeliness,
        "satisfaction": satisfaction,
        "days": days,
        "computed_at": now,
    }
