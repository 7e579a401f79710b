"""The product-quality preset (seed 001 篇1, 000 第四/五篇) end to end: the A/B/C class from the
category with its compensation standard, the leader's approval before the hand-over within one
hour, the plan seen by the leader, satisfaction measured; validity checked first."""

from __future__ import annotations

import pytest
import time_machine

from huiyin.cases.models import Category
from huiyin.cases.tests.helpers import RESULT
from huiyin.conftest import bj, new_case
from huiyin.policies.services import policy_load_preset
from huiyin.policies.tests.helpers import due, rule_names

pytestmark = pytest.mark.django_db




def test_a_red_tofu_is_an_a_class_complaint_handled_under_approval(api) -> None:
    policy_load_preset("quality")
    # Wednesday 30 Sep 2026 16:45, the last working afternoon before National Day (1–7 Oct).
    with time_machine.travel(bj(2026, 9, 30, 16, 45), tick=False):
        case = new_case(api, subject="豆腐发红变质", description="超市购买的嫩豆腐开袋发红有异味",
                        product="嫩豆腐 批号20260928A", category="a_spoiled",
                        complainant={"name": "孙八", "phone": "13933330001"})
        number = case["number"]
        # 9.1.1 / 10.1.1.1: A类 (重大), with the 9.2.1 compensation standard on its category.
        assert (case["class"], case["severity"]) == ("A", "major")
        assert rule_names(number) == ["A类客诉"]
        assert Category.objects.get(code="consumer_a").compensation.startswith("1:10")
        # 4.4: handed to the responsible department within 1 hour after approval — business
        # time, so 45 minutes today and 15 after the holiday.
        assert due(case, "dispatch") == "2026-10-08T08:45:00+08:00"
        assert api("dispatcher").act(number, "dispatch", {"unit": "county_a"}).json()["state"] == "pending_approval"

    with time_machine.travel(bj(2026, 10, 8, 8, 40), tick=False):
        body = api("leader").act(number, "approve", {"comment": "请生产班组、煮浆人员查明原因"}).json()
        assert body["state"] == "dispatched"
        assert next(d for d in body["deadlines"] if d["timer"] == "dispatch")["state"] == "met"
        # 3 working days: Fri 9, Sat 10 (make-up day) and Mon 12 Oct.
        assert due(body, "resolve") == "2026-10-12T17:30:00+08:00"
        api("handler_a").act(number, "acknowledge")
        api("handler_a").act(number, "record_contact", {"notes": "已致电道歉,上门取回样品"})

    with time_machine.travel(bj(2026, 10, 9, 15, 0), tick=False):
        # 第四篇 6: every handling plan goes before the leader.
        body = api("handler_a").act(number, "submit_result", {
            **RESULT, "cause": "煮浆温度不足", "responsible_person": "煮浆班组", "reply": "致歉并按1:10赠送豆制品"}).json()
        assert body["state"] == "plan_approval"
        assert api("leader").act(number, "approve_plan").json()["state"] == "result_submitted"
        body = api("dispatcher").act(number, "compensate", {"amount": "60", "form": "1:10 赠送礼品豆制品"}).json()
        # 9.2.1: 需由公司同意后方可执行 — the compensation waits for the leader.
        assert body["compensation"] == {"amount": "60.00", "form": "1:10 赠送礼品豆制品", "status": "requested"}
        body = api("leader").act(number, "approve_compensation", {"comment": "同意"}).json()
        assert body["compensation"]["status"] == "approved"
        assert api("dispatcher").act(number, "review", {"accept": True}).json()["state"] == "pending_callback"
        # 7.3: 质检部 measures the customer's satisfaction.
        body = api("agent").act(number, "callback", {"satisfaction": "satisfied"}).json()
    assert body["state"] == "closed"


@pytest.mark.parametrize(("category", "klass", "severity", "ratio"), [
    ("b_empty_bag", "B", "general", "1:2"),
    ("c_colour", "C", "general", "1:1"),
    ("d_rain_mould", "A", "major", "1:10"),
])
def test_the_category_gives_the_class_and_its_compensation(api, category: str, klass: str, severity: str,
                                                           ratio: str) -> None:
    policy_load_preset("quality")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        case = new_case(api, category=category)
    assert (case["class"], case["severity"]) == (klass, severity)
    assert Category.objects.get(code=category).parent.compensation.startswith(ratio)


def test_reclassifying_sets_the_new_class(api) -> None:
    policy_load_preset("quality")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        number = new_case(api, subject="豆干有问题")["number"]
        body = api("dispatcher").act(number, "classify", {"category": "b_black_spots"}).json()
    assert body["class"] == "B"
    assert rule_names(number) == ["B类客诉"]


def test_two_people_ill_from_the_same_defect_make_a_batch_incident(api) -> None:
    policy_load_preset("quality")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        first = new_case(api, category="c_weight", complainant={"phone": "13933330011"})
    with time_machine.travel(bj(2026, 3, 3, 11, 0), tick=False):
        second = new_case(api, category="c_weight", complainant={"phone": "13933330012"})
    assert "batch_incident" not in first["tags"]
    assert "batch_incident" in second["tags"]
    assert second["severity"] == "major"


def test_a_complaint_without_a_way_to_reach_the_customer_is_not_valid(api) -> None:
    policy_load_preset("quality")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        number = new_case(api, complainant={"name": "匿名"})["number"]
        body = api("dispatcher").act(number, "mark_invalid", {
            "reason": "无顾客联系方式", "explanation": "未留联系方式,无法核实,已在记录单中注明"}).json()
    assert (body["state"], body["validity"], body["invalid_reason"]) == ("invalid", "invalid", "无顾客联系方式")


def test_the_category_tree_is_the_seeds(api) -> None:
    policy_load_preset("quality")
    tree = api("agent").get("/categories").json()["items"]
    assert [c["code"] for c in tree] == ["consumer", "distribution", "special", "service"]
    consumer = tree[0]
    assert [c["code"] for c in consumer["children"]] == ["consumer_a", "consumer_b", "consumer_c"]
    assert consumer["children"][0]["name"].startswith("A类客诉")
    # the tobacco categories of the demo are no longer offered
    assert "logistics_delivery" not in str(tree)


# --- issue 14: the preset re-read clause by clause (dates worked out on the 2026 calendar) ---------


def test_the_same_batch_eaten_by_several_people_is_an_a_class_complaint(api) -> None:
    policy_load_preset("quality")
    batch = "卤香豆干 批号20260301B"
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):  # Mon 2 Mar
        first = new_case(api, category="consumer", product=batch, subject="吃后腹泻", complainant={"phone": "13933330021"})
    with time_machine.travel(bj(2026, 3, 4, 15, 0), tick=False):  # Wed 4 Mar, within 3 days
        second = new_case(api, category="consumer", product=batch, subject="食用后呕吐", complainant={"phone": "13933330022"})
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):  # a week later: another batch incident? no
        third = new_case(api, category="consumer", product=batch, subject="口感发酸", complainant={"phone": "13933330023"})
    assert "batch_incident" not in first["tags"]
    # 10.1.1.1b: 多人次食用同批号产品出现相同不良症状 is listed under A类客诉(重大)
    assert (second["class"], second["severity"], "batch_incident" in second["tags"]) == ("A", "major", True)
    assert "batch_incident" not in third["tags"]


def test_the_investigation_names_the_cause_the_responsible_person_and_the_plan(api) -> None:
    policy_load_preset("quality")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        number = new_case(api, category="b_seal", subject="封口不严")["number"]
        api("dispatcher").act(number, "dispatch", {"unit": "county_a"})
        api("leader").act(number, "approve")
        api("handler_a").act(number, "acknowledge")
        r = api("handler_a").act(number, "submit_result", {"reply": "已致歉并补发"})
        # 第四篇 4–5: 查明具体原因及责任人,提出处理方案
        assert r.status_code == 422
        assert set(r.json()["error"]["fields"]) == {"cause", "responsible_person", "countermeasures"}
        body = api("handler_a").act(number, "submit_result", RESULT).json()
    assert body["state"] == "plan_approval"  # 第四篇 6: every plan before the leader
    assert body["required"]["submit_result"] == ["cause", "responsible_person", "countermeasures", "reply"]
