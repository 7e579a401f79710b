"""The property-services preset (seed 004) end to end: forwarded within 1 hour, the customer
contacted within 24 hours, resolved within 3 working days, called back in 1–3 working days;
a major complaint reported to the leader first; late handling marked for the penalty points."""

from __future__ import annotations

import pytest
import time_machine

from huiyin.cases.jobs import run_pass
from huiyin.cases.models import Case, Timer
from huiyin.cases.tests.helpers import RESULT
from huiyin.conftest import bj, new_case
from huiyin.notify.models import InboxItem
from huiyin.policies.services import policy_load_preset
from huiyin.policies.tests.helpers import due, rule_names

pytestmark = pytest.mark.django_db


def test_a_water_leak_is_forwarded_in_an_hour_contacted_in_24_and_resolved_in_3_working_days(api) -> None:
    policy_load_preset("property")
    # Friday 13 Feb 2026 15:00: Saturday 14 Feb is a make-up working day, 15–23 Feb the Spring Festival.
    with time_machine.travel(bj(2026, 2, 13, 15, 0), tick=False):
        case = new_case(api, subject="楼上管道漏水渗到我家", category="installation_defect",
                        complainant={"name": "业主刘女士", "phone": "13788880001", "address": "3栋2单元801"})
        number = case["number"]
        assert due(case, "dispatch") == "2026-02-13T16:00:00+08:00"  # 第十二条(二): 1 hour
    with time_machine.travel(bj(2026, 2, 13, 15, 30), tick=False):
        body = api("dispatcher").act(number, "dispatch", {"unit": "county_a", "instructions": "工程技术部核查"}).json()
        assert body["state"] == "dispatched"  # a general complaint needs no 批示
        assert due(body, "first_contact") == "2026-02-14T15:30:00+08:00"  # 第十二条(三): 24 hours
        assert due(body, "resolve") == "2026-02-25T17:30:00+08:00"  # 3 working days: 14, 24, 25 Feb
        api("handler_a").act(number, "acknowledge")
    with time_machine.travel(bj(2026, 2, 14, 10, 0), tick=False):
        api("handler_a").act(number, "record_contact", {"notes": "已联系业主,约定节后上门维修"})
    with time_machine.travel(bj(2026, 2, 24, 16, 0), tick=False):
        api("handler_a").act(number, "submit_result", {**RESULT, "reply": "已更换楼上漏水管件并修复吊顶"})
        body = api("dispatcher").act(number, "review", {"accept": True}).json()
        # 第十八条: the dispatcher calls back within 1–3 working days.
        assert due(body, "callback") == "2026-02-27T17:30:00+08:00"
    with time_machine.travel(bj(2026, 2, 26, 9, 0), tick=False):
        assert api("dispatcher").act(number, "callback", {"satisfaction": "satisfied"}).json()["state"] == "closed"
    assert set(Timer.objects.filter(case__number=number).values_list("state", flat=True)) == {"met"}


def test_an_extension_past_three_working_days_is_refused(api) -> None:
    policy_load_preset("property")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        number = new_case(api, complainant={"phone": "13788880002"})["number"]
        api("dispatcher").act(number, "dispatch", {"unit": "county_a"})
        api("handler_a").act(number, "acknowledge")
        r = api("handler_a").act(number, "request_extension", {"amount": 1, "unit": "working_days", "reason": "等配件"})
    assert r.status_code == 422


def test_a_complaint_that_may_reach_the_press_is_reported_to_the_leader_first(api) -> None:
    policy_load_preset("property")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        case = new_case(api, subject="电梯困人一小时无人处理", flags=["media"], category="hidden_danger",
                        complainant={"phone": "13788880003"})
        number = case["number"]
        assert case["severity"] == "major"
        assert rule_names(number) == ["重大投诉(形象声誉)"]
        assert InboxItem.objects.filter(user__username="supervisor", case_number=number,
                                        event="case.major_opened").exists()
        # 第十三条: 先上报分管领导 … 后解决.
        assert api("dispatcher").act(number, "dispatch", {"unit": "county_a"}).json()["state"] == "pending_approval"
        assert api("leader").act(number, "approve").json()["state"] == "dispatched"
        api("handler_a").act(number, "acknowledge")
        # 附件流程: 重大投诉提交主管领导批示.
        assert api("handler_a").act(number, "submit_result", RESULT).json()["state"] == "plan_approval"


def test_late_handling_is_marked_for_the_two_points(api) -> None:
    policy_load_preset("property")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        number = new_case(api, complainant={"phone": "13788880004"})["number"]
        api("dispatcher").act(number, "dispatch", {"unit": "county_a"})
    with time_machine.travel(bj(2026, 3, 6, 9, 0), tick=False):  # resolve was due Thu 5 Mar
        run_pass()
    assert "late" in Case.objects.get(number=number).tags
    assert rule_names(number) == ["解决不及时"]


# --- issue 14: the preset re-read clause by clause (dates worked out on the 2026 calendar) ---------


def test_the_registration_form_and_the_solution_form_are_complete(api) -> None:
    policy_load_preset("property")
    r = api("agent").post("/cases", {"kind": "complaint", "channel": "walk_in", "subject": "垃圾清运不及时",
                                     "complainant": {"name": "业主", "address": "5栋1单元"}})
    assert (r.status_code, r.json()["error"]["fields"]) == (422, {"complainant.phone": "required by the policy"})
    with time_machine.travel(bj(2026, 3, 10, 9, 0), tick=False):
        number = new_case(api, subject="垃圾清运不及时", complainant={"phone": "13788880011"})["number"]
        api("dispatcher").act(number, "dispatch", {"unit": "county_a"})
        api("handler_a").act(number, "acknowledge")
        r = api("handler_a").act(number, "submit_result", {"reply": "已清运"})
        assert set(r.json()["error"]["fields"]) == {"course", "countermeasures"}


def test_the_callback_counts_from_the_resolution(api) -> None:
    policy_load_preset("property")
    with time_machine.travel(bj(2026, 3, 10, 9, 0), tick=False):
        number = new_case(api, subject="门禁卡失灵", complainant={"phone": "13788880012"})["number"]
        api("dispatcher").act(number, "dispatch", {"unit": "county_a"})
        api("handler_a").act(number, "acknowledge")
    with time_machine.travel(bj(2026, 3, 12, 16, 0), tick=False):  # resolved Thu 12 Mar
        api("handler_a").act(number, "submit_result", RESULT)
    with time_machine.travel(bj(2026, 3, 16, 9, 0), tick=False):  # reviewed Monday
        body = api("dispatcher").act(number, "review", {"accept": True}).json()
    # 第十八条: 投诉解决完毕后1-3个工作日 — Fri 13, Mon 16, Tue 17 Mar (not Thu 19 from the review)
    assert due(body, "callback") == "2026-03-17T17:30:00+08:00"
