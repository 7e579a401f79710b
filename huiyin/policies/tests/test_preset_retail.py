"""The retail-chain preset (seed 001 篇4) end to end: the store's superior rules on acceptance,
the administration department names the handling department, whose investigation report
(cause, course, person, conclusion, countermeasures) is reviewed by the administration
department and read by the general manager before customer service answers — within 7 days."""

from __future__ import annotations

import pytest
import time_machine

from huiyin.cases.jobs import sweep_breaches
from huiyin.cases.models import Timer
from huiyin.conftest import bj, new_case
from huiyin.notify.models import InboxItem
from huiyin.policies.services import policy_load_preset
from huiyin.policies.tests.helpers import due, rule_names

pytestmark = pytest.mark.django_db

REPORT = {"cause": "促销标价与收银系统价格未同步", "course": "9月29日客户购买电饭煲,按系统价结算",
          "responsible_person": "门店收银主管", "conclusion": "情况属实,门店责任",
          "countermeasures": "促销前核对系统价格,增加开业前复核", "reply": "退还差价并致歉", "liability": "enterprise"}


def test_a_price_complaint_is_answered_within_7_days_over_national_day(api) -> None:
    policy_load_preset("retail")
    # Wednesday 30 Sep 2026 10:00; the 7 days run through the National Day holiday.
    with time_machine.travel(bj(2026, 9, 30, 10, 0), tick=False):
        case = new_case(api, channel="walk_in", subject="促销标价与结算价不符", category="price_reduction",
                        demands="退还差价", complainant={"name": "顾客蒋先生", "phone": "13522220001"})
        number = case["number"]
        assert "compensation" in case["tags"]
        assert rule_names(number) == ["折价赔偿"]
        assert due(case, "dispatch") == "2026-10-01T23:59:59+08:00"
        # 第九条: the administration department names the handling department; 第七条 the store's
        # superior first rules that the complaint is accepted.
        assert api("dispatcher").act(number, "dispatch", {"unit": "county_a"}).json()["state"] == "pending_approval"
        assert InboxItem.objects.filter(user__username="leader", case_number=number, event="case.approval_needed").exists()
        body = api("leader").act(number, "approve", {"comment": "理由成立,予以受理"}).json()
        assert body["state"] == "dispatched"
        assert due(body, "resolve") == "2026-10-04T23:59:59+08:00"
        api("handler_a").act(number, "acknowledge")

    with time_machine.travel(bj(2026, 10, 3, 11, 0), tick=False):
        # 第十一条 / 第十七条: the investigation report.
        body = api("handler_a").act(number, "submit_result", REPORT).json()
        assert body["investigation"] == {k: REPORT[k] for k in
                                         ("cause", "course", "responsible_person", "conclusion", "countermeasures")}
        assert due(body, "feedback") == "2026-10-05T23:59:59+08:00"
        assert InboxItem.objects.filter(user__username="dispatcher", case_number=number,
                                        event="case.result_submitted").exists()
        # 第十二条: 行政人事部 reviews it with its opinion, then the general manager reads it.
        assert api("leader").act(number, "approve_reply", {"accept": True}).status_code == 403
        assert api("dispatcher").act(number, "approve_reply", {"accept": True, "comment": "同意退差价"}).json()["reply_level"] == 1
        assert api("leader").act(number, "approve_reply", {"accept": True, "comment": "阅"}).json()["reply_level"] == 2

    with time_machine.travel(bj(2026, 10, 4, 9, 0), tick=False):
        # 第十四条: 营运部客服 answers the customer (in writing or orally) — the case is closed.
        body = api("agent").act(number, "review", {"accept": True, "comment": "已电话答复并退还差价"}).json()
    assert body["state"] == "closed"
    assert body["closed_at"] < "2026-10-07T10:00:00+08:00"  # 第二十六条: within 7 days of receipt
    assert set(Timer.objects.filter(case__number=number).values_list("state", flat=True)) == {"met"}


def test_a_complaint_caused_by_the_customer_is_explained_and_not_accepted(api) -> None:
    policy_load_preset("retail")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        number = new_case(api, subject="超过退货期要求退货", category="return_goods",
                          complainant={"name": "顾客韩女士", "phone": "13522220002"})["number"]
        body = api("dispatcher").act(number, "mark_invalid", {
            "reason": "属客户原因(已婉转讲明理由)", "explanation": "商品已使用且超过七日退货期,已向顾客说明并致歉"}).json()
    assert (body["state"], body["invalid_reason"]) == ("invalid", "属客户原因(已婉转讲明理由)")
    assert body["reply"].startswith("商品已使用")


# --- issue 14: the preset re-read clause by clause (dates worked out on the 2026 calendar) ---------


def test_seven_days_from_receipt_to_closing_cap_every_stage(api) -> None:
    policy_load_preset("retail")
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):  # Mon 9 Mar
        case = new_case(api, subject="退货被拒", category="return_goods", demands="要求退货",
                        complainant={"name": "顾客许先生", "phone": "13522220011"})
        number = case["number"]
        # 第二十六条: 至接到投诉7天结案 — 9 Mar + 7 days
        assert due(case, "end_to_end") == "2026-03-16T23:59:59+08:00"
    with time_machine.travel(bj(2026, 3, 13, 10, 0), tick=False):  # the store's superior rules on Friday
        api("dispatcher").act(number, "dispatch", {"unit": "county_a"})
        body = api("leader").act(number, "approve", {"comment": "予以受理"}).json()
        resolve = next(d for d in body["deadlines"] if d["timer"] == "resolve")
        # the investigation's 4 days (Tue 17 Mar) are cut to the case's 7
        assert (resolve["due_at"], resolve["capped_by"]) == ("2026-03-16T23:59:59+08:00", "end_to_end")
        api("handler_a").act(number, "acknowledge")
    with time_machine.travel(bj(2026, 3, 17, 10, 0), tick=False):  # the report comes a day late
        sweep_breaches()
        body = api("handler_a").act(number, "submit_result", {**REPORT, "reply": "同意退货"}).json()
    end = next(d for d in body["deadlines"] if d["timer"] == "end_to_end")
    assert (end["state"], end["breach_seconds"]) == ("breached", 10 * 3600 + 1)  # since 16 Mar 23:59:59
    feedback = next(d for d in body["deadlines"] if d["timer"] == "feedback")
    assert (feedback["due_at"], feedback["capped_by"]) == ("2026-03-16T23:59:59+08:00", "end_to_end")
