"""The fire-supervision preset (seed 000 第三篇) end to end: a report of counterfeit fire
products is read by the 大队长, who names the handler; the handler inspects and drafts the
reply, which climbs the approval chain (大队长 → 支队防火监督处处长) before it is sent."""

from __future__ import annotations

import pytest
import time_machine

from huiyin.cases.tests.helpers import RESULT
from huiyin.conftest import bj, new_case
from huiyin.notify.models import InboxItem
from huiyin.policies.services import policy_load_preset
from huiyin.policies.tests.helpers import due

pytestmark = pytest.mark.django_db

REPLY = {**RESULT, "conclusion": "未发现假冒伪劣产品",
         "reply": "经大队监督人员现场对xx厂生产销售的消防产品进行检查,未发现假冒伪劣产品。"
                  "该投件由消防支队xx大队1人进行阅办、1人进行处理、1人进行审核。"}


def test_a_report_climbs_the_reply_approval_chain_before_it_is_sent(api) -> None:
    policy_load_preset("fire")
    # Tuesday 29 Sep 2026: National Day (1–7 Oct) comes before the inspection is due.
    with time_machine.travel(bj(2026, 9, 29, 9, 0), tick=False):
        case = new_case(api, kind="report", channel="web", subject="xx厂生产销售假冒灭火器",
                        category="fake_fire_product_production",
                        complainant={"name": "举报人", "phone": "13699990001"})
        number = case["number"]
        assert number.startswith("JB20260929-")
        # 1–2: the receiver picks the approver — "请xx大队长阅示".
        body = api("dispatcher").act(number, "dispatch", {"unit": "county_a", "instructions": "请xx大队长阅示"}).json()
        assert body["state"] == "pending_approval"
        assert InboxItem.objects.filter(user__username="leader", case_number=number,
                                        event="case.approval_needed").exists()
        # 3: the approver names the handler — "请xx参谋负责核查".
        body = api("leader").act(number, "approve", {"comment": "请xx参谋负责核查!"}).json()
        assert body["state"] == "dispatched"
        assert due(body, "resolve") == "2026-10-09T17:30:00+08:00"  # 3 working days: 30 Sep, 8 and 9 Oct
        # the handling unit works on the matter, not on who reported it
        assert api("handler_a").get(f"/cases/{number}").json()["complainant"]["confidential"] is True
        # 4: the handler opens it and saves at once (签收), inspects, drafts the reply.
        api("handler_a").act(number, "acknowledge")

    with time_machine.travel(bj(2026, 9, 30, 15, 0), tick=False):
        body = api("handler_a").act(number, "submit_result", REPLY).json()
        assert (body["state"], body["reply_level"]) == ("result_submitted", 0)
        assert due(body, "feedback") == "2026-10-09T17:30:00+08:00"
        # the reply may not go out before the chain has approved it
        assert api("dispatcher").act(number, "review", {"accept": True}).status_code == 409
        # level 1 is the 大队长's, not the 处长's
        assert api("supervisor").act(number, "approve_reply", {"accept": True}).status_code == 403
        body = api("leader").act(number, "approve_reply", {"accept": True, "comment": "呈请消防支队防火监督处处长阅示"}).json()
        assert body["reply_level"] == 1
        assert api("leader").act(number, "approve_reply", {"accept": True}).status_code == 403

    with time_machine.travel(bj(2026, 10, 8, 9, 0), tick=False):
        # 5: 支队防火监督处处长 阅示.
        body = api("supervisor").act(number, "approve_reply", {"accept": True, "comment": "同意答复"}).json()
        assert body["reply_level"] == 2
        body = api("dispatcher").act(number, "review", {"accept": True}).json()
        timeline = api("dispatcher").get(f"/cases/{number}/timeline").json()["events"]
    # the reply to the reporter closes the matter (reports are not called back)
    assert (body["state"], body["close_reason"]) == ("closed", "no_callback")
    assert [(e["action"], e["actor"]) for e in timeline] == [
        ("register", "agent"), ("dispatch", "dispatcher"), ("approve", "leader"), ("acknowledge", "handler_a"),
        ("submit_result", "handler_a"), ("approve_reply", "leader"), ("approve_reply", "supervisor"),
        ("review", "dispatcher"),
    ]


def test_the_second_level_can_send_the_reply_back_for_another_inspection(api) -> None:
    policy_load_preset("fire")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        number = new_case(api, kind="report", subject="商场使用假冒防火门", category="fake_fire_product_use",
                          complainant={"phone": "13699990002"})["number"]
        api("dispatcher").act(number, "dispatch", {"unit": "county_a"})
        api("leader").act(number, "approve")
        api("handler_a").act(number, "acknowledge")
        api("handler_a").act(number, "submit_result", REPLY)
        api("leader").act(number, "approve_reply", {"accept": True})
        body = api("supervisor").act(number, "approve_reply", {"accept": False, "comment": "请补充抽样送检结果"}).json()
    assert (body["state"], body["reply_level"]) == ("accepted", 0)
    assert due(body, "resolve") == "2026-03-05T17:30:00+08:00"  # a fresh inspection period
    assert InboxItem.objects.filter(user__username="supervisor", case_number=number,
                                    event="case.result_submitted").exists()


# --- issue 14: the preset re-read clause by clause (dates worked out on the 2026 calendar) ---------


def test_the_approver_chooses_the_handler_when_reading_the_report(api) -> None:
    policy_load_preset("fire")
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):  # Mon 9 Mar
        number = new_case(api, kind="report", subject="某商场销售无3C认证的应急灯",
                          category="fire_product_certification", complainant={"phone": "13699990011"})["number"]
        api("dispatcher").act(number, "dispatch", {"unit": "county_a", "instructions": "请xx大队长阅示"})
        # 3: 审批人员先选择承办人员,再填写阅办意见 — another 大队's 参谋 takes it
        body = api("leader").act(number, "approve", {"unit": "county_b", "comment": "请xx参谋负责核查!"}).json()
    assert (body["state"], body["unit"]) == ("dispatched", "county_b")
    assert due(body, "resolve") == "2026-03-12T17:30:00+08:00"  # 3 working days (本系统默认): 10, 11, 12 Mar
    assert api("handler_b").act(number, "acknowledge").json()["state"] == "accepted"
    r = api("handler_b").act(number, "submit_result", {"reply": "未发现问题"})
    # 4: the reply states what the inspection found and its conclusion
    assert set(r.json()["error"]["fields"]) == {"course", "conclusion"}
