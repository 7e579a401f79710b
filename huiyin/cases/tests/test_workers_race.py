"""Two real worker processes racing over the same due work: nothing is done twice.

Runs on SQLite and on PostgreSQL (make test runs the suite on both)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from huiyin.cases.models import Event, RuleHit, Timer
from huiyin.conftest import COMPLAINT, Api
from huiyin.notify.models import InboxItem
from huiyin.policies.services import policy_load_preset

pytestmark = pytest.mark.django_db(transaction=True)

RACE = """
name: race
workflow: {approval_before_dispatch: []}
reminder_share: 0.5
timers:
  acknowledge: {default: {amount: 30, unit: calendar_days}}
  resolve: {default: {amount: 30, unit: calendar_days}}
rules:
  - name: 超期升级
    triggers: [schedule]
    when: {timer: {code: resolve, state: breached}}
    then: [{set_severity: major}, {escalate: true}]
"""


def _workers_env() -> dict[str, str]:
    db = connection.settings_dict
    env = dict(os.environ)
    if connection.vendor == "postgresql":
        env["HUIYIN_DATABASE_URL"] = (
            f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        )
    else:
        env["HUIYIN_DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    return env


def test_two_workers_never_escalate_or_remind_twice(org) -> None:
    policy_load_preset("race", text=RACE)
    now = timezone.now()
    old, recent = [], []
    for i in range(6):
        with time_machine.travel(now - timedelta(days=60), tick=False):
            c = Api(org.agent).post("/cases", {**COMPLAINT, "complainant": {"phone": f"1370000{i:04d}"}}).json()
            Api(org.dispatcher).act(c["number"], "dispatch", {"unit": "county_a"})
            old.append(c["number"])
        with time_machine.travel(now - timedelta(days=20), tick=False):
            c = Api(org.agent).post("/cases", {**COMPLAINT, "complainant": {"phone": f"1360000{i:04d}"}}).json()
            Api(org.dispatcher).act(c["number"], "dispatch", {"unit": "county_b"})
            recent.append(c["number"])
    cmd = [sys.executable, "-m", "huiyin.manage", "worker", "--once"]
    procs = [subprocess.Popen(cmd, env=_workers_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs

    for n in old:
        # acknowledge and resolve breached once each; the rule fired once
        assert Event.objects.filter(case__number=n, action="breach").count() == 2, n
        assert RuleHit.objects.filter(case__number=n, rule="超期升级").count() == 1
        assert Event.objects.filter(case__number=n, action="rule").count() == 1
        assert InboxItem.objects.filter(case_number=n, event="case.escalated", user__username="supervisor").count() == 1
        assert InboxItem.objects.filter(case_number=n, event="case.breached", user__username="handler_a").count() == 2
    for n in recent:
        assert Timer.objects.filter(case__number=n, code="resolve", reminded_at__isnull=False).count() == 1
        assert InboxItem.objects.filter(case_number=n, event="case.reminder", user__username="handler_b").count() == 2
