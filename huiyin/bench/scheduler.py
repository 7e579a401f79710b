"""Issue 3's figures: one scheduler pass over the loaded cases with a given number due, and
rules evaluated per second on intake with a preset loaded.

`pass_run` makes exactly `due` open timers of open cases run past their due time (the rest
are put in the future), then times `cases.jobs.run_pass()` — breaches with their timeline
events and notifications, reminders, scheduled rules, provisional deadlines — as the worker
runs it. `rules_run` registers cases under a preset and times `grading.rules_apply` alone.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, Callable

GOAL_PASS_S = 2.0


def pass_run(due: int = 10_000, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from huiyin.cases import jobs
    from huiyin.cases.jobs import run_pass
    from huiyin.cases.models import Case, Timer

    # The loaded cases include old open ones that the presets' age rules escalate once each:
    # that one-off work is done first (and reported), so the timed pass has exactly `due`.
    t_drain = time.perf_counter()
    drained = 0
    while (n := jobs.sweep_rules()) > 0:
        drained += n
    drain_s = time.perf_counter() - t_drain
    log(f"scheduler: {drained:,} one-off rule escalations of old open cases first ({drain_s:.1f}s)")
    now = timezone.now()
    with transaction.atomic():
        open_ids = list(
            Timer.objects.filter(stopped_at__isnull=True, co_unit__isnull=True).order_by("-id")
            .values_list("id", flat=True)[:due]
        )
        # Everything else open is in the future and already reminded: only `due` have work.
        Timer.objects.filter(stopped_at__isnull=True).exclude(pk__in=open_ids).update(
            state="running", due_at=now + timedelta(days=30), breached_at=None, reminded_at=now,
            remind_at=now + timedelta(days=20))
        Timer.objects.filter(pk__in=open_ids).update(
            state="running", due_at=now - timedelta(hours=1), breached_at=None, reminded_at=now,
            remind_at=now - timedelta(hours=2))
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE cases_timer")
    cases = Case.objects.count()
    log(f"scheduler pass: {cases:,} cases, {len(open_ids):,} timers due")
    per_job: dict[str, float] = {}
    done: dict[str, int] = {}
    t0 = time.perf_counter()
    for job in jobs.JOBS:  # what run_pass does, timed job by job
        tj = time.perf_counter()
        total = 0
        while (n := job()) > 0:
            total += n
            if job in (jobs.sweep_rules, jobs.sweep_provisional):
                break
        done[job.__name__] = total
        per_job[job.__name__] = round(time.perf_counter() - tj, 3)
    elapsed = time.perf_counter() - t0
    t1 = time.perf_counter()
    again = run_pass()
    idle = time.perf_counter() - t1
    return {
        "cases": cases, "due": len(open_ids), "pass_s": round(elapsed, 2), "done": done, "per_job_s": per_job,
        "one_off_rule_escalations": drained, "one_off_s": round(drain_s, 1),
        "idle_pass_s": round(idle, 3), "idle_done": again, "goal_s": GOAL_PASS_S,
        "ok": elapsed < GOAL_PASS_S,
    }


def rules_run(preset: str = "insurance", n: int = 300, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    from django.db import transaction

    from huiyin.cases import grading
    from huiyin.cases.demo import demo_load
    from huiyin.cases.services import case_register
    from huiyin.org.models import User
    from huiyin.policies.services import config_for, policy_load_preset

    demo_load()
    policy = policy_load_preset(preset)
    rules = [r for r in config_for(policy.pk).rules if "intake" in r.on]
    agent = User.objects.get(username="agent")
    cases = []
    for i in range(n):
        case, _ = case_register({
            "kind": "complaint", "channel": "phone", "subject": "理赔时效投诉", "amount": str(1000 + 97 * i),
            "people_count": 1 + i % 7, "flags": ["media"] if i % 10 == 0 else [],
            "complainant": {"phone": f"1370{i:07d}"},
        }, actor=agent)
        cases.append(case)
    log(f"rules: {len(rules)} intake rules of {preset}, {n} cases")
    t0 = time.perf_counter()
    fired = 0
    with transaction.atomic():
        for case in cases:
            from huiyin.cases.models import RuleHit

            RuleHit.objects.filter(case=case).delete()  # evaluate again from scratch
            fired += len(grading.rules_apply(case, trigger="intake"))
        transaction.set_rollback(True)
    elapsed = time.perf_counter() - t0
    return {
        "preset": preset, "rules": len(rules), "cases": n, "fired": fired,
        "cases_per_s": round(n / elapsed, 1), "rule_evaluations_per_s": round(n * len(rules) / elapsed, 1),
    }
