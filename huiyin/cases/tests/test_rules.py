"""Rules on intake, on change and on schedule; repeats and urges; the notifications they cause."""

from __future__ import annotations

import pytest
import time_machine

from huiyin.cases.jobs import sweep_reminders, sweep_rules
from huiyin.cases.models import Case, Event, RuleHit
from huiyin.cases.tests.helpers import RESULT, case_in
from huiyin.conftest import Api, bj, new_case
from huiyin.notify.models import InboxItem
from huiyin.notify.services import fan_out_pending
from huiyin.policies.services import policy_load_preset

pytestmark = pytest.mark.django_db

CUSTOM = """
name: custom
title: 规则测试
workflow: {approval_before_dispatch: [], plan_approval_severities: []}
repeat: {within_days: 30, open_contact: urge}
timers:
  dispatch: {default: {amount: 1, unit: hours}}
  resolve: {default: {amount: 3, unit: working_days}}
  callback: {default: {amount: 1, unit: working_days}}
rules:
  - name: 金额疑难
    when: {all: [{field: amount, gte: 5000}, {field: amount, lt: 30000}]}
    then: [{set_severity: difficult}]
  - name: 金额重大
    when: {field: amount, gte: 30000}
    then: [{set_severity: major}, {notify: {roles: [leader], event: case.major_opened}}]
  - name: 关键词
    when: {field: text, contains_any: [律师, 起诉]}
    then: [{add_tag: legal}, {require_approval: true}]
  - name: 超期未联系升级
    triggers: [schedule]
    when: {timer: {code: resolve, state: breached}}
    then: [{set_severity: major}, {escalate: true}]
"""


def _names(number: str) -> list[str]:
    return list(Event.objects.filter(case__number=number, action="rule").values_list("comment", flat=True))


def test_amount_thresholds_grade_on_intake_with_the_rule_on_the_timeline(api) -> None:
    policy_load_preset("custom", text=CUSTOM)
    small = new_case(api, amount="800", complainant={"phone": "13900000001"})
    mid = new_case(api, amount="12000", complainant={"phone": "13900000002"})
    big = new_case(api, amount="40000", complainant={"phone": "13900000003"})
    assert (small["severity"], mid["severity"], big["severity"]) == ("general", "difficult", "major")
    assert _names(big["number"]) == ["金额重大"]
    ev = api("agent").get(f"/cases/{big['number']}/timeline").json()["events"][-1]
    assert ev["action"] == "rule"
    assert ev["comment"] == "金额重大"
    assert ev["changes"]["severity"] == ["general", "major"]
    # the leader hears of the major case at once
    assert InboxItem.objects.filter(user__username="leader", case_number=big["number"],
                                    event="case.major_opened").exists()


def test_a_rule_fires_once_and_never_lowers_severity(api) -> None:
    policy_load_preset("custom", text=CUSTOM)
    n = new_case(api, amount="40000")["number"]
    api("dispatcher").act(n, "classify", {"severity": "major"})
    api("agent").act(n, "urge", {"note": "催"})
    assert _names(n) == ["金额重大"]
    assert RuleHit.objects.filter(case__number=n).count() == 1


def test_keywords_require_the_leaders_approval(api) -> None:
    policy_load_preset("custom", text=CUSTOM)
    n = new_case(api, description="客户称已委托律师准备起诉")["number"]
    body = api("agent").get(f"/cases/{n}").json()
    assert "legal" in body["tags"]
    assert body["requires_approval"] is True
    assert api("dispatcher").act(n, "dispatch", {"unit": "county_a"}).json()["state"] == "pending_approval"


def test_a_second_call_about_an_open_case_is_an_urge_not_a_new_case(api) -> None:
    policy_load_preset("custom", text=CUSTOM)
    first = case_in(api, "dispatched")
    r = api("agent").post("/cases", {"kind": "complaint", "channel": "phone", "subject": "怎么还没处理",
                                      "complainant": {"phone": "+86 138-0013-8000"}})
    assert r.status_code == 200
    assert r.json()["number"] == first
    assert r.json()["urged"] is True
    assert r.json()["urge_count"] == 1
    assert Case.objects.count() == 1
    assert InboxItem.objects.filter(user__username="handler_a", event="case.urged").exists()


def test_a_complaint_after_closing_is_linked_as_a_repeat(api) -> None:
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        first = case_in(api, "closed")
    with time_machine.travel(bj(2026, 3, 22, 9, 0), tick=False):
        again = new_case(api, subject="同样的问题又出现了")
        assert again["repeat_of"] == first
        assert "repeat" in again["tags"]
    with time_machine.travel(bj(2026, 5, 22, 9, 0), tick=False):
        later = Api(Case.objects.get(number=first).registered_by).post(
            "/cases", {"kind": "complaint", "channel": "phone", "subject": "两个月后",
                       "complainant": {"phone": "13800138000"}}).json()
        assert later["repeat_of"] is None


def test_the_repeat_look_up_answers_what_the_orm_answers_for_every_shape(api) -> None:
    """The intake's look-up of the customer's recently closed case runs SQL compiled once per shape
    (which identity fields, whether a case is left out): the same answers as the ORM query."""
    from datetime import timedelta

    from django.db.models import Q
    from django.utils import timezone

    from huiyin.cases import grading

    people = [{"phone": "13800001111"}, {"phone": "13800001111", "account": "ACC-9"}, {"account": "ACC-9", "address": "城关镇"},
              {"phone": "13900002222"}, {"phone": "13800001111"}, {"phone": "13800001111"}]
    numbers = [new_case(api, subject=f"第{i}件", complainant=p)["number"] for i, p in enumerate(people)]
    now = timezone.now()
    for i, number in enumerate(numbers[:4]):
        Case.objects.filter(number=number).update(state="closed", closed_at=now - timedelta(days=3 * i + 1))
    Case.objects.filter(number=numbers[4]).update(state="closed", closed_at=now, close_reason="merged")
    Case.objects.filter(number=numbers[5]).update(state="closed", closed_at=now, kind="report")

    def orm(case: Case, days: int) -> tuple | None:
        q = grading.customer_q(case)
        if q is None:
            return None
        q &= Q(state="closed", closed_at__gte=case.received_at - timedelta(days=days),
               closed_at__lte=case.received_at) & ~Q(close_reason="merged")
        if case.pk is not None:
            q &= ~Q(pk=case.pk)
        return Case.objects.filter(q).order_by("-closed_at").values_list("id", "number", "closed_at").first()

    probes = [Case(kind="complaint", received_at=now + timedelta(minutes=1),
                   **{f"complainant_{k}": v for k, v in p.items() if k != "address"})
              for p in [*people[:4], {"phone": "13700000000"}, {"phone": "", "account": "ACC-9"}, {}]]
    probes += [Case(kind="report", complainant_phone="13800001111", received_at=now), *Case.objects.all()]
    answers = []
    for probe in probes:
        for days in (1, 5, 30):
            got = grading.latest_closed_of_customer(probe, days)
            want = orm(probe, days)
            assert (None if got is None else (got.pk, got.number, got.closed_at)) == want, (probe.complainant_phone, days)
            answers.append(want)
    assert any(a is None for a in answers) and len({a for a in answers if a is not None}) >= 3
    from huiyin import kept

    shapes = [v for k, v in kept._KEPT.items() if isinstance(k, tuple) and k[2][0] == "latest_closed_of_customer"]
    assert len(shapes) >= 4 and None not in shapes  # every shape kept, none run through the ORM each time


def test_tobacco_group_complaint_from_three_cases_in_a_region(api) -> None:
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        numbers = [new_case(api, category="logistics_delivery", region="K1区",
                            complainant={"phone": f"1390000000{i}"})["number"] for i in range(3)]
    assert [("group" in Case.objects.get(number=n).tags) for n in numbers] == [False, False, True]
    # the scheduler's re-evaluation catches the earlier ones too
    with time_machine.travel(bj(2026, 3, 2, 10, 0), tick=False):
        sweep_rules()
    assert all("group" in Case.objects.get(number=n).tags for n in numbers)


def test_scheduled_upgrade_after_a_breach(api) -> None:
    policy_load_preset("custom", text=CUSTOM)
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):
        n = case_in(api, "accepted")
    with time_machine.travel(bj(2026, 3, 13, 9, 0), tick=False):
        from huiyin.cases.jobs import run_pass

        done = run_pass()
        assert done["sweep_breaches"] >= 1
        assert done["sweep_rules"] == 1
        assert run_pass()["sweep_rules"] == 0
        fan_out_pending()  # the worker's delivery step writes the scheduler's inbox items
    case = Case.objects.get(number=n)
    assert case.severity == "major"
    assert case.escalated is True
    assert InboxItem.objects.filter(user__username="supervisor", case_number=n, event="case.escalated").exists()
    assert InboxItem.objects.filter(user__username="handler_a", case_number=n, event="case.breached").exists()


def test_reminders_at_the_reminder_share_are_sent_once(api) -> None:
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):
        n = case_in(api, "accepted")  # resolve: Mon 09:00 → Wed 17:30
    with time_machine.travel(bj(2026, 3, 10, 9, 0), tick=False):
        assert sweep_reminders() == 0
    with time_machine.travel(bj(2026, 3, 11, 9, 0), tick=False):  # past 75 % of the natural span
        assert sweep_reminders() >= 1
        assert sweep_reminders() == 0
        fan_out_pending()
    assert InboxItem.objects.filter(user__username="handler_a", case_number=n, event="case.reminder").exists()


def test_workflow_events_reach_the_right_people(api) -> None:
    n = new_case(api)["number"]
    api("dispatcher").act(n, "dispatch", {"unit": "county_a"})
    assert InboxItem.objects.filter(user__username="leader", event="case.approval_needed", case_number=n).exists()
    api("leader").act(n, "approve")
    got = set(InboxItem.objects.filter(case_number=n, event="case.dispatched").values_list("user__username", flat=True))
    assert got == {"handler_a"}
    api("handler_a").act(n, "acknowledge")
    api("handler_a").act(n, "submit_result", RESULT)
    assert InboxItem.objects.filter(user__username="dispatcher", event="case.result_submitted").exists()
    api("dispatcher").act(n, "review", {"accept": True})
    assert InboxItem.objects.filter(user__username="agent", event="case.callback_due").exists()
    assert not InboxItem.objects.filter(user__username="handler_b").exists()


SHARE = """
name: share
workflow: {approval_before_dispatch: []}
rules:
  - name: 大面积纠纷
    when: {share: {of: unit, window_hours: 720, gte: 0.5}}
    then: [{set_severity: major}, {add_tag: group}]
"""


def test_half_of_a_sites_customers_complaining_is_major(api) -> None:
    from huiyin.org.models import Unit

    policy_load_preset("share", text=SHARE)
    Unit.objects.filter(code="county_a").update(customers=4)
    first = new_case(api, complainant={"phone": "13700000001"})["number"]
    api("dispatcher").act(first, "dispatch", {"unit": "county_a"})
    assert Case.objects.get(number=first).severity == "general"  # 1 of 4 customers
    second = new_case(api, complainant={"phone": "13700000002"})["number"]
    body = api("dispatcher").act(second, "dispatch", {"unit": "county_a"}).json()  # 2 of 4: half
    assert body["severity"] == "major"
    assert "group" in body["tags"]
    # a unit whose customer count is not set never matches
    third = new_case(api, complainant={"phone": "13700000003"})["number"]
    assert api("dispatcher").act(third, "dispatch", {"unit": "county_b"}).json()["severity"] == "general"
