"""Background jobs over cases, one step at a time and safe on several nodes at once.

Each job claims its rows with a conditional UPDATE (or a unique row) and acts only where
its claim changed something, so two workers never record the same breach, send the same
reminder or fire the same rule twice. Each returns how much it did (0 = nothing to do).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from huiyin.policies.models import Policy
from huiyin.policies.services import config_for
from huiyin.sla import calendar as cal

from . import deadlines, notifications, workflow
from .models import FINAL_STATES, Case, Event, RuleHit, Timer, TimerState

log = logging.getLogger(__name__)


def _claim_timers(filters: Q, update: dict[str, Any], limit: int) -> list[tuple[Any, ...]]:
    """Claim up to `limit` timers matching `filters` inside the caller's transaction: rows are
    locked (PostgreSQL: FOR UPDATE SKIP LOCKED, so another worker takes the next ones; SQLite:
    the IMMEDIATE transaction holds the write lock), then updated. Returns their
    (id, case_id, code, due_at, round)."""
    qs = Timer.objects.filter(filters).order_by("due_at")
    if connection.vendor == "postgresql":
        qs = qs.select_for_update(skip_locked=True)
    rows = list(qs.values_list("id", "case_id", "code", "due_at", "round")[:limit])
    if rows:
        changed = Timer.objects.filter(filters, pk__in=[r[0] for r in rows]).update(**update)
        if changed != len(rows):  # cannot happen with the rows locked; never record half a claim
            raise RuntimeError("timer claim lost rows; the pass is rolled back and retried")
    return rows


def sweep_breaches(now: datetime | None = None, *, limit: int = 2000) -> int:
    """Mark running timers past their due time as breached, each with a timeline event and
    a `case.breached` notification, in batches."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = _claim_timers(Q(state=TimerState.RUNNING, due_at__lt=now),
                             {"state": TimerState.BREACHED, "breached_at": F("due_at")}, limit)
        if not rows:
            return 0
        Event.objects.bulk_create([
            Event(case_id=case_id, action="breach", actor=None, at=now, source="worker",
                  changes={"timer": [None, code], "round": [None, round_no],
                           "due_at": [None, timezone.localtime(due_at).isoformat()]})
            for _id, case_id, code, due_at, round_no in rows
        ], batch_size=500)
        cases = Case.objects.select_related("owner_unit", "unit").in_bulk({r[1] for r in rows})
        notifications.notify_batch([
            (cases[case_id], "case.breached", f"case.breached:timer{timer_id}", {"note": code, "deadline": due_at})
            for timer_id, case_id, code, due_at, _round in rows
        ])
    return len(rows)


def sweep_reminders(now: datetime | None = None, *, limit: int = 2000) -> int:
    """Remind when a running timer has used the policy's reminder share of its time."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = _claim_timers(Q(state=TimerState.RUNNING, reminded_at__isnull=True, remind_at__lte=now),
                             {"reminded_at": now}, limit)
        if not rows:
            return 0
        cases = Case.objects.select_related("owner_unit", "unit").in_bulk({r[1] for r in rows})
        notifications.notify_batch([
            (cases[case_id], "case.reminder", f"case.reminder:timer{timer_id}", {"note": code, "deadline": due_at})
            for timer_id, case_id, code, due_at, _round in rows
        ])
    return len(rows)


def sweep_rules(now: datetime | None = None, *, limit: int = 500) -> int:
    """Re-evaluate the rules that run on a schedule (age, breaches, counts — automatic
    upgrade of DESIGN §5) on the open cases that could newly match them."""
    now = now or timezone.now()
    fired = 0
    for policy_id in Policy.objects.values_list("pk", flat=True):
        cfg = config_for(policy_id)
        for rule in cfg.rules:
            if "schedule" not in rule.on:
                continue
            qs = Case.objects.filter(policy_id=policy_id).exclude(state__in=FINAL_STATES)
            qs = qs.exclude(Exists(RuleHit.objects.filter(case=OuterRef("pk"), rule=rule.name)))
            qs = _narrow(qs, rule.when, now)
            for case_id in qs.order_by("id").values_list("id", flat=True)[:limit]:
                with transaction.atomic():
                    case = Case.objects.select_for_update(of=("self",)).select_related(
                        "owner_unit", "unit").get(pk=case_id)
                    fired += len(workflow.rules_apply(case, trigger="schedule", now=now, only=[rule]))
    return fired


def _narrow(qs, cond, now):  # type: ignore[no-untyped-def]
    """Cut the candidates of a scheduled rule down with what its condition says for sure
    (an age condition at the top level: received long enough ago; a timer condition: such
    a timer exists), so a pass over a million cases looks at the few that can match."""
    parts = cond.get("all", [cond])
    for part in parts:
        if "age" in part:
            unit = part["age"].get("unit", "calendar_days")
            gte = float(part["age"]["gte"])
            span = timedelta(hours=gte) if unit == "hours" else timedelta(days=gte)
            qs = qs.filter(received_at__lte=now - (span if unit != "working_days" else span * 5 / 7))
        elif "timer" in part:
            t = part["timer"]
            qs = qs.filter(Exists(Timer.objects.filter(case=OuterRef("pk"), code=t["code"], state=t["state"])))
        elif "count" in part:
            hours = float(part["count"]["window_hours"])
            qs = qs.filter(received_at__gte=now - timedelta(hours=2 * hours))
        elif "field" in part and part["field"] in ("severity", "kind", "state") and "eq" in part:
            qs = qs.filter(**{part["field"]: part["eq"]})
        elif "field" in part and part["field"] in ("severity", "kind", "state") and "in" in part:
            qs = qs.filter(**{f"{part['field']}__in": part["in"]})
    return qs


def sweep_provisional(*, limit: int = 500) -> int:
    """Recompute provisional deadlines whose years the calendar now knows (an administrator
    imported them in any process); the import's signal does it at once in its own process."""
    recomputed = 0
    ids = list(Timer.objects.filter(provisional=True, stopped_at__isnull=True).values_list(
        "id", "started_at", "due_at")[:limit])
    for timer_id, started_at, due_at in ids:
        years = range(timezone.localtime(started_at).year, timezone.localtime(due_at).year + 2)
        if not all(cal.year_known(y) for y in years):
            continue
        with transaction.atomic():
            t = Timer.objects.select_for_update().select_related("case").filter(pk=timer_id, provisional=True).first()
            if t is None:
                continue
            deadlines.recompute(t)
            recomputed += 1
    return recomputed


JOBS = (sweep_breaches, sweep_reminders, sweep_rules, sweep_provisional)


def run_pass() -> dict[str, int]:
    """One pass of every job, each until it has nothing left to do."""
    done: dict[str, int] = {}
    for job in JOBS:
        total = 0
        while (n := job()) > 0:
            total += n
            if job is sweep_provisional or job is sweep_rules:
                break  # their work does not shrink what they select on a second call in this pass
        done[job.__name__] = total
    return done
