"""Background jobs over cases, one step at a time and safe on several nodes at once.

Each job claims its rows with a conditional UPDATE (or a unique row) and acts only where
its claim changed something, so two workers never record the same breach, send the same
reminder or fire the same rule twice. Each returns how much it did (0 = nothing to do).

Write transactions are short: a job works in batches (`BATCH` timers, one case per rule
examination, one timer per recomputation), each committed on its own, so SQLite's write lock
(taken at BEGIN: the transactions are IMMEDIATE) is held for milliseconds, and after each
the worker gives way (`huiyin.db.give_way`) so that an intake waiting for the lock gets it:
a pass never stalls intake, however much it has to do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from huiyin.db import give_way, pk_in
from huiyin.notify.services import insert_notices, notice_rows
from huiyin.policies.models import Policy
from huiyin.policies.rules import Rule
from huiyin.policies.services import config_for
from huiyin.sla import calendar as cal

from . import deadlines, grading, notifications, workflow
from .models import FINAL_STATES, Case, Event, RuleHit, Timer, TimerState

log = logging.getLogger(__name__)

# Timers claimed per transaction by the breach and reminder sweeps: on SQLite a batch holds the
# one write lock that intake waits for, so it stays small; on PostgreSQL it locks only its own
# timers, and a larger batch reads the routing facts (memberships, units, users) fewer times.
BATCH = 200
BATCH_POSTGRESQL = 1000


def _batch() -> int:
    return BATCH_POSTGRESQL if connection.vendor == "postgresql" else BATCH


# --- timers: breaches and reminders -------------------------------------------------------


class DueTimer(NamedTuple):
    """A timer claimed by a sweep."""

    id: int
    case_id: int
    code: str
    due_at: datetime
    round: int


def _claim_timers(filters: Q, assign: str, params: Sequence[Any], limit: int, *,
                  among: Sequence[int] = ()) -> list[DueTimer]:
    """Claim up to `limit` timers matching `filters` inside the caller's transaction, in one
    statement: `UPDATE … SET <assign> WHERE id IN (the first `limit` of them by due time)
    RETURNING` the claimed rows. The rows are locked (PostgreSQL: FOR UPDATE SKIP LOCKED in the
    subquery, so another worker takes the next ones; SQLite: the IMMEDIATE transaction holds
    the write lock). `assign`: the SET list, its values in `params`; `among`: only these timers."""
    timers = Timer.objects.filter(filters)
    if among:
        timers = timers.filter(pk_in(Timer, among))
    qs = timers.order_by("due_at").values("id")[:limit]
    if connection.vendor == "postgresql":
        qs = qs.select_for_update(skip_locked=True)
    inner, inner_params = qs.query.sql_with_params()
    table = connection.ops.quote_name(Timer._meta.db_table)
    sql = (f"UPDATE {table} SET {assign} WHERE id IN ({inner}) "  # noqa: S608  # nosec B608 (our SQL, values bound)
           "RETURNING id, case_id, code, due_at, round")
    ops: Any = connection.ops  # SQLite's: its datetime converter
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *inner_params])
        found = cursor.fetchall()
    rows = [DueTimer(pk, case_id, code, ops.convert_datetimefield_value(due_at, None, connection), round_no)
            for pk, case_id, code, due_at, round_no in found] if connection.vendor == "sqlite" else \
        [DueTimer(*r) for r in found]
    rows.sort(key=lambda r: (r.due_at, r.id))  # RETURNING's order is the database's
    return rows


def record_breach_events(breaches: Sequence[DueTimer], *, at: datetime) -> None:
    """Append one `breach` event per breached timer to its case's timeline, in bulk.

    A breach changes no field of the case, so the case's version is not bumped: an agent's
    form opened before the breach still saves. (`insert_rows`: a pass may breach thousands.)"""
    tz = timezone.get_current_timezone()
    workflow.record_events([
        (t.case_id, "breach", {"timer": [None, t.code], "round": [None, t.round],
                               "due_at": [None, t.due_at.astimezone(tz).isoformat()]})
        for t in breaches
    ], at=at, source="worker")


def _due_items(timers: Sequence[DueTimer], event: str) -> list[notifications.Due]:
    return [notifications.Due(t.case_id, event, f"{event}:timer{t.id}", {"note": t.code, "deadline": t.due_at},
                              timer=t.code) for t in timers]


def _sweep(filters: Q, assign: str, params: Sequence[Any], limit: int, event: str,
           then: Callable[[list[DueTimer]], object] | None = None) -> int:
    """Claim up to `limit` timers matching `filters` (`_claim_timers`) and write their `event`
    notices (and `then(claimed)`), in one short transaction.

    Everything that only reads is done before it: which timers are due, and their notices —
    the cases' routing facts, the recipients, the context (`notifications.occurrences`,
    `notify.notice_rows`). The transaction (on SQLite: the one write lock, which intake waits
    for) then claims those of them still matching `filters`, and inserts the rows. A timer that
    changed in between (recomputed, stopped) is left out, or — its due time moved — has its
    notice worked out again inside. Returns how many timers were claimed."""
    seen = [DueTimer(*r) for r in Timer.objects.filter(filters).order_by("due_at")
            .values_list("id", "case_id", "code", "due_at", "round")[:limit]]
    if not seen:
        return 0
    prepared = {row["dedupe_key"]: row for row in notice_rows(notifications.occurrences(_due_items(seen, event)))}
    read = set(seen)
    with transaction.atomic():
        claimed = _claim_timers(filters, assign, params, limit, among=[t.id for t in seen])
        if not claimed:
            return 0
        if then is not None:
            then(claimed)
        moved = [t for t in claimed if t not in read]
        if moved:  # its due time or round changed since it was read: its notice afresh
            prepared.update({row["dedupe_key"]: row for row in notice_rows(
                notifications.occurrences(_due_items(moved, event)))})
        insert_notices([prepared[key] for t in claimed if (key := f"{event}:timer{t.id}") in prepared])
    return len(claimed)


def sweep_breaches(now: datetime | None = None, *, limit: int = 0) -> int:
    """Mark up to `limit` running timers past their due time as breached, each with a
    timeline event and a `case.breached` notification, in one short transaction (`limit`:
    0 for the database's batch)."""
    now = now or timezone.now()
    return _sweep(Q(state=TimerState.RUNNING, due_at__lt=now), "state = %s, breached_at = due_at",
                  [str(TimerState.BREACHED)], limit or _batch(), "case.breached",
                  lambda rows: record_breach_events(rows, at=now))


def sweep_reminders(now: datetime | None = None, *, limit: int = 0) -> int:
    """Remind when a running timer has used the policy's reminder share of its time (up to
    `limit` timers, in one short transaction; 0: the database's batch)."""
    now = now or timezone.now()
    return _sweep(Q(state=TimerState.RUNNING, reminded_at__isnull=True, remind_at__lte=now), "reminded_at = %s",
                  [connection.ops.adapt_datetimefield_value(now)], limit or _batch(), "case.reminder")


# --- scheduled rules ----------------------------------------------------------------------

# Cases examined per scheduled rule per pass, each in its own short transaction.
RULES_PAGE = 100
# Events below the highest one seen are looked at again this far back: on PostgreSQL a
# transaction may commit an id lower than one another transaction has already committed.
EVENT_OVERLAP = 1000


def _full_round_every() -> timedelta:
    """How often a worker examines every candidate of a scheduled rule again, for what its
    memory cannot see (an administrator's edit of a unit's customer count, say)."""
    return timedelta(seconds=float(getattr(settings, "RULES_FULL_ROUND_SECONDS", 24 * 3600)))


@dataclass
class _Watch:
    """One worker's progress on one scheduled rule of one policy version."""

    round: list[int] | None = None  # a full round under way: the candidates still to examine
    round_done_at: datetime | None = None  # when the last full round ended
    checked_at: datetime | None = None  # the `now` of the last pass that looked for changes
    pending: set[int] = field(default_factory=set)  # changed cases to examine, in later pages


@dataclass
class RulesMemory:
    """What one worker process remembers of the scheduled rules between its passes, so that
    an idle pass examines no case and scans no table.

    A rule's answer for a case changes only when (a) the case changes — every change, a
    breach included, appends a timeline event, so the new events since the previous pass
    name those cases; (b) time passes an `age` threshold — the cases whose age crossed it
    since the previous pass are found by index on `received_at`; or (c) for `count` and
    `share` conditions, another case with the same fields changes or arrives within the
    window. The first pass of a worker, and one a day after (`RULES_FULL_ROUND_SECONDS`),
    start a full round: every candidate is examined once, a page per pass. Without a memory
    (`sweep_rules()` called alone, `huiyin worker --once`) a pass is a first pass.
    """

    watches: dict[tuple[int, str], _Watch] = field(default_factory=dict)
    event_floor: int | None = None  # events with a higher id are read every pass
    seen_events: set[int] = field(default_factory=set)  # those of them already accounted for

    def changed_cases(self) -> set[int]:
        """The cases with timeline events new since the previous call (a range read on the
        primary key; next to nothing on an idle system)."""
        if self.event_floor is None:
            top = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
            self.event_floor = max(0, top - EVENT_OVERLAP)
            self.seen_events = set(Event.objects.filter(pk__gt=self.event_floor).values_list("id", flat=True))
            return set()  # a first pass examines every candidate anyway
        rows = list(Event.objects.filter(pk__gt=self.event_floor).values_list("id", "case_id"))
        changed = {case_id for event_id, case_id in rows if event_id not in self.seen_events}
        if rows:
            self.event_floor = max(self.event_floor, max(r[0] for r in rows) - EVENT_OVERLAP)
        self.seen_events = {r[0] for r in rows if r[0] > self.event_floor}
        return changed


def sweep_rules(now: datetime | None = None, *, limit: int = RULES_PAGE, memory: RulesMemory | None = None) -> int:
    """Evaluate the rules that run on a schedule (age, breaches, counts — automatic upgrade of
    DESIGN §5) on the open cases that could newly match them: up to `limit` cases per rule,
    each in its own transaction with the case locked. `memory` (the worker's) narrows the
    cases to those that changed since its previous pass (see `RulesMemory`). Returns how many
    rules fired."""
    now = now or timezone.now()
    memory = memory if memory is not None else RulesMemory()
    changed = memory.changed_cases()
    changed_rows: list[dict[str, Any]] | None = None
    fired = 0
    for policy_id in Policy.objects.order_by("pk").values_list("pk", flat=True):
        for rule in config_for(policy_id).rules:
            if "schedule" not in rule.on:
                continue
            watch = memory.watches.setdefault((policy_id, rule.name), _Watch())
            candidates = _candidates(policy_id, rule, now)
            if watch.checked_at is not None:  # what changed since this worker last looked
                if changed:
                    watch.pending.update(_ids(candidates, changed))
                # ordered by received_at: both databases then read the open cases' index
                crossing = _age_crossings(rule.when, watch.checked_at, now)
                if crossing is not None:
                    watch.pending.update(candidates.filter(crossing).order_by("received_at").values_list("pk", flat=True))
                if changed and _window_leaves(rule.when):
                    if changed_rows is None:
                        changed_rows = _case_rows(changed)
                    neighbours = _neighbours(rule.when, changed_rows)
                    if neighbours:
                        watch.pending.update(
                            candidates.filter(neighbours).order_by("received_at").values_list("pk", flat=True))
            watch.checked_at = now
            if watch.round is None and (watch.round_done_at is None or now - watch.round_done_at >= _full_round_every()):
                # oldest first (and the order of `case_open_received`, which both databases read)
                watch.round = list(candidates.order_by("received_at").values_list("pk", flat=True))[::-1]
            todo = sorted(watch.pending)[:limit]
            watch.pending.difference_update(todo)
            while watch.round and len(todo) < limit:
                case_id = watch.round.pop()
                if case_id not in todo:
                    todo.append(case_id)
            if watch.round is not None and not watch.round:
                watch.round, watch.round_done_at = None, now
            for case_id in todo:
                started = time.monotonic()
                fired += _examine(case_id, rule, now)
                give_way(started)
    return fired


def _ids(qs: QuerySet[Case], among: Iterable[int]) -> set[int]:
    among = list(among)
    out: set[int] = set()
    for i in range(0, len(among), 900):  # SQLite limits the parameters of one query
        out.update(qs.filter(pk__in=among[i:i + 900]).values_list("pk", flat=True))
    return out


def _examine(case_id: int, rule: Rule, now: datetime) -> int:
    with transaction.atomic():
        case = (Case.objects.select_for_update(of=("self",)).select_related("owner_unit", "unit")
                .filter(pk=case_id).first())
        if case is None:
            return 0
        return len(workflow.rules_apply(case, trigger="schedule", now=now, only=[rule]))


def _candidates(policy_id: int, rule: Rule, now: datetime) -> QuerySet[Case]:
    """The open cases of a policy version on which a rule has not fired, narrowed by what its
    condition says for sure."""
    qs = Case.objects.filter(_OPEN, policy_id=policy_id)
    qs = qs.exclude(Exists(RuleHit.objects.filter(case=OuterRef("pk"), rule=rule.name)))
    narrowing = _narrowing(rule.when, now)
    return qs.filter(narrowing) if narrowing is not None else qs


# Open cases, written as the very condition of the partial index `case_open_received`, with
# literals: SQLite uses a partial index only when the query repeats its condition (bound
# parameters do not count), and then reads the few open cases instead of a million rows.
_OPEN = RawSQL(f'NOT ("cases_case"."state" IN ({", ".join(repr(str(s)) for s in FINAL_STATES)}))', (),  # noqa: S611 (our constants)
               output_field=BooleanField())  # nosec B611 (our constants)

# Case columns a field condition can be narrowed on in SQL, with the same answer as the rules
# engine: text columns compared with eq/in, numbers with gte/gt/lte/lt (NULL never matches).
_TEXT_COLUMNS = {"kind", "channel", "state", "severity", "region", "customer_class", "satisfaction"}
_NUMBER_COLUMNS = {"amount", "people_count", "round", "urge_count"}


def _narrowing(cond: Mapping[str, Any], now: datetime) -> Q | None:
    """A filter every case matching `cond` now — or newly matching it, for counts — passes,
    so that a pass over a million cases looks at the few that can match; None when the
    condition says nothing usable."""
    if "all" in cond:
        parts = [q for q in (_narrowing(c, now) for c in cond["all"]) if q is not None]
        if not parts:
            return None
        out = parts[0]
        for q in parts[1:]:
            out &= q
        return out
    if "any" in cond:
        found = [_narrowing(c, now) for c in cond["any"]]
        alternatives = [q for q in found if q is not None]
        if len(alternatives) < len(found):
            return None
        out = alternatives[0]
        for q in alternatives[1:]:
            out |= q
        return out
    if "age" in cond:
        return Q(received_at__lte=_age_bound(cond["age"], now))
    if "timer" in cond:
        t = cond["timer"]
        return Q(Exists(Timer.objects.filter(case=OuterRef("pk"), code=t["code"], state=t["state"])))
    if "count" in cond:
        # A case's count can grow only while cases may still arrive within its window: an
        # older case that did not match when it was young never will. And a case with a
        # compared field empty counts only itself (`grading.facts_for`).
        spec = cond["count"]
        q = Q(received_at__gte=now - timedelta(hours=2 * float(spec["window_hours"])))
        if spec["gte"] > 1:
            for key in spec.get("same", []):
                column = grading.SAME_FIELDS[key]
                q &= Q(**{f"{column}__isnull": False}) if column.endswith("_id") else ~Q(**{column: ""})
        return q
    if "field" in cond:
        name = cond["field"]
        op = next(k for k in cond if k != "field")
        value = cond[op]
        if name in _TEXT_COLUMNS and op == "eq" and isinstance(value, str):
            return Q(**{name: value})
        if name in _TEXT_COLUMNS and op == "in" and all(isinstance(v, str) for v in value):
            return Q(**{f"{name}__in": value})
        if name in _NUMBER_COLUMNS and op in ("gte", "gt", "lte", "lt") and isinstance(value, (int, float)):
            return Q(**{f"{name}__{op}": value})
    return None


def _age_bound(age: dict[str, Any], at: datetime) -> datetime:
    """The latest `received_at` whose age at `at` reaches the condition: age ≥ gte exactly
    when received_at ≤ the bound (as `grading.facts_for` measures age)."""
    unit, gte = age.get("unit", "calendar_days"), float(age["gte"])
    if unit == "hours":
        return at - timedelta(hours=gte)
    if unit != "working_days":
        return at - timedelta(days=gte)
    need = gte * max(1, cal.DEFAULT_HOURS.minutes_per_day)

    def old_enough(received: datetime) -> bool:
        return cal.business_minutes_between(received, at) >= need

    lo = at - timedelta(days=gte * 7 / 5 + 30)
    while not old_enough(lo):
        lo -= timedelta(days=30)
    hi = at  # not old enough (unless gte is 0)
    if old_enough(hi):
        return hi
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if old_enough(mid):
            lo = mid
        else:
            hi = mid
    return lo


def _leaves(cond: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    if "all" in cond or "any" in cond:
        return [leaf for c in cond.get("all", cond.get("any", [])) for leaf in _leaves(c, kind)]
    if "not" in cond:
        return _leaves(cond["not"], kind)
    return [cond[kind]] if kind in cond else []


def _age_crossings(cond: Mapping[str, Any], since: datetime, now: datetime) -> Q | None:
    """The cases whose age crossed one of the condition's thresholds between `since` and `now`."""
    out: Q | None = None
    for age in _leaves(cond, "age"):
        low, high = _age_bound(age, since), _age_bound(age, now)
        if low < high:
            q = Q(received_at__gt=low, received_at__lte=high)
            out = q if out is None else out | q
    return out


def _window_leaves(cond: Mapping[str, Any]) -> list[tuple[list[str], float]]:
    """(the case columns compared, the window in hours) of each count and share condition."""
    out = []
    for spec in _leaves(cond, "count"):
        out.append(([grading.SAME_FIELDS[k] for k in spec.get("same", [])], float(spec["window_hours"])))
    for spec in _leaves(cond, "share"):
        out.append(([f"{spec.get('of', 'unit')}_id"], float(spec["window_hours"])))
    return out


_NEIGHBOUR_CASES = 50  # above this many changed cases, neighbours are found by time alone


def _case_rows(ids: Iterable[int]) -> list[dict[str, Any]]:
    columns = sorted({"received_at", *grading.SAME_FIELDS.values(), "unit_id", "owner_unit_id"})
    ids = list(ids)
    rows: list[dict[str, Any]] = []
    for i in range(0, len(ids), 900):  # SQLite limits the parameters of one query
        rows += Case.objects.filter(pk__in=ids[i:i + 900]).values(*columns)
    return rows


def _neighbours(cond: Mapping[str, Any], changed: list[dict[str, Any]]) -> Q:
    """The cases whose count or share may have moved because these cases changed or arrived:
    the same compared fields, received within the window of one of them."""
    out = Q()
    for columns, hours in _window_leaves(cond):
        window = timedelta(hours=hours)
        rows = [r for r in changed if all(r[c] not in (None, "") for c in columns)]
        if not rows:
            continue
        if len(rows) > _NEIGHBOUR_CASES:
            times = [r["received_at"] for r in rows]
            out |= Q(received_at__gte=min(times) - window, received_at__lte=max(times) + window)
            continue
        for r in rows:
            out |= Q(received_at__gte=r["received_at"] - window, received_at__lte=r["received_at"] + window,
                     **{c: r[c] for c in columns})
    return out


# --- provisional deadlines ----------------------------------------------------------------


def sweep_provisional(*, limit: int = 500) -> int:
    """Recompute provisional deadlines whose years the calendar now knows (an administrator
    imported them in any process); the import's signal does it at once in its own process.
    Only timers due before the first year the calendar still lacks are read, so while a
    year is missing an idle pass reads nothing."""
    recomputed = 0
    qs = Timer.objects.filter(provisional=True, stopped_at__isnull=True)
    first_unknown = _first_unknown_year()
    if first_unknown is not None:
        # A timer needs the years from its start to the one after its due time.
        qs = qs.filter(due_at__lt=timezone.make_aware(datetime(first_unknown - 1, 1, 1)))
    for timer_id, started_at, due_at in qs.order_by("id").values_list("id", "started_at", "due_at")[:limit]:
        years = range(timezone.localtime(started_at).year, timezone.localtime(due_at).year + 2)
        if not all(cal.year_known(y) for y in years):
            continue
        started = time.monotonic()
        with transaction.atomic():
            t = Timer.objects.select_for_update().select_related("case").filter(pk=timer_id, provisional=True).first()
            if t is None:
                continue
            deadlines.recompute(t)
            recomputed += 1
        give_way(started)
    return recomputed


def _first_unknown_year() -> int | None:
    """The first year from this one on that the calendar does not know (None: within reach)."""
    year = timezone.localdate().year
    for y in range(year, year + 5):
        if not cal.year_known(y):
            return y
    return None


# --- a pass ---------------------------------------------------------------------------------

JOBS = (sweep_breaches, sweep_reminders, sweep_rules, sweep_provisional)
# Jobs of the apps above cases (e-mail intake, reports to upstream platforms …), each registered by
# its app's AppConfig.ready(): cases imports none of them. Same contract: a call does one batch and
# returns how much it did (0: nothing left).
EXTRA_JOBS: list[Callable[[], int]] = []


def run_pass(memory: RulesMemory | None = None) -> dict[str, int]:
    """One pass of every job, each until it has nothing left to do (a batch per transaction).
    `memory` is the worker's, kept between its passes (see `RulesMemory`)."""
    done: dict[str, int] = {}
    for job in (*JOBS, *EXTRA_JOBS):
        total = 0
        if job is sweep_rules:
            total = sweep_rules(memory=memory)  # one page per rule and pass
        elif job is sweep_provisional:
            total = sweep_provisional()  # its work does not shrink what it reads within a pass
        else:
            while True:
                started = time.monotonic()
                if (n := job()) == 0:
                    break
                total += n
                give_way(started)
        done[job.__name__] = total
    return done
