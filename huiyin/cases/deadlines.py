"""Stage timers of a case: the only code that writes a `Timer`.

Called only from `cases.workflow` (inside its transaction, with the case row locked) and from
the worker's jobs in `cases.jobs` (breaches, reminders, provisional recomputation) — never from
views, the API or other apps. A timer's
due time is always `compute_due(timer)`: the policy's amount from `started_at`,
then every adjustment (granted extension, pause) replayed in order, then the
upstream's own deadline if that is earlier.
"""

from __future__ import annotations

from datetime import datetime

from huiyin.org.models import Unit
from huiyin.policies.config import PolicyConfig
from huiyin.sla import calendar as cal
from huiyin.sla.services import note_missing_years

from .models import Case, Timer, TimerState

NATURAL_UNITS = (cal.TimeUnit.MINUTES, cal.TimeUnit.HOURS, cal.TimeUnit.CALENDAR_DAYS)


def _touched(case: Case) -> None:
    case._timers_touched = True  # type: ignore[attr-defined]


def refresh_case_deadline(case: Case) -> set[str]:
    """Keep `Case.next_due_at`/`next_remind_at` equal to the earliest counting deadline of the
    case's main stages, after timers changed in this step. Returns the columns that changed (the
    workflow saves them with the step, without recording them on the timeline)."""
    if not getattr(case, "_timers_touched", False):
        return set()
    case._timers_touched = False  # type: ignore[attr-defined]
    row = (
        Timer.objects.filter(case=case, stopped_at__isnull=True, co_unit__isnull=True)
        .exclude(state=TimerState.PAUSED).order_by("due_at").values_list("due_at", "remind_at").first()
    )
    due, remind = row if row else (None, None)
    if (due, remind) == (case.next_due_at, case.next_remind_at):
        return set()
    case.next_due_at, case.next_remind_at = due, remind
    return {"next_due_at", "next_remind_at"}


def compute_due(timer: Timer, cfg: PolicyConfig, *, upstream_due_at: datetime | None = None) -> cal.Deadline:
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
            if timer.unit in NATURAL_UNITS:
                due = due + (resumed - paused)
            else:
                remaining = cal.business_minutes_between(max(paused, timer.started_at), due, hours=hours)
                step = cal.add_business_minutes(resumed, remaining, hours=hours)
                due, provisional = step.due_at, provisional or step.provisional
                unknown.update(step.unknown_years)
    if timer.code == "resolve" and upstream_due_at is not None and upstream_due_at < due:
        return cal.Deadline(upstream_due_at, False, ())
    return cal.Deadline(due, provisional, tuple(sorted(unknown)))


def _apply_due(timer: Timer, cfg: PolicyConfig, case: Case) -> None:
    d = compute_due(timer, cfg, upstream_due_at=case.upstream_due_at)
    timer.due_at = d.due_at
    timer.remind_at = timer.started_at + (d.due_at - timer.started_at) * cfg.reminder_share
    timer.provisional = d.provisional
    timer.capped_by_upstream = timer.code == "resolve" and case.upstream_due_at == d.due_at
    if d.unknown_years:
        note_missing_years(d.unknown_years)


def timer_start(
    case: Case, code: str, *, at: datetime, cfg: PolicyConfig, unit: Unit | None = None, new_case: bool = False
) -> Timer | None:
    """Start stage `code` for the case's current round, if the policy has such a timer.
    `unit` is given only for a co-handling unit's own stage."""
    spec = cfg.timer(code, kind=case.kind, channel=case.channel, severity=case.severity)
    if spec is None:
        return None
    at = at.replace(microsecond=0)  # deadlines are shown and compared to the second
    if not new_case:  # a case just registered has no timer to replace
        timer_cancel(case, (code,), at=at, unit=unit)
    timer = Timer(
        case=case, code=code, round=case.round, amount=spec.amount, unit=spec.unit,
        basis=spec.basis, started_at=case.received_at if spec.from_receipt and case.round == 1 else at,
        co_unit=unit,
    )
    _apply_due(timer, cfg, case)
    timer.save()
    _touched(case)
    return timer


def _open(case: Case, codes: tuple[str, ...] | None, unit: Unit | None = None, *, every_unit: bool = False) -> list[Timer]:
    qs = Timer.objects.filter(case=case, stopped_at__isnull=True)
    if not every_unit:
        qs = qs.filter(co_unit=unit) if unit is not None else qs.filter(co_unit__isnull=True)
    if codes is not None:
        qs = qs.filter(code__in=codes)
    return list(qs)


def timer_stop(case: Case, codes: tuple[str, ...], *, at: datetime, unit: Unit | None = None) -> list[Timer]:
    """The stage is done: met if on time, breached (by how much) if late."""
    stopped = []
    for t in _open(case, codes, unit):
        t.stopped_at = at
        if at <= t.due_at and t.breached_at is None:
            t.state = TimerState.MET
        else:
            t.state = TimerState.BREACHED
            t.breached_at = t.breached_at or t.due_at
            t.breach_seconds = int((at - t.due_at).total_seconds())
        t.save(update_fields=["state", "stopped_at", "breached_at", "breach_seconds"])
        stopped.append(t)
    if stopped:
        _touched(case)
    return stopped


def timer_cancel(
    case: Case, codes: tuple[str, ...] | None, *, at: datetime, unit: Unit | None = None, every_unit: bool = False
) -> None:
    """The stage was abandoned (case returned, closed early): no longer counted."""
    for t in _open(case, codes, unit, every_unit=every_unit):
        t.state, t.stopped_at = TimerState.CANCELLED, at
        t.save(update_fields=["state", "stopped_at"])
        _touched(case)


def timers_pause(case: Case, *, at: datetime) -> None:
    for t in _open(case, None, every_unit=True):
        if t.state in (TimerState.RUNNING, TimerState.BREACHED):
            t.state, t.paused_at = TimerState.PAUSED, at
            t.save(update_fields=["state", "paused_at"])
            _touched(case)


def timers_resume(case: Case, *, at: datetime, cfg: PolicyConfig) -> None:
    for t in _open(case, None, every_unit=True):
        if t.state == TimerState.PAUSED and t.paused_at is not None:
            t.adjustments = [*t.adjustments, {"type": "pause", "from": t.paused_at.isoformat(), "to": at.isoformat()}]
            t.paused_at = None
            _apply_due(t, cfg, case)
            t.state = TimerState.RUNNING if t.breached_at is None else TimerState.BREACHED
            t.save(update_fields=["state", "paused_at", "adjustments", "due_at", "remind_at", "provisional", "capped_by_upstream"])
            _touched(case)


def extension_ceiling(timer: Timer, cfg: PolicyConfig) -> datetime | None:
    """The latest a timer may be extended to: the policy maximum counted from its start,
    shifted by any pauses (a paused clock does not use up the maximum)."""
    limit = cfg.extension_max
    if limit is None:
        return None
    probe = Timer(
        code=timer.code, started_at=timer.started_at, amount=limit[0], unit=limit[1],
        adjustments=[a for a in timer.adjustments if a["type"] == "pause"],
    )
    return compute_due(probe, cfg).due_at


def timer_extend(case: Case, code: str, *, amount: int, unit: str, cfg: PolicyConfig) -> Timer:
    timers = _open(case, (code,))
    if not timers:
        raise LookupError(code)
    t = timers[0]
    t.adjustments = [*t.adjustments, {"type": "extension", "amount": amount, "unit": unit}]
    _apply_due(t, cfg, case)
    t.save(update_fields=["adjustments", "due_at", "remind_at", "provisional", "capped_by_upstream"])
    _touched(case)
    return t


def extension_fits(case: Case, code: str, *, amount: int, unit: str, cfg: PolicyConfig) -> tuple[bool, datetime | None]:
    """Whether extending by amount/unit stays within the policy maximum; and that maximum."""
    timers = _open(case, (code,))
    if not timers:
        return False, None
    t = timers[0]
    ceiling = extension_ceiling(t, cfg)
    if ceiling is None:
        return True, None
    probe = Timer(
        code=t.code, started_at=t.started_at, amount=t.amount, unit=t.unit,
        adjustments=[*t.adjustments, {"type": "extension", "amount": amount, "unit": unit}],
    )
    return compute_due(probe, cfg).due_at <= ceiling, ceiling


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
    t.save(update_fields=["due_at", "remind_at", "provisional", "capped_by_upstream"])
    _touched(t.case)
    if fields := refresh_case_deadline(t.case):
        Case.objects.filter(pk=t.case.pk).update(**{f: getattr(t.case, f) for f in fields})


def on_calendar_year_imported(sender: object, year: int, **kwargs: object) -> None:
    """A year's official calendar arrived: every provisional deadline is computed again."""
    timers_recompute_provisional()
