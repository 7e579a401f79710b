"""Issue 3's figures: one scheduler pass over the loaded cases with a given number due, and
rules evaluated per second on intake with a preset loaded; and the work the background
worker is given while intake latency is measured with it running (`prime_worker`).

`pass_run` makes exactly `due` open timers of open cases run past their due time (the rest
are put in the future), then times the case jobs of `cases.jobs.run_pass()` — breaches with
their timeline events and notifications, reminders, scheduled rules, provisional deadlines — as
the worker runs them. `rules_run` registers cases under a preset and times `workflow.rules_apply` alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

GOAL_PASS_S = 2.0


def pass_run(due: int = 10_000, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.db.models import CharField, Value
    from django.db.models.functions import Cast, Concat
    from django.utils import timezone

    from huiyin.cases import jobs
    from huiyin.cases.models import Case, Timer
    from huiyin.notify.models import Notice

    from .guard import check_configured

    check_configured()  # it rewrites every open timer

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
        # A timer breaches once in real life; here the same timers come due again run after run.
        # Their earlier breach notices are renamed, so that every run writes its 10,000 notices
        # as a first pass does (else the notices' dedupe would skip them all after the first run).
        renamed = Notice.objects.filter(dedupe_key__in=[f"case.breached:timer{pk}" for pk in open_ids]).update(
            dedupe_key=Concat("dedupe_key", Value(":earlier"), Cast("id", CharField())))
    if renamed:
        log(f"scheduler: {renamed:,} breach notices of earlier runs renamed")
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
    log(f"scheduler pass: {elapsed:.2f}s ({', '.join(f'{k} {v}s' for k, v in per_job.items())})")
    # Then the same jobs with nothing due. Not `run_pass()`: it runs the other apps' jobs too
    # (jobs.EXTRA_JOBS), and the loaded cases leave those a one-off backlog of their own — the
    # reports' rollup of every loaded case, tens of minutes at 1,000,000 (docs/benchmarks.md).
    t1 = time.perf_counter()
    again = {job.__name__: job() for job in jobs.JOBS}
    idle = time.perf_counter() - t1
    return {
        "cases": cases, "due": len(open_ids), "pass_s": round(elapsed, 2), "done": done, "per_job_s": per_job,
        "one_off_rule_escalations": drained, "one_off_s": round(drain_s, 1),
        "idle_pass_s": round(idle, 3), "idle_done": again, "goal_s": GOAL_PASS_S,
        "ok": elapsed < GOAL_PASS_S,
    }


def prime_worker(due: int, window_s: float, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Give the worker real work for the next `window_s` seconds over the loaded cases:
    `due` running timers come due (a fifth at once, the rest spread evenly over the window,
    so every pass of a worker running with --interval 1 finds new breaches), as many others
    reach their reminder time the same way, and every other open timer is put in the future.
    The scheduled rules' backlog (old open cases the preset's age rules escalate once) is
    left as loaded: the worker works through it as it would after an upgrade."""
    from django.db import connection, transaction
    from django.utils import timezone

    from huiyin.cases.models import FINAL_STATES, Case, RuleHit, Timer

    from .guard import check_configured

    check_configured()
    now = timezone.now()
    with transaction.atomic():
        ids = list(Timer.objects.filter(stopped_at__isnull=True, co_unit__isnull=True).order_by("-id")
                   .values_list("id", flat=True)[:2 * due])
        breach_ids, remind_ids = ids[:due], ids[due:]
        Timer.objects.filter(stopped_at__isnull=True).exclude(pk__in=ids).update(
            state="running", due_at=now + timedelta(days=30), breached_at=None, reminded_at=now,
            remind_at=now + timedelta(days=20))

        def spread(k: int, n: int) -> Any:
            """The k-th of n moments: the first fifth now-ish, the rest over the window."""
            if k < n // 5:
                return now - timedelta(minutes=5)
            return now + timedelta(seconds=window_s * (k - n // 5) / max(1, n - n // 5))

        for ids_, is_breach in ((breach_ids, True), (remind_ids, False)):
            rows = list(Timer.objects.filter(pk__in=ids_).order_by("id"))
            for k, t in enumerate(rows):
                moment = spread(k, len(rows))
                t.state, t.breached_at = "running", None
                if is_breach:
                    t.due_at, t.remind_at, t.reminded_at = moment, moment - timedelta(hours=1), now
                else:
                    t.due_at, t.remind_at, t.reminded_at = now + timedelta(days=2), moment, None
            Timer.objects.bulk_update(rows, ["state", "breached_at", "due_at", "remind_at", "reminded_at"],
                                      batch_size=1000)
    if connection.vendor == "postgresql":
        # The UPDATE above rewrote every open timer: vacuum now, or autovacuum does it during
        # the measured windows.
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE cases_timer")
    open_cases = Case.objects.exclude(state__in=FINAL_STATES).count()
    log(f"worker primed: {len(breach_ids):,} breaches and {len(remind_ids):,} reminders due over "
        f"{window_s:.0f}s; {open_cases:,} open cases for the scheduled rules")
    return {"breaches_due": len(breach_ids), "reminders_due": len(remind_ids), "window_s": window_s,
            "open_cases": open_cases, "rule_hits_before": RuleHit.objects.count()}


def rules_run(preset: str = "insurance", n: int = 300, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    from django.db import transaction

    from huiyin.cases import workflow
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
            fired += len(workflow.rules_apply(case, trigger="intake"))
        transaction.set_rollback(True)
    elapsed = time.perf_counter() - t0
    return {
        "preset": preset, "rules": len(rules), "cases": n, "fired": fired,
        "cases_per_s": round(n / elapsed, 1), "rule_evaluations_per_s": round(n * len(rules) / elapsed, 1),
    }
