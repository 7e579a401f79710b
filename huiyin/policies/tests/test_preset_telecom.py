"""The telecom preset (seed 002) end to end: the 15-day answer, repeat complaints from the same
number within 30 days of filing, urges while a complaint is open, group complaints and public
opinion as major cases, appeals from the regulator."""

from __future__ import annotations

import pytest
import time_machine

from huiyin.cases.jobs import sweep_rules
from huiyin.cases.models import Case
from huiyin.cases.tests.helpers import RESULT
from huiyin.conftest import bj, new_case
from huiyin.notify.models import InboxItem
from huiyin.policies.services import policy_load_preset
from huiyin.policies.tests.helpers import due, fresh, rule_names

pytestmark = pytest.mark.django_db

PHONE = "13366660001"


def _closed(api, **fields) -> str:
    number = new_case(api, **fields)["number"]
    api("dispatcher").act(number, "dispatch", {"unit": "county_a"})
    api("handler_a").act(number, "acknowledge")
    api("handler_a").act(number, "submit_result", RESULT)
    api("dispatcher").act(number, "review", {"accept": True})
    assert api("agent").act(number, "callback", {"satisfaction": "satisfied"}).json()["state"] == "closed"
    return number


def test_a_complaint_is_answered_within_15_days_holidays_included(api) -> None:
    policy_load_preset("telecom")
    with time_machine.travel(bj(2026, 9, 28, 10, 0), tick=False):
        number = new_case(api, subject="宽带频繁掉线", category="network",
                          complainant={"name": "郑十", "phone": PHONE, "account": "ADSL-7700123"})["number"]
        body = api("dispatcher").act(number, "dispatch", {"unit": "county_a"}).json()
    # 第八条: 15 days, natural days — National Day (1–7 Oct) does not move them.
    assert due(body, "resolve") == "2026-10-13T23:59:59+08:00"


def test_a_second_complaint_from_the_same_number_20_days_after_filing_is_a_repeat(api) -> None:
    policy_load_preset("telecom")
    with time_machine.travel(bj(2026, 9, 10, 10, 0), tick=False):
        first = _closed(api, subject="套餐资费与宣传不符", category="tariff", complainant={"phone": PHONE})
    with time_machine.travel(bj(2026, 9, 30, 10, 0), tick=False):  # 20 days after it was filed
        again = new_case(api, subject="资费问题仍未解决", category="tariff", complainant={"phone": f"+86 {PHONE}"})
    assert again["repeat_of"] == first
    assert "repeat" in again["tags"]
    assert rule_names(again["number"]) == ["重复投诉督办"]
    # 2.3.1.5: 客户服务部 supervises repeat complaints.
    assert InboxItem.objects.filter(user__username="supervisor", case_number=again["number"],
                                    event="case.escalated").exists()


def test_a_complaint_32_days_after_filing_is_not_a_repeat(api) -> None:
    policy_load_preset("telecom")
    with time_machine.travel(bj(2026, 9, 10, 10, 0), tick=False):
        _closed(api, subject="套餐资费与宣传不符", category="tariff", complainant={"phone": PHONE})
    with time_machine.travel(bj(2026, 10, 12, 10, 0), tick=False):
        r = fresh("agent").post("/cases", {"kind": "complaint", "channel": "phone", "subject": "宽带装机延误",
                                           "complainant": {"phone": PHONE}})
    assert r.status_code == 201
    assert r.json()["repeat_of"] is None
    assert "repeat" not in r.json()["tags"]


def test_calling_again_while_the_complaint_is_open_urges_it(api) -> None:
    policy_load_preset("telecom")
    with time_machine.travel(bj(2026, 9, 10, 10, 0), tick=False):
        number = new_case(api, subject="号码被停机", complainant={"phone": PHONE})["number"]
        api("dispatcher").act(number, "dispatch", {"unit": "county_a"})
    with time_machine.travel(bj(2026, 9, 11, 10, 0), tick=False):
        r = api("agent").post("/cases", {"kind": "complaint", "channel": "phone", "subject": "停机问题还没处理",
                                          "complainant": {"phone": PHONE}})
    assert r.status_code == 200
    assert (r.json()["number"], r.json()["urge_count"]) == (number, 1)
    assert Case.objects.count() == 1
    # 分公司办法 ㈡2(1): the dispatching centre and the handling unit are reminded.
    got = set(InboxItem.objects.filter(case_number=number, event="case.urged").values_list("user__username", flat=True))
    assert {"handler_a", "dispatcher"} <= got


def test_three_escalated_complaints_of_one_kind_in_one_province_in_a_day_are_a_group_complaint(api) -> None:
    policy_load_preset("telecom")
    with time_machine.travel(bj(2026, 9, 10, 9, 0), tick=False):
        numbers = []
        for i in range(3):
            numbers.append(new_case(api, channel="upstream", upstream_ref=f"4008810000-{i}", subject="5G套餐被强制升级",
                                    category="business_policy", region="四川",
                                    complainant={"phone": f"1336666010{i}"})["number"])
        elsewhere = new_case(api, channel="upstream", upstream_ref="4008810000-9", subject="5G套餐被强制升级",
                             category="business_policy", region="重庆", complainant={"phone": "13366660199"})["number"]
    third = Case.objects.get(number=numbers[2])
    assert (third.severity, "group" in third.tags) == ("major", True)
    assert rule_names(numbers[2]) == ["群体投诉(一日3件)"]
    assert InboxItem.objects.filter(user__username="leader", case_number=numbers[2], event="case.major_opened").exists()
    # the scheduler's re-evaluation makes the first two part of the group too
    with time_machine.travel(bj(2026, 9, 10, 10, 0), tick=False):
        sweep_rules()
    assert all(Case.objects.get(number=n).severity == "major" for n in numbers)
    assert Case.objects.get(number=elsewhere).severity == "general"


def test_media_exposure_is_a_major_case_and_a_regulator_appeal_is_supervised(api) -> None:
    policy_load_preset("telecom")
    with time_machine.travel(bj(2026, 9, 10, 9, 0), tick=False):
        exposed = new_case(api, subject="网络曝光乱扣费", flags=["media"], category="billing_refund",
                           complainant={"phone": "13366660003"})
        appeal = new_case(api, channel="regulator", upstream_ref="工信部申诉-2026-1188",
                          upstream_due_at="2026-09-20T17:00:00+08:00", subject="携号转网受阻",
                          complainant={"phone": "13366660004"})
        body = api("dispatcher").act(appeal["number"], "dispatch", {"unit": "county_a"}).json()
    assert (exposed["severity"], "public_opinion" in exposed["tags"]) == ("major", True)
    assert "appeal" in appeal["tags"]
    assert InboxItem.objects.filter(user__username="supervisor", case_number=appeal["number"]).exists()
    # the regulator's own deadline is earlier than 15 days, and wins
    assert due(body, "resolve") == "2026-09-20T17:00:00+08:00"


# --- issue 14: the preset re-read clause by clause (dates worked out on the 2026 calendar) ---------


def _escalated(api, i: int, **fields) -> dict:
    return new_case(api, channel="upstream", upstream_ref=f"4008810000-{i}", subject="宽带提速不到位",
                    category="network", complainant={"phone": f"133666602{i:02d}"}, **fields)


def test_only_escalated_complaints_count_towards_a_group_and_the_province_is_the_organisation(api) -> None:
    policy_load_preset("telecom")
    with time_machine.travel(bj(2026, 3, 10, 9, 0), tick=False):
        first = _escalated(api, 1)
        assert first["region"] == "本省"  # no region given: the organisation is one province
        for i in range(5):  # ordinary complaints of the same kind the same day do not count
            new_case(api, subject="宽带提速不到位", category="network", complainant={"phone": f"133666603{i:02d}"})
        second = _escalated(api, 2)
    with time_machine.travel(bj(2026, 3, 10, 17, 0), tick=False):
        third = _escalated(api, 3)
    with time_machine.travel(bj(2026, 3, 11, 9, 0), tick=False):
        next_day = _escalated(api, 4)
    assert ["group" in c["tags"] for c in (first, second, third, next_day)] == [False, False, True, False]


def test_twenty_valid_escalated_complaints_in_a_calendar_month_are_a_group(api) -> None:
    policy_load_preset("telecom")
    tags = []
    with time_machine.travel(bj(2026, 2, 27, 9, 0), tick=False):  # February's do not count in March
        _escalated(api, 0)
    for i in range(1, 22):
        with time_machine.travel(bj(2026, 3, 2 + i // 2, 9 + i % 2, 0), tick=False):
            case = _escalated(api, i, region="四川")
            tags.append("group" in case["tags"])
            if i == 5:  # 且问题属实: one is found invalid
                api("dispatcher").act(case["number"], "mark_invalid", {
                    "reason": "经查证与事实严重不符", "reason_code": "contradicted_by_facts"})
    # the 21st of March is the 20th valid one
    assert tags.index(True) == 20 and tags.count(True) == 1


def test_a_refund_is_due_when_the_enterprise_is_at_fault(api) -> None:
    policy_load_preset("telecom")
    with time_machine.travel(bj(2026, 3, 10, 9, 0), tick=False):
        number = new_case(api, subject="套餐外流量被重复扣费", category="billing_refund")["number"]
        api("dispatcher").act(number, "dispatch", {"unit": "county_a"})
        api("handler_a").act(number, "acknowledge")
        body = api("handler_a").act(number, "submit_result", {**RESULT, "liability": "enterprise"}).json()
    assert "refund" in body["tags"]
