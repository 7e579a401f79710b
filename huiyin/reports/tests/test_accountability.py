"""Accountability (考核): the penalty job, the `penalty` event on the timeline, the API and page of
entries (the cases' scope), the appeal path, and the performance-review export."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from huiyin.cases.models import Case, Event
from huiyin.cases.tests.helpers import RESULT, case_in, custom_policy
from huiyin.reports import penalties
from huiyin.reports.models import PenaltyEntry

pytestmark = pytest.mark.django_db

LIABLE = {**RESULT, "liability": "enterprise"}


def _points(config: dict[str, Any]) -> None:
    """The property company's 1 / 2 / 5 points (its preset's `penalties`) on the tobacco workflow."""
    config["penalties"] = [
        {"code": "general_complaint", "points": 1, "severities": ["general", "difficult"], "basis": "第二十条 一般投诉扣1分"},
        {"code": "major_complaint", "points": 5, "severities": ["major"], "basis": "第二十一条 重大投诉扣5分"},
        {"code": "concealment", "points": 3, "manual": True, "basis": "隐瞒不报扣3分"},
    ]


def _close(api: Any, number: str, result: dict[str, Any]) -> None:
    for user, action, body in [("handler_a", "submit_result", result), ("dispatcher", "review", {"accept": True}),
                               ("agent", "callback", {"satisfaction": "satisfied"})]:
        r = api(user).act(number, action, body)
        assert r.status_code == 200, (action, r.content)
    if r.json()["state"] != "closed":
        r = api("leader").act(number, "close", {})
        assert r.status_code == 200, r.content
    assert r.json()["state"] == "closed"


def _drain() -> int:
    total = 0
    while n := penalties.step():
        total += n
    return total


def _page(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_a_valid_complaint_closed_with_liability_costs_its_points_once(api: Any, org: Any) -> None:
    custom_policy(_points)
    liable = case_in(api, "accepted")
    _close(api, liable, LIABLE)
    not_liable = case_in(api, "accepted")
    _close(api, not_liable, {**RESULT, "liability": "customer"})
    invalid = case_in(api, "invalid")

    assert penalties.step() == 2  # the two closed cases are looked at
    assert penalties.step() == 0
    # the settled pass reads the same events again: still one entry per case and rule
    with time_machine.travel(timezone.now() + timedelta(minutes=5), tick=False):
        assert _drain() == 2
    entry = PenaltyEntry.objects.get()
    assert (entry.case.number, entry.rule, int(entry.points), entry.unit.code, entry.person) == (
        liable, "general_complaint", 1, "county_a", org.handler_a)
    # on the case's timeline: a `penalty` event with the points and the rule
    event = Event.objects.filter(case__number=liable, action="penalty").get()
    assert event.changes["penalty"][1]["rule"] == "general_complaint"
    assert float(event.changes["penalty"][1]["points"]) == 1
    assert not Event.objects.filter(case__number__in=[not_liable, invalid], action="penalty").exists()
    # applying it again by hand changes nothing either
    assert penalties.apply(Case.objects.get(number=liable)) == 0

    # the API: the same scoping as cases
    r = api("leader").get("/penalties", unit="bureau")
    assert r.status_code == 200, r.content
    items = r.json()["items"]
    assert [(i["case"], i["person"], i["unit"], i["points"], i["rule"]) for i in items] == [
        (liable, "handler_a", "county_a", 1.0, "general_complaint")]
    assert api("handler_b").get("/penalties").json()["items"] == []
    assert api("handler_b").get("/penalties", unit="county_a").status_code == 404
    assert api("leader").get("/penalties", **{"from": "2026-13-01"}).status_code == 422


def test_the_person_appeals_and_a_supervisor_decides(api: Any, org: Any) -> None:
    custom_policy(_points)
    number = case_in(api, "accepted")
    _close(api, number, LIABLE)
    _drain()
    entry = PenaltyEntry.objects.get()

    # another handler may not appeal; an empty reason is refused
    r = _page(org.handler_b).post(f"/reports/penalties/{entry.pk}/appeal", {"reason": "不是我"})
    assert r.status_code == 404
    me = _page(org.handler_a)
    r = me.post(f"/reports/penalties/{entry.pk}/appeal", {"reason": ""})
    assert r.status_code == 302
    entry.refresh_from_db()
    assert entry.status == "active"
    r = me.post(f"/reports/penalties/{entry.pk}/appeal", {"reason": "已按时处理,责任在客户"})
    assert r.status_code == 302
    entry.refresh_from_db()
    assert entry.status == "appealed"
    # the appellant does not decide; the supervisor does
    me.post(f"/reports/penalties/{entry.pk}/decide", {"upheld": "0", "note": "自己决定"})
    entry.refresh_from_db()
    assert entry.status == "appealed"
    r = _page(org.supervisor).post(f"/reports/penalties/{entry.pk}/decide", {"upheld": "0", "note": "核实后撤销"})
    assert r.status_code == 302
    entry.refresh_from_db()
    assert entry.status == "cancelled"
    assert Event.objects.filter(case__number=number, action="penalty").count() == 3
    # the page shows the entry and its state; a cancelled entry no longer counts
    page = _page(org.leader).get("/reports/penalties/", {"case": number})
    assert page.status_code == 200 and number in page.content.decode()
    assert penalties.totals([entry])["points_deducted"] == 0


def test_a_manual_rule_is_recorded_by_a_supervisor_and_exported(api: Any, org: Any) -> None:
    custom_policy(_points)
    number = case_in(api, "accepted")
    _close(api, number, LIABLE)
    _drain()
    r = _page(org.handler_a).post("/reports/penalties/record", {"case": number, "rule": "concealment", "note": "瞒报"})
    assert r.status_code == 302 and PenaltyEntry.objects.count() == 1  # only a supervisor records
    r = _page(org.supervisor).post("/reports/penalties/record", {"case": number, "rule": "concealment", "note": "瞒报"})
    assert r.status_code == 302
    assert sorted((r, int(p)) for r, p in PenaltyEntry.objects.values_list("rule", "points")) == [
        ("concealment", 3), ("general_complaint", 1)]
    r = _page(org.supervisor).post("/reports/penalties/record", {"case": number, "rule": "nonsense"})
    assert r.status_code == 302 and PenaltyEntry.objects.count() == 2

    x = _page(org.leader).get("/reports/penalties/export.xlsx")
    assert x.status_code == 200
    wb = load_workbook(io.BytesIO(x.content))
    text = "\n".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None)
    assert "county_a" in text or "县" in text
