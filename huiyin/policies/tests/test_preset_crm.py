"""The real-estate CRM preset (seed 001 篇6) end to end: 5 minutes to respond, 1–3 working days
to resolve, extensions only with the VP's consent, every valid case called back within 48
hours, and the automatic upgrades of 第七章 and 第十三条."""

from __future__ import annotations

import pytest
import time_machine

from huiyin.cases.jobs import run_pass
from huiyin.cases.models import Case
from huiyin.cases.tests.helpers import RESULT, due_of
from huiyin.conftest import bj, new_case
from huiyin.notify.models import InboxItem
from huiyin.policies.services import policy_load_preset
from huiyin.policies.tests.helpers import due, rule_names

pytestmark = pytest.mark.django_db




def _to_callback(api, number: str) -> dict:
    api("dispatcher").act(number, "dispatch", {"unit": "county_a"})
    api("handler_a").act(number, "acknowledge")
    api("handler_a").act(number, "record_contact", {"notes": "已联系"})
    api("handler_a").act(number, "submit_result", RESULT)
    return api("dispatcher").act(number, "review", {"accept": True}).json()


def test_a_leaking_roof_is_resolved_with_the_vps_extension_and_called_back_in_48_hours(api) -> None:
    policy_load_preset("crm")
    # Friday 13 Feb 2026 16:00; Saturday 14 Feb is a make-up working day, 15–23 Feb Spring Festival.
    with time_machine.travel(bj(2026, 2, 13, 16, 0), tick=False):
        case = new_case(api, subject="新交房屋顶渗水", category="handover_quality",
                        complainant={"name": "业主周先生", "phone": "13944440001", "account": "HT-2025-118"})
        number = case["number"]
        assert case["severity"] == "general"
        # 第十八条: respond within 5 minutes.
        assert due(case, "dispatch") == "2026-02-13T16:05:00+08:00"
    with time_machine.travel(bj(2026, 2, 13, 16, 4), tick=False):
        body = api("dispatcher").act(number, "dispatch", {"unit": "county_a", "instructions": "请工程部核查"}).json()
        assert body["state"] == "dispatched"
        # 第二十一条: the handler is told at dispatch.
        assert InboxItem.objects.filter(user__username="handler_a", case_number=number,
                                        event="case.dispatched").exists()
        # 第十八条: a general complaint within 3 working days — 14 Feb, 24 Feb, 25 Feb.
        assert due(body, "resolve") == "2026-02-25T17:30:00+08:00"
        api("handler_a").act(number, "acknowledge")
        api("handler_a").act(number, "record_contact", {"notes": "已致电业主说明处理方案与时限"})

    with time_machine.travel(bj(2026, 2, 24, 10, 0), tick=False):
        # 第二十七条: the roof needs several departments; the customer agrees to wait longer.
        r = api("handler_a").act(number, "request_extension",
                                 {"amount": 5, "unit": "working_days", "reason": "需总包单位配合返修,已取得客户同意"})
        assert r.status_code == 200, r.content
        assert InboxItem.objects.filter(user__username="leader", case_number=number,
                                        event="case.extension_requested").exists()
        # the handler cannot grant it himself: only the VP (leader)
        assert api("handler_a").act(number, "grant_extension").status_code == 403
        body = api("leader").act(number, "grant_extension", {"comment": "同意延期"}).json()
        # 25 Feb + 5 working days: 26, 27, Sat 28 Feb (make-up day), 2 and 3 Mar.
        assert due(body, "resolve") == "2026-03-03T17:30:00+08:00"

    with time_machine.travel(bj(2026, 3, 2, 15, 0), tick=False):
        api("handler_a").act(number, "submit_result", {**RESULT, "reply": "屋面防水已返修并闭水试验合格"})
        body = api("dispatcher").act(number, "review", {"accept": True}).json()
        assert body["state"] == "pending_callback"
        # 第三十六条: called back within 48 hours of the resolution.
        assert due(body, "callback") == "2026-03-04T15:00:00+08:00"
    with time_machine.travel(bj(2026, 3, 3, 10, 0), tick=False):
        assert api("agent").act(number, "callback", {"satisfaction": "very_satisfied"}).json()["state"] == "closed"


def test_an_extension_beyond_a_month_is_refused(api) -> None:
    policy_load_preset("crm")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        number = new_case(api, complainant={"phone": "13944440002"})["number"]
        api("dispatcher").act(number, "dispatch", {"unit": "county_a"})
        api("handler_a").act(number, "acknowledge")
        r = api("handler_a").act(number, "request_extension", {"amount": 30, "unit": "working_days", "reason": "待定"})
    assert r.status_code == 422


def test_every_valid_complaint_is_called_back(api) -> None:
    policy_load_preset("crm")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        states = [_to_callback(api, new_case(api, complainant={"phone": f"1394444010{i}"})["number"])["state"]
                  for i in range(4)]
    assert states == ["pending_callback"] * 4  # 100 %, never a sample


def test_an_unsatisfied_callback_upgrades_the_complaint(api) -> None:
    policy_load_preset("crm")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        number = new_case(api, complainant={"phone": "13944440003"})["number"]
        _to_callback(api, number)
        body = api("agent").act(number, "callback", {"satisfaction": "unsatisfied", "notes": "仍渗水"}).json()
    assert body["severity"] == "major"
    assert body["escalated"] is True
    assert "upgraded" in body["tags"]
    assert rule_names(number) == ["自动升级(回访不满意)"]
    assert InboxItem.objects.filter(user__username="supervisor", case_number=number, event="case.escalated").exists()


def test_the_same_matter_complained_of_again_is_an_urge_that_upgrades(api) -> None:
    policy_load_preset("crm")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        number = new_case(api, complainant={"phone": "13944440004"})["number"]
        api("dispatcher").act(number, "dispatch", {"unit": "county_a"})
    with time_machine.travel(bj(2026, 3, 3, 9, 0), tick=False):
        r = api("agent").post("/cases", {"kind": "complaint", "channel": "phone", "subject": "屋顶渗水还没人来修",
                                          "complainant": {"phone": "139-4444-0004"}})
    assert r.status_code == 200
    assert r.json()["number"] == number
    assert r.json()["urge_count"] == 1
    assert r.json()["severity"] == "major"
    assert "upgraded" in r.json()["tags"]
    assert rule_names(number) == ["自动升级(再次投诉)"]
    assert Case.objects.count() == 1
    assert InboxItem.objects.filter(user__username="handler_a", case_number=number, event="case.urged").exists()


def test_the_same_matter_again_after_closing_upgrades_but_another_matter_does_not(api) -> None:
    policy_load_preset("crm")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        first = new_case(api, category="property_service", complainant={"phone": "13944440008"})["number"]
        _to_callback(api, first)
        api("agent").act(first, "callback", {"satisfaction": "satisfied"})
    with time_machine.travel(bj(2026, 3, 10, 9, 0), tick=False):
        other = new_case(api, subject="会员积分未到账", category="club_member", complainant={"phone": "13944440008"})
        assert (other["repeat_of"], other["severity"]) == (first, "general")
        api("dispatcher").act(other["number"], "mark_invalid", {"reason": "投诉内容超出了公司的服务承诺"})
    with time_machine.travel(bj(2026, 3, 12, 9, 0), tick=False):
        again = new_case(api, subject="物业维修又拖延", complainant={"phone": "13944440008"})
        assert again["severity"] == "general"  # not yet known to be the same matter
        body = api("dispatcher").act(again["number"], "classify", {"category": "property_service"}).json()
    assert (body["repeat_of"], body["severity"], body["escalated"]) == (first, "major", True)
    assert rule_names(again["number"]) == ["自动升级(再次投诉)"]


def test_an_overdue_complaint_without_contact_upgrades_on_the_schedule(api) -> None:
    policy_load_preset("crm")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        number = new_case(api, complainant={"phone": "13944440005"})["number"]
        api("dispatcher").act(number, "dispatch", {"unit": "county_a"})
        api("handler_a").act(number, "acknowledge")
    with time_machine.travel(bj(2026, 3, 6, 9, 0), tick=False):  # resolve was due Thu 5 Mar
        run_pass()
    case = Case.objects.get(number=number)
    assert case.severity == "major"
    assert case.escalated is True
    assert rule_names(number) == ["超时一般投诉", "自动升级(超时未沟通)"]


def test_unresolved_for_a_month_is_a_major_case(api) -> None:
    policy_load_preset("crm")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        number = new_case(api, complainant={"phone": "13944440006"})["number"]
        api("dispatcher").act(number, "dispatch", {"unit": "county_a"})
        api("handler_a").act(number, "acknowledge")
        api("handler_a").act(number, "record_contact", {"notes": "已联系"})
        api("handler_a").act(number, "request_extension", {"amount": 15, "unit": "working_days", "reason": "待验收"})
        api("leader").act(number, "grant_extension")
    with time_machine.travel(bj(2026, 3, 20, 9, 0), tick=False):
        run_pass()
        assert Case.objects.get(number=number).severity == "general"
    with time_machine.travel(bj(2026, 4, 1, 9, 0), tick=False):
        run_pass()
    assert Case.objects.get(number=number).severity == "major"
    assert rule_names(number) == ["逾月未解决"]


def test_a_complaint_about_a_manager_is_major(api) -> None:
    policy_load_preset("crm")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        case = new_case(api, category="leadership", complainant={"phone": "13944440007"})
    assert case["severity"] == "major"
    assert InboxItem.objects.filter(user__username="leader", case_number=case["number"],
                                    event="case.major_opened").exists()


# --- issue 14: the preset re-read clause by clause (dates worked out on the 2026 calendar) ---------


def test_contact_an_hour_after_acknowledging_and_callback_48_hours_after_the_result(api) -> None:
    policy_load_preset("crm")
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):  # Mon 9 Mar
        number = new_case(api, complainant={"phone": "13944440031"})["number"]
        api("dispatcher").act(number, "dispatch", {"unit": "county_a"})
    with time_machine.travel(bj(2026, 3, 9, 14, 0), tick=False):
        body = api("handler_a").act(number, "acknowledge", {"comment": "方案:维修班组明日上门;时限3个工作日"}).json()
        # 第二十五条: 登记投诉处理解决方案后,应立即与投诉客户联系 — an hour from the acknowledgement
        assert due(body, "first_contact") == "2026-03-09T15:00:00+08:00"
        r = api("handler_a").act(number, "record_contact")
        assert (r.status_code, r.json()["error"]["fields"]) == (422, {"notes": "required by the policy"})
        api("handler_a").act(number, "record_contact", {"notes": "已告知业主处理方案与时限"})
    with time_machine.travel(bj(2026, 3, 10, 16, 0), tick=False):  # the result, Tue 10 Mar 16:00
        api("handler_a").act(number, "submit_result", RESULT)
    with time_machine.travel(bj(2026, 3, 11, 9, 0), tick=False):  # the call centre reviews next morning
        body = api("dispatcher").act(number, "review", {"accept": True}).json()
    # 第三十六条: 投诉处理后48小时内回访 — from the result
    assert due(body, "callback") == "2026-03-12T16:00:00+08:00"


def test_a_major_complaint_owes_its_special_report_after_closing(api) -> None:
    policy_load_preset("crm")
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):
        number = new_case(api, category="leadership", subject="投诉项目总经理", complainant={"phone": "13944440032"})["number"]
        _to_callback(api, number)
    with time_machine.travel(bj(2026, 3, 13, 15, 0), tick=False):  # closed Fri 13 Mar
        body = api("agent").act(number, "callback", {"satisfaction": "satisfied"}).json()
    report = due_of(body, "major_special_report")
    # 第三十八条(一)7 (本系统默认5个工作日): Mon 16 … Fri 20 Mar
    assert (body["state"], report["due_at"], report["role"]) == ("closed", "2026-03-20T17:30:00+08:00", "dispatcher")
