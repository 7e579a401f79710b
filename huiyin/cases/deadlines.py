"""Stage timers of a case: the only code that writes a `Timer`.

Called only from `cases.workflow` (inside its transaction, with the case row locked) and from
the worker's jobs in `cases.jobs` (breaches, reminders, provisional recomputation) — never from
views, the API or other apps. One exception writes nothing: `first_clocks`, which the intake
calls before its transaction to compute a new case's first clocks (`first_clocks_write` writes
them inside it). A timer's
due time is always `compute_due(timer)`: the policy's amount from `started_at`,
then every adjustment (granted extension, pause) replayed in order, then the
upstream's own deadline if that is earlier.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from huiyin import kept
from huiyin.db import insert_one
from huiyin.org.models import Unit
from huiyin.policies.config import TIMER_CODES, ExtensionTier, Obligation, PolicyConfig, TimerSpec
from huiyin.sla import calendar as cal
from huiyin.sla.services import note_missing_years

from .models import Case, CoHandling, Timer, TimerState

NATURAL_UNITS = (cal.TimeUnit.MINUTES, cal.TimeUnit.HOURS, cal.TimeUnit.CALENDAR_DAYS)
END_TO_END = "end_to_end"


def _touched(case: Case) -> None:
    case._timers_touched = True  # type: ignore[attr-defined]


def refresh_case_deadline(case: Case) -> set[str]:
    """Keep `Case.next_due_at`/`next_remind_at` equal to the earliest counting deadline of the
    case's handling clocks (the stage timers and the end-to-end clock; not a co-handling unit's,
    not an obligation's), after timers changed in this step. A closed case has none: its
    obligations (e.g. 结案后报备) show among its `deadlines` and in their role's waiting list, never
    as an overdue case in lists. Returns the columns that changed (the workflow saves them with
    the step, without recording them on the timeline)."""
    if not getattr(case, "_timers_touched", False):
        return set()
    case._timers_touched = False  # type: ignore[attr-defined]
    row = None
    if case.is_open:  # after every action that touched a clock: SQL kept per process (`kept`)
        first = kept.rows(("deadlines.next_due",), lambda values: Timer.objects.filter(
            case_id=values[0], stopped_at__isnull=True, co_unit__isnull=True, code__in=TIMER_CODES)
            .exclude(state=TimerState.PAUSED).order_by("due_at").values_list("due_at", "remind_at")[:1], [case.pk])
        row = first[0] if first else None
    due, remind = row if row else (None, None)
    if (due, remind) == (case.next_due_at, case.next_remind_at):
        return set()
    case.next_due_at, case.next_remind_at = due, remind
    return {"next_due_at", "next_remind_at"}


def compute_due(timer: Timer, cfg: PolicyConfig, *, upstream_due_at: datetime | None = None) -> cal.Deadline:
    """The timer's own deadline: its amount from `started_at`, then every adjustment replayed in
    order (a granted extension adds time; a pause gives back the time it lasted — in business
    time for business units, unless the clock was already overdue when paused: then the time
    overdue is kept, and counting goes on after the resume), then the upstream's deadline if
    earlier (resolve only)."""
    hours = cfg.business_hours
    base = cal.deadline_add(timer.started_at, timer.amount, timer.unit, hours=hours)
    due, provisional, unknown = base.due_at, base.provisional, set(base.unknown_years)
    for adj in timer.adjustments:
        if adj["type"] == "extension":
            step = cal.deadline_add(due, int(adj["amount"]), adj["unit"], hours=hours)
            due, provisional = step.due_at, provisional or step.provisional
            unknown.update(step.unknown_years)
        elif adj["type"] == "pause":
            paused, resumed = datetime.fromisoformat(adj["from"]), datetime.fromisoformat(adj["to"])
            if timer.unit in NATURAL_UNITS or due <= paused:
                # Natural time, or already overdue at the pause: the paused span is handed back as
                # it was, so the lateness before the pause is kept (issue 14.12).
                due = due + (resumed - paused)
            else:
                remaining = cal.business_minutes_between(max(paused, timer.started_at), due, hours=hours)
                step = cal.add_business_minutes(resumed, remaining, hours=hours)
                due, provisional = step.due_at, provisional or step.provisional
                unknown.update(step.unknown_years)
    if timer.code == "resolve" and upstream_due_at is not None and upstream_due_at < due:
        return cal.Deadline(upstream_due_at, False, ())
    return cal.Deadline(due, provisional, tuple(sorted(unknown)))


def _end_to_end_due(case: Case) -> datetime | None:
    return (
        Timer.objects.filter(case=case, code=END_TO_END, stopped_at__isnull=True, co_unit__isnull=True)
        .values_list("due_at", flat=True).first()
    )


def _apply_due(timer: Timer, cfg: PolicyConfig, case: Case,
               end_to_end: tuple[datetime | None] | None = None) -> None:
    """Set the timer's due time: its own deadline, capped by the upstream's (resolve) and by the
    case's end-to-end deadline (every stage clock; 至接到投诉7天结案 bounds them all — not an
    appeal's review, which has a clock of its own). `end_to_end`: that deadline, when the caller
    knows it (`(None,)`: the case has no end-to-end clock); else it is read."""
    d = compute_due(timer, cfg, upstream_due_at=case.upstream_due_at)
    due, capped_by = d.due_at, ""
    if timer.code == "resolve" and case.upstream_due_at is not None and case.upstream_due_at == d.due_at:
        capped_by = "upstream"
    if (timer.code in TIMER_CODES and timer.code not in (END_TO_END, "appeal") and not timer.role
            and END_TO_END in (cfg.raw.get("timers") or {})):  # no query when the policy has no such clock
        end = end_to_end[0] if end_to_end is not None else _end_to_end_due(case)
        if end is not None and end < due:
            due, capped_by = end, END_TO_END
    timer.due_at = due
    timer.remind_at = timer.started_at + (due - timer.started_at) * cfg.reminder_share
    timer.provisional = d.provisional if capped_by != "upstream" else False
    timer.capped_by_upstream = capped_by == "upstream"
    timer.capped_by = capped_by
    if d.unknown_years:
        note_missing_years(d.unknown_years)


def cycle_start(case: Case) -> datetime:
    """When the current handling cycle began: the receipt, or the latest reopening."""
    return case.reopened_at if case.cycle > 1 and case.reopened_at else case.received_at


def anchor_time(case: Case, anchor: str, *, at: datetime, unit: Unit | None = None,
                strict: bool = False) -> datetime | None:
    """The moment a clock with `from: anchor` counts from, for a stage starting `at`; None when
    that moment has not come yet (the clock then starts when it does, e.g. at acknowledgement).

    `receipt` is the case's receipt (the reopening, in a reopened cycle) in round 1; a later
    round's receipt is its own dispatch (二次/三次派单 start the round's clocks afresh). A stage
    that starts at dispatch counts `dispatch` from `at`; with `strict` (an obligation, which
    starts whenever its condition holds) only a dispatch that happened counts."""
    if anchor == "stage":
        return at
    if anchor == "receipt":
        return cycle_start(case) if case.round == 1 or strict else (case.dispatched_at or at)
    if anchor == "dispatch":
        return case.dispatched_at if strict else (case.dispatched_at or at)
    if anchor == "acknowledge":
        if unit is not None:
            return (CoHandling.objects.filter(case=case, unit=unit, cycle=case.cycle, round=case.round)
                    .values_list("acknowledged_at", flat=True).first())
        return case.acknowledged_at
    if anchor == "result":
        return case.result_at
    if anchor == "close":
        return case.closed_at
    raise ValueError(f"unknown anchor {anchor!r}")


def timer_spec(case: Case, code: str, cfg: PolicyConfig, *, unit: Unit | None = None) -> TimerSpec | None:
    return cfg.timer(code, kind=case.kind, channel=case.channel, severity=case.severity, round_no=case.round,
                     co_unit=unit is not None)


def _stage_timer(case: Case, code: str, spec: TimerSpec, started: datetime, *, unit: Unit | None = None) -> Timer:
    """Stage `code`'s clock for the case's current round and cycle, as the policy's `spec` sets it,
    started at `started` (to the second); its deadline is `_apply_due`'s, and it is not written."""
    return Timer(case=case, code=code, round=case.round, cycle=case.cycle, amount=spec.amount, unit=spec.unit,
                 basis=spec.basis, started_at=started.replace(microsecond=0), co_unit=unit)


def timer_start(
    case: Case, code: str, *, at: datetime, cfg: PolicyConfig, unit: Unit | None = None
) -> Timer | None:
    """Start stage `code` for the case's current round, if the policy has such a timer, counted
    from its `from:` anchor (`anchor_time`). None when the policy has no such timer or its anchor
    has not happened yet. `unit` is given only for a co-handling unit's own stage."""
    spec = timer_spec(case, code, cfg, unit=unit)
    if spec is None:
        return None
    at = at.replace(microsecond=0)  # deadlines are shown and compared to the second
    timer_cancel(case, (code,), at=at, unit=unit)
    started = anchor_time(case, spec.anchor, at=at, unit=unit)
    if started is None:
        return None  # started when its anchor happens (the workflow calls timer_start again then)
    timer = _stage_timer(case, code, spec, started, unit=unit)
    _apply_due(timer, cfg, case)
    insert_one(timer)  # a new row: the lean INSERT (huiyin/db.py), as Timer.save() would write it
    _touched(case)
    return timer


FIRST_CLOCKS = (END_TO_END, "dispatch")  # the end-to-end clock first: it caps the stage's


def first_clocks(case: Case, *, cfg: PolicyConfig) -> list[Timer]:
    """The clocks a case being registered starts with (the end-to-end clock, when the policy has
    one, and dispatch), counted from its receipt, their deadlines computed — but not written and
    not yet tied to the case's row: the intake computes them before its transaction
    (`workflow.register_prepare`) and `first_clocks_write` writes them inside it. As
    `timer_start` would start them on a case with no timer yet."""
    at = case.received_at.replace(microsecond=0)
    timers: list[Timer] = []
    end: datetime | None = None
    for code in FIRST_CLOCKS:
        spec = timer_spec(case, code, cfg)
        started = anchor_time(case, spec.anchor, at=at) if spec is not None else None
        if spec is None or started is None:
            continue
        timer = _stage_timer(case, code, spec, started)
        _apply_due(timer, cfg, case, end_to_end=(end,))
        if code == END_TO_END:
            end = timer.due_at
        timers.append(timer)
    return timers


def first_clocks_write(case: Case, timers: list[Timer]) -> None:
    """Write `first_clocks(case)` once the case's row exists (inside the intake's transaction)."""
    for timer in timers:
        timer.case = case
        insert_one(timer)  # a new row: the lean INSERT (huiyin/db.py), as Timer.save() would write it
    if timers:
        _touched(case)


def anchored_on(case: Case, codes: tuple[str, ...], anchor: str, cfg: PolicyConfig, *,
                unit: Unit | None = None) -> tuple[str, ...]:
    """Which of `codes` count from `anchor` for this case (to start them when it happens)."""
    out = []
    for code in codes:
        spec = timer_spec(case, code, cfg, unit=unit)
        if spec is not None and spec.anchor == anchor:
            out.append(code)
    return tuple(out)


def obligation_start(case: Case, ob: Obligation, *, at: datetime, cfg: PolicyConfig) -> Timer | None:
    """Start obligation `ob` for the case's current cycle, counted from its anchor, unless it was
    started in this cycle already (an obligation is owed once per handling cycle)."""
    if Timer.objects.filter(case=case, code=ob.code, cycle=case.cycle).exists():
        return None
    started = anchor_time(case, ob.anchor, at=at, strict=True)
    if started is None:
        return None
    timer = Timer(case=case, code=ob.code, round=case.round, cycle=case.cycle, amount=ob.amount, unit=ob.unit,
                  basis=ob.basis, role=ob.role, started_at=started.replace(microsecond=0))
    _apply_due(timer, cfg, case)
    insert_one(timer)  # a new row: the lean INSERT (huiyin/db.py), as Timer.save() would write it
    _touched(case)
    return timer


def _open(case: Case, codes: tuple[str, ...] | None, unit: Unit | None = None, *, every_unit: bool = False) -> list[Timer]:
    """Open timers of the case: those of `codes`, or (None) every handling clock — obligations are
    named explicitly, never swept along with the stages."""
    # One to four times an action (a stage stopped, and each one started cancels its like first):
    # the SQL is compiled once per process for the codes and whose clocks they are (`kept`).
    whose = "every" if every_unit else "co" if unit is not None else "own"
    wanted = tuple(codes if codes is not None else TIMER_CODES)

    def build(values: Sequence[Any]) -> QuerySet[Timer]:
        qs = Timer.objects.filter(case_id=values[0], stopped_at__isnull=True, code__in=wanted)
        return qs if whose == "every" else qs.filter(co_unit_id=values[1]) if whose == "co" \
            else qs.filter(co_unit__isnull=True)

    timers = kept.instances(("deadlines.open", wanted, whose), build,
                            [case.pk, unit.pk] if whose == "co" and unit is not None else [case.pk])
    # the end-to-end clock first: the stage clocks it caps are computed after it
    return sorted(timers, key=lambda t: (t.code != END_TO_END, t.pk))


def open_codes(case: Case) -> set[str]:
    """The codes of the case's own running handling clocks (the guards of record_contact and
    request_extension ask whether theirs runs): `_open`'s kept read."""
    return {t.code for t in _open(case, None)}


def timer_stop(case: Case, codes: tuple[str, ...] | None, *, at: datetime, unit: Unit | None = None,
               every_unit: bool = False) -> list[Timer]:
    """The stage is done: met if on time, breached (by how much) if late. `codes=None`: every
    handling clock (a withdrawn case's clocks stop as of the request)."""
    stopped = []
    for t in _open(case, codes, unit, every_unit=every_unit):
        at_ = max(at, t.started_at)  # a clock started after `at` (a withdrawal as of an earlier day) stops at once
        t.stopped_at = at_
        if t.state == TimerState.PAUSED and t.paused_at is not None:
            # stopped while paused (e.g. a suspended case withdrawn): the pause lasted until now
            t.adjustments = [*t.adjustments, {"type": "pause", "from": t.paused_at.isoformat(),
                                              "to": max(at_, t.paused_at).isoformat()}]
            t.paused_at = None
            _apply_due(t, cfg_of(case), case)
        if at_ <= t.due_at and t.breached_at is None:
            t.state = TimerState.MET
        else:
            t.state = TimerState.BREACHED
            t.breached_at = t.breached_at or t.due_at
            t.breach_seconds = max(0, int((at_ - t.due_at).total_seconds()))
        t.save(update_fields=["state", "stopped_at", "breached_at", "breach_seconds", "adjustments", "paused_at",
                              "due_at", "remind_at", "provisional", "capped_by_upstream", "capped_by"])
        stopped.append(t)
    if stopped:
        _touched(case)
    return stopped


def cfg_of(case: Case) -> PolicyConfig:
    from huiyin.policies.services import config_for

    return config_for(case.policy_id)


def timer_cancel(
    case: Case, codes: tuple[str, ...] | None, *, at: datetime, unit: Unit | None = None, every_unit: bool = False
) -> None:
    """The stage was abandoned (case returned, closed early): no longer counted."""
    for t in _open(case, codes, unit, every_unit=every_unit):
        t.state, t.stopped_at = TimerState.CANCELLED, at
        t.save(update_fields=["state", "stopped_at"])
        _touched(case)


def co_timers_cancel(case: Case, *, at: datetime) -> None:
    """The co-handling units' clocks are abandoned (the lead unit's result closed the round, or
    the case went elsewhere); the lead unit's and the case's own clocks are untouched."""
    for t in Timer.objects.filter(case=case, stopped_at__isnull=True, co_unit__isnull=False):
        t.state, t.stopped_at = TimerState.CANCELLED, at
        t.save(update_fields=["state", "stopped_at"])
        _touched(case)


def timers_pause(case: Case, *, at: datetime) -> None:
    """A suspended case's clocks stop (every handling clock, co-handling units' too). A clock
    already overdue keeps its breach: the time overdue so far is kept (issue 14.12)."""
    for t in _open(case, None, every_unit=True):
        if t.state in (TimerState.RUNNING, TimerState.BREACHED):
            if t.breached_at is None and t.due_at <= at:
                t.breached_at = t.due_at
            t.state, t.paused_at = TimerState.PAUSED, at
            t.save(update_fields=["state", "paused_at", "breached_at"])
            _touched(case)


def timers_resume(case: Case, *, at: datetime, cfg: PolicyConfig) -> None:
    for t in _open(case, None, every_unit=True):
        if t.state == TimerState.PAUSED and t.paused_at is not None:
            t.adjustments = [*t.adjustments, {"type": "pause", "from": t.paused_at.isoformat(), "to": at.isoformat()}]
            t.paused_at = None
            _apply_due(t, cfg, case)
            t.state = TimerState.RUNNING if t.breached_at is None else TimerState.BREACHED
            t.save(update_fields=["state", "paused_at", "adjustments", "due_at", "remind_at", "provisional",
                                  "capped_by_upstream", "capped_by"])
            _touched(case)


def _ceiling(timer: Timer, amount: int, unit: str, cfg: PolicyConfig) -> datetime:
    """`amount`/`unit` from the timer's start, shifted by its pauses (a paused clock does not use
    up an extension limit)."""
    probe = Timer(
        code=timer.code, started_at=timer.started_at, amount=amount, unit=unit,
        adjustments=[a for a in timer.adjustments if a["type"] == "pause"],
    )
    return compute_due(probe, cfg).due_at


def extension_ceiling(timer: Timer, cfg: PolicyConfig) -> datetime | None:
    """The latest a timer may be extended to: the policy's last extension tier counted from its
    start, shifted by any pauses."""
    limit = cfg.extension_max
    return _ceiling(timer, limit[0], limit[1], cfg) if limit else None


def timer_extend(case: Case, code: str, *, amount: int, unit: str, cfg: PolicyConfig) -> Timer:
    """Add a granted extension to the open clock `code`. Extending the end-to-end clock lifts
    the cap it puts on the stage clocks, so they are computed again."""
    timers = _open(case, (code,))
    if not timers:
        raise LookupError(code)
    t = timers[0]
    t.adjustments = [*t.adjustments, {"type": "extension", "amount": amount, "unit": unit}]
    _apply_due(t, cfg, case)
    t.save(update_fields=["adjustments", "due_at", "remind_at", "provisional", "capped_by_upstream", "capped_by"])
    if code == END_TO_END:
        for other in _open(case, None, every_unit=True):
            if other.code != END_TO_END:
                _apply_due(other, cfg, case)
                other.save(update_fields=["due_at", "remind_at", "provisional", "capped_by_upstream", "capped_by"])
    _touched(case)
    return t


def extension_fits(case: Case, code: str, *, amount: int, unit: str, cfg: PolicyConfig) -> tuple[bool, datetime | None]:
    """Whether extending by amount/unit stays within the policy maximum; and that maximum."""
    tier, ceiling = extension_tier(case, code, amount=amount, unit=unit, cfg=cfg)
    return (tier is not None or not cfg.extension_tiers) and bool(_open(case, (code,))), ceiling


def extension_tier(case: Case, code: str, *, amount: int, unit: str,
                   cfg: PolicyConfig) -> tuple[ExtensionTier | None, datetime | None]:
    """The first extension tier (延期 with its approver) within whose limit the clock `code`,
    extended by amount/unit, stays — None when it passes them all (or the clock is not running) —
    and the last tier's limit."""
    timers = _open(case, (code,))
    if not timers or not cfg.extension_tiers:
        return None, None
    t = timers[0]
    probe = Timer(
        code=t.code, started_at=t.started_at, amount=t.amount, unit=t.unit,
        adjustments=[*t.adjustments, {"type": "extension", "amount": amount, "unit": unit}],
    )
    extended = compute_due(probe, cfg).due_at
    ceiling = None
    for tier in cfg.extension_tiers:
        ceiling = _ceiling(t, tier.amount, tier.unit, cfg)
        if extended <= ceiling:
            return tier, ceiling
    return None, ceiling


def timers_recompute_provisional() -> int:
    """Recompute every open provisional timer (after a calendar year is imported)."""
    from huiyin.policies.services import config_for

    count = 0
    qs = Timer.objects.filter(provisional=True, stopped_at__isnull=True).select_related("case")
    for t in qs.iterator(chunk_size=500):
        recompute(t, config_for(t.case.policy_id))
        count += 1
    return count


def recompute(t: Timer, cfg: PolicyConfig | None = None) -> None:
    """Compute an open timer's due time again (e.g. now that its year's calendar is known)."""
    from huiyin.policies.services import config_for

    _apply_due(t, cfg or config_for(t.case.policy_id), t.case)
    t.save(update_fields=["due_at", "remind_at", "provisional", "capped_by_upstream", "capped_by"])
    _touched(t.case)
    if fields := refresh_case_deadline(t.case):
        Case.objects.filter(pk=t.case.pk).update(**{f: getattr(t.case, f) for f in fields})


def on_calendar_year_imported(sender: object, year: int, **kwargs: object) -> None:
    """A year's official calendar arrived: every provisional deadline is computed again."""
    timers_recompute_provisional()
