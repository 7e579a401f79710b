"""Joint cases (主办/协办) and disputed returns (派单异议审核)."""

from __future__ import annotations

import pytest
import time_machine

from huiyin.cases.models import Timer
from huiyin.cases.tests.helpers import RESULT, case_in
from huiyin.conftest import bj, new_case

pytestmark = pytest.mark.django_db


def test_a_joint_case_has_a_lead_unit_and_co_units_each_with_their_own_deadline(api) -> None:
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):
        n = new_case(api)["number"]
        r = api("dispatcher").act(n, "dispatch", {"unit": "county_a", "co_units": ["county_b", "logistics"]})
        assert r.json()["proposed_co_units"] == ["county_b", "logistics"]
        body = api("leader").act(n, "approve").json()
        assert body["unit"] == "county_a"
        assert [c["unit"] for c in body["co_units"]] == ["county_b", "logistics"]
        co_b = body["co_units"][0]
        assert {d["timer"]: d["due_at"] for d in co_b["deadlines"]} == {
            "acknowledge": "2026-03-09T11:00:00+08:00", "resolve": "2026-03-11T17:30:00+08:00",
        }
        # the co-handling county sees the case and does its own part — nothing else
        assert api("handler_b").get(f"/cases/{n}").status_code == 200
        assert api("handler_b").get(f"/cases/{n}").json()["allowed_actions"] == ["co_acknowledge"]
        assert api("handler_b").act(n, "acknowledge").status_code == 403
        assert api("handler_b").act(n, "co_acknowledge").json()["state"] == "dispatched"
        assert api("handler_b").act(n, "co_acknowledge").status_code == 409
        r = api("handler_b").act(n, "co_submit_result", {"result": "县局B已核实本辖区配送记录"})
        assert r.json()["co_units"][0]["result"] == "县局B已核实本辖区配送记录"
        assert api("handler_b").get(f"/cases/{n}").json()["allowed_actions"] == []
        # the lead unit's result closes the round; logistics never answered, its clock stops
        api("handler_a").act(n, "acknowledge")
        api("handler_a").act(n, "submit_result", RESULT)
    open_co = Timer.objects.filter(case__number=n, co_unit__isnull=False, stopped_at__isnull=True)
    assert not open_co.exists()
    states = dict(Timer.objects.filter(case__number=n, co_unit__code="logistics").values_list("code", "state"))
    assert states == {"acknowledge": "cancelled", "resolve": "cancelled"}
    states = dict(Timer.objects.filter(case__number=n, co_unit__code="county_b").values_list("code", "state"))
    assert states == {"acknowledge": "met", "resolve": "met"}


def test_co_units_must_differ_from_the_lead(api) -> None:
    n = new_case(api)["number"]
    r = api("dispatcher").act(n, "dispatch", {"unit": "county_a", "co_units": ["county_a"]})
    assert r.status_code == 422
    assert "co_units" in r.json()["error"]["fields"]
    r = api("dispatcher").act(n, "dispatch", {"unit": "county_a", "co_units": ["nowhere"]})
    assert r.status_code == 422


def test_a_disputed_return_waits_for_the_supervisor(api) -> None:
    n = case_in(api, "returned")
    r = api("dispatcher").act(n, "dispute_return", {"reason": "配送问题属县局A辖区"})
    assert r.json()["return_disputed"] is True
    assert "dispatch" not in r.json()["allowed_actions"]
    assert api("dispatcher").act(n, "dispatch", {"unit": "county_b"}).status_code == 409
    assert api("dispatcher").act(n, "decide_return", {"uphold": False}).status_code == 403
    r = api("supervisor").act(n, "decide_return", {"uphold": False, "comment": "退单理由不成立"})
    assert r.json()["state"] == "dispatched"
    assert r.json()["unit"] == "county_a"
    assert r.json()["return_disputed"] is False


def test_an_upheld_return_is_dispatched_elsewhere(api) -> None:
    n = case_in(api, "returned")
    api("dispatcher").act(n, "dispute_return", {"reason": "x"})
    r = api("supervisor").act(n, "decide_return", {"uphold": True})
    assert r.json()["state"] == "returned"
    assert api("dispatcher").act(n, "dispatch", {"unit": "county_b"}).json()["state"] == "pending_approval"
