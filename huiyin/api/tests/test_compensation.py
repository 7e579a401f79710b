"""Compensation above the policy's limit (赔偿审批) through the API: the leader decides."""

from __future__ import annotations

import pytest

from huiyin.cases.models import Event
from huiyin.cases.tests.helpers import case_in
from huiyin.policies.models import Policy
from huiyin.policies.services import clear_cache

pytestmark = pytest.mark.django_db


def test_the_leader_refuses_compensation_above_the_limit(api) -> None:
    policy = Policy.objects.get(active=True)
    Policy.objects.filter(pk=policy.pk).update(config={**policy.config, "compensation": {"approval_above": 1000}})
    clear_cache()
    n = case_in(api, "accepted")
    assert api("handler_a").act(n, "compensate", {"amount": "5000.00", "form": "退款"}).status_code == 200
    assert api("handler_a").act(n, "refuse_compensation").status_code == 403  # the leader's decision
    r = api("leader").act(n, "refuse_compensation", {"comment": "超出赔偿标准"})
    assert r.status_code == 200
    assert r.json()["compensation"] == {"amount": "5000.00", "form": "退款", "status": "refused"}
    assert "refuse_compensation" not in r.json()["allowed_actions"]
    event = Event.objects.get(case__number=n, action="refuse_compensation")
    assert event.changes == {"compensation_status": ["requested", "refused"]}
    assert event.comment == "超出赔偿标准"
    assert api("leader").act(n, "approve_compensation").status_code == 409  # decided already
