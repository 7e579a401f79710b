"""The power-utility preset (seed 001 篇7) end to end: the 95598 complaint classes, a billing
complaint handled by the supply office, the green channel for important customers, an area
outage as a group complaint, zero tolerance for attitude."""

from __future__ import annotations

import pytest
import time_machine

from huiyin.cases.models import Case
from huiyin.cases.tests.helpers import RESULT
from huiyin.conftest import bj, new_case
from huiyin.notify.models import InboxItem
from huiyin.policies.services import policy_load_preset
from huiyin.policies.tests.helpers import due, rule_names

pytestmark = pytest.mark.django_db


def test_the_95598_classes_are_the_category_tree(api) -> None:
    policy_load_preset("power")
    tree = api("agent").get("/categories").json()["items"]
    assert [(c["code"], c["name"]) for c in tree] == [
        ("voltage", "电压质量"), ("supply_service", "供电服务"), ("billing", "电费电价"), ("outage", "停复电"),
        ("grid_construction", "电网建设"), ("other", "其他"),
    ]
    assert [c["code"] for c in tree[2]["children"]] == ["meter_reading", "tariff_error", "meter_fault_refund"]


def test_an_estimated_meter_reading_is_handled_by_the_supply_office(api) -> None:
    policy_load_preset("power")
    # Friday 3 Apr 2026 17:00, before the Qingming holiday (4–6 Apr).
    with time_machine.travel(bj(2026, 4, 3, 17, 0), tick=False):
        case = new_case(api, channel="phone", subject="电费突增,怀疑估抄", category="meter_reading",
                        complainant={"name": "吴九", "phone": "13955550001", "account": "户号 0301234567"})
        number = case["number"]
        assert case["severity"] == "general"
        # 1 business hour: 30 minutes today, the rest after the holiday — Tue 7 Apr 08:30 + 30 min.
        assert due(case, "dispatch") == "2026-04-07T09:00:00+08:00"
        body = api("dispatcher").act(number, "dispatch", {"unit": "county_a", "instructions": "请客户经理核对抄表记录"}).json()
        assert body["state"] == "dispatched"
        assert due(body, "resolve") == "2026-04-09T17:30:00+08:00"  # 7, 8, 9 Apr
        assert InboxItem.objects.filter(user__username="handler_a", case_number=number, event="case.dispatched").exists()
    with time_machine.travel(bj(2026, 4, 7, 9, 0), tick=False):
        api("handler_a").act(number, "acknowledge")
        api("handler_a").act(number, "record_contact", {"notes": "客户经理已上门核对表计"})
        api("handler_a").act(number, "submit_result", {**RESULT, "cause": "抄表员估抄", "reply": "已按实抄电量退补"})
        body = api("dispatcher").act(number, "review", {"accept": True}).json()
        assert due(body, "callback") == "2026-04-08T17:30:00+08:00"
        assert api("agent").act(number, "callback", {"satisfaction": "satisfied"}).json()["state"] == "closed"


def test_an_important_customer_goes_through_the_green_channel(api) -> None:
    policy_load_preset("power")
    with time_machine.travel(bj(2026, 4, 8, 10, 0), tick=False):
        case = new_case(api, subject="专线频繁跳闸影响生产", category="fault_outage",
                        complainant={"name": "某制造厂", "phone": "13955550002", "customer_class": "A"})
    assert "green_channel" in case["tags"]
    assert case["severity"] == "difficult"
    assert rule_names(case["number"]) == ["重要客户绿色通道"]
    assert InboxItem.objects.filter(user__username="leader", case_number=case["number"]).exists()


def test_three_outage_complaints_from_one_area_in_a_day_are_a_group_complaint(api) -> None:
    policy_load_preset("power")
    with time_machine.travel(bj(2026, 7, 15, 19, 0), tick=False):
        numbers = [new_case(api, subject="小区停电", category="fault_outage", region="城东供电所片区",
                            complainant={"phone": f"1395555010{i}"})["number"] for i in range(3)]
        other = new_case(api, subject="停电", category="fault_outage", region="城西供电所片区",
                         complainant={"phone": "13955550199"})["number"]
    assert [("group" in Case.objects.get(number=n).tags) for n in numbers] == [False, False, True]
    assert "group" not in Case.objects.get(number=other).tags
    assert rule_names(numbers[2]) == ["片区停电群体投诉"]


def test_an_attitude_complaint_is_zero_tolerance(api) -> None:
    policy_load_preset("power")
    with time_machine.travel(bj(2026, 4, 8, 10, 0), tick=False):
        case = new_case(api, subject="营业厅人员态度生硬", category="staff_attitude", complainant={"phone": "13955550003"})
    assert "zero_tolerance" in case["tags"]
