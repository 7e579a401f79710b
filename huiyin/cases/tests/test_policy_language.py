"""The policy language tried on a regulation outside the seeds (issue 14.11) — a bank's complaint
rules: 15 days from receipt, extended to 30 by the branch leader, then a further 30 with a
senior manager's approval; conflict of interest (回避); withdrawal (撤回); the upper-level
branch's verification (核实) on request, with its own clock; rules that read the result;
required registration fields — and the count windows of 14.9."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine

from huiyin.cases import inputs
from huiyin.cases.models import Case, Timer
from huiyin.cases.tests.helpers import RESULT, case_in, custom_policy, due_of
from huiyin.conftest import Api, bj, new_case
from huiyin.org.models import Membership, Unit, User
from huiyin.policies.presets import FORM_FIELDS

pytestmark = pytest.mark.django_db


def _bank(config: dict[str, Any]) -> None:
    config["roles"] = {
        "branch_leader": {"name": "支行负责人", "role": "leader", "unit": "county_a"},
        "senior_manager": {"name": "分行高级管理人员", "role": "leader", "unit": "bureau"},
        "upper_branch": {"name": "上级分行核实岗", "role": "supervisor", "unit": "bureau"},
    }
    config["workflow"]["approval_before_dispatch"] = []
    config["workflow"]["appeal"] = {"kinds": ["complaint"], "reviewers": ["upper_branch"], "basis": "上级行核实"}
    config["timers"]["end_to_end"] = {"default": {"amount": 15, "unit": "calendar_days"},
                                      "basis": "自收到投诉之日起15日内作出答复"}
    config["timers"]["appeal"] = {"default": {"amount": 30, "unit": "calendar_days"}, "basis": "上级行30日内核实"}
    config["extension"] = {"timer": "end_to_end", "tiers": [
        {"max": {"amount": 30, "unit": "calendar_days"}, "approver": "branch_leader", "basis": "情况复杂的可延长至30日"},
        {"max": {"amount": 60, "unit": "calendar_days"}, "approver": "senior_manager", "basis": "再延长30日须高级管理人员批准"},
    ]}
    config.pop("extension_max")
    config["forms"] = {"registration": {"required": ["complainant.name", "complainant.phone"], "basis": "登记要素"}}
    config["rules"] = [
        {"name": "利益冲突回避", "basis": "与被投诉人存在利益关系的应回避", "triggers": ["intake", "change"],
         "when": {"not": {"field": "respondent_unit", "eq": None}}, "then": [{"recuse": True}]},
        {"name": "银行责任", "basis": "经查属银行责任的纳入考核", "triggers": ["change"],
         "when": {"field": "liability", "eq": "enterprise"}, "then": [{"add_tag": "bank_liable"}]},
        {"name": "群体投诉代表", "basis": "群体投诉登记代表", "triggers": ["intake"],
         "when": {"field": "representatives", "gte": 1}, "then": [{"add_tag": "group"}]},
    ]


def _branch_leader() -> Api:
    user = User.objects.create(username="branch_leader")
    Membership.objects.create(user=user, unit=Unit.objects.get(code="county_a"), role="leader")
    return Api(user)


def test_a_banks_extension_tiers_each_need_their_own_approver(api) -> None:
    custom_policy(_bank, name="bank")
    with time_machine.travel(bj(2026, 3, 2, 10, 0), tick=False):
        body = new_case(api, complainant={"name": "储户王女士", "phone": "13911112222"})
        n = body["number"]
        assert due_of(body, "end_to_end")["due_at"] == "2026-03-17T23:59:59+08:00"  # 2 Mar + 15 days
        api("dispatcher").act(n, "dispatch", {"unit": "county_a"})
        api("handler_a").act(n, "acknowledge")
        # to 30 days (1 Apr): the branch's leader decides (a leader held in county_a)
        api("handler_a").act(n, "request_extension", {"amount": 15, "unit": "calendar_days", "reason": "需调取监控"})
        assert api("leader").act(n, "grant_extension").status_code == 403
        branch = _branch_leader()
        body = branch.act(n, "grant_extension").json()
        assert due_of(body, "end_to_end")["due_at"] == "2026-04-01T23:59:59+08:00"
        assert due_of(body, "resolve")["due_at"] == "2026-03-04T17:30:00+08:00"  # the unit's own 2 working days
        # a further 30 days (to 1 May): only the senior manager (a leader held in the bureau)
        api("handler_a").act(n, "request_extension", {"amount": 30, "unit": "calendar_days", "reason": "需司法鉴定"})
        assert branch.act(n, "grant_extension").status_code == 403
        body = api("leader").act(n, "grant_extension", {"comment": "同意再延长30日"}).json()
        assert due_of(body, "end_to_end")["due_at"] == "2026-05-01T23:59:59+08:00"
        r = api("handler_a").act(n, "request_extension", {"amount": 1, "unit": "calendar_days", "reason": "再延"})
        assert r.status_code == 422  # beyond the last tier


def test_a_bank_case_is_withdrawn_as_of_the_day_the_request_arrived(api) -> None:
    custom_policy(_bank, name="bank")
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):
        n = new_case(api, complainant={"name": "储户李先生", "phone": "13911113333"})["number"]
        api("dispatcher").act(n, "dispatch", {"unit": "county_a"})
        api("handler_a").act(n, "acknowledge")
    with time_machine.travel(bj(2026, 3, 11, 10, 0), tick=False):
        r = api("agent").act(n, "withdraw", {"reason": "客户来函撤回", "requested_at": "2026-03-12T09:00:00+08:00"})
        assert r.status_code == 422  # a request cannot arrive in the future
        body = api("agent").act(n, "withdraw", {"reason": "客户来函撤回投诉",
                                                 "requested_at": "2026-03-10T15:00:00+08:00"}).json()
    assert (body["state"], body["close_reason"], body["closed_at"]) == ("closed", "withdrawn",
                                                                         "2026-03-10T15:00:00+08:00")
    assert body["validity"] == "valid" and body["invalid_code"] is None  # not an invalid case, not a return
    stops = set(Timer.objects.filter(case__number=n, stopped_at__isnull=False).values_list("code", "state", "stopped_at"))
    assert ("end_to_end", "met", bj(2026, 3, 10, 15, 0)) in stops
    assert ("resolve", "met", bj(2026, 3, 10, 15, 0)) in stops
    assert not Timer.objects.filter(case__number=n, stopped_at__isnull=True).exists()


def test_the_complained_about_unit_and_person_are_kept_off_the_case(api) -> None:
    custom_policy(_bank, name="bank")
    body = new_case(api, respondent_unit="county_a", respondent_person="handler_a",
                    complainant={"name": "储户赵女士", "phone": "13911114444"},
                    representatives=[{"name": "代表甲", "phone": "139-1111-5555"}, {"name": "代表乙"}])
    n = body["number"]
    assert (body["respondent_unit"], body["respondent_person"], body["recusal"]) == ("county_a", "handler_a", True)
    assert body["representatives"][0] == {"name": "代表甲", "phone": "13911115555", "id_number": ""}
    assert "group" in body["tags"]
    r = api("dispatcher").act(n, "dispatch", {"unit": "county_a"})
    assert r.status_code == 422 and "回避" in r.json()["error"]["message"]
    assert api("dispatcher").act(n, "dispatch", {"unit": "county_b"}).json()["unit"] == "county_b"
    # the complained-about person never acts on it, even holding a role over it
    Membership.objects.create(user=User.objects.get(username="handler_a"), unit=Unit.objects.get(code="county_b"),
                              role="handler")
    assert Api(User.objects.get(username="handler_a")).act(n, "acknowledge").status_code == 403
    assert api("handler_b").act(n, "acknowledge").json()["state"] == "accepted"
    r = api("agent").post("/cases", {"kind": "complaint", "channel": "phone", "subject": "x", "respondent_unit": "nowhere",
                                     "complainant": {"name": "a", "phone": "13911116666"}})
    assert r.status_code == 422 and "respondent_unit" in r.json()["error"]["fields"]


def test_required_registration_fields_are_enforced_like_required_result_fields(api) -> None:
    custom_policy(_bank, name="bank")
    before = Case.objects.count()
    r = api("agent").post("/cases", {"kind": "complaint", "channel": "phone", "subject": "ATM吞卡",
                                     "complainant": {"name": "储户"}})
    assert r.status_code == 422
    assert r.json()["error"]["fields"] == {"complainant.phone": "required by the policy"}
    assert Case.objects.count() == before


def test_the_upper_level_branch_verifies_on_request_on_its_own_clock(api) -> None:
    custom_policy(_bank, name="bank")
    with time_machine.travel(bj(2026, 3, 2, 10, 0), tick=False):
        n = new_case(api, complainant={"name": "储户孙先生", "phone": "13911117777"})["number"]
        api("dispatcher").act(n, "dispatch", {"unit": "county_a"})
        api("handler_a").act(n, "acknowledge")
        body = api("handler_a").act(n, "submit_result", {**RESULT, "liability": "enterprise"}).json()
        assert "bank_liable" in body["tags"]  # a rule reading the result
        api("dispatcher").act(n, "review", {"accept": True})
        api("agent").act(n, "callback", {"satisfaction": "unsatisfied"})
        assert api("dispatcher").act(n, "close", {"recourse": "可申请上级行核实"}).json()["state"] == "closed"
    with time_machine.travel(bj(2026, 3, 5, 10, 0), tick=False):
        body = api("agent").act(n, "appeal", {"reason": "客户申请上级行核实"}).json()
        assert (body["state"], body["awaiting"], body["cycle"]) == ("pending_approval", "upper_branch", 2)
        assert due_of(body, "appeal")["due_at"] == "2026-04-04T23:59:59+08:00"  # 5 Mar + 30 days
        # the leader is not the upper-level branch's reviewer (a supervisor-based policy role)
        assert api("leader").act(n, "reject").status_code == 403
        body = api("supervisor").act(n, "reject", {"comment": "经核实维持原处理意见"}).json()
    assert (body["state"], body["close_reason"]) == ("closed", "appeal_rejected")
    assert Timer.objects.get(case__number=n, code="appeal").state == "met"


# --- 14.9: count windows aligned to the calendar, valid cases only, the organisation's region --------


def _counts(config: dict[str, Any]) -> None:
    config["region"] = "四川省"
    config["rules"] = [
        {"name": "同日三件", "basis": "同一天同一类问题3件", "triggers": ["intake"],
         "when": {"count": {"same": ["category", "region"], "window": "same_day", "gte": 3}},
         "then": [{"add_tag": "same_day_three"}]},
        {"name": "当月三件属实", "basis": "一个月内累计达到3件且问题属实", "triggers": ["intake"],
         "when": {"count": {"same": ["category"], "window": "same_month", "gte": 3, "valid_only": True}},
         "then": [{"add_tag": "month_three"}]},
    ]


def test_counts_follow_the_calendar_day_and_month_and_leave_out_invalid_cases(api) -> None:
    custom_policy(_counts)
    tags: dict[str, list[str]] = {}
    for at, key, category in [
        ((2026, 3, 9, 23, 0), "mon_late", "supply"),
        ((2026, 3, 10, 0, 30), "tue_night", "supply"),
        ((2026, 3, 10, 9, 0), "tue_morning", "supply"),
        ((2026, 3, 10, 10, 0), "tue_ten", "supply"),
    ]:
        with time_machine.travel(bj(*at), tick=False):
            body = new_case(api, category=category)
            tags[key] = body["tags"]
            assert body["region"] == "四川省"  # the organisation's region when the case names none
    # a sliding 24 hours would have counted Monday 23:00 for the Tuesday 09:00 case
    assert "same_day_three" not in tags["tue_morning"]
    assert "same_day_three" in tags["tue_ten"]

    with time_machine.travel(bj(2026, 2, 28, 9, 0), tick=False):  # the make-up Saturday: February
        new_case(api, category="billing")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        new_case(api, category="billing")
        invalid = new_case(api, category="billing")["number"]
        api("dispatcher").act(invalid, "mark_invalid", {"reason": "经查证与事实严重不符",
                                                         "reason_code": "contradicted_by_facts"})
        third = new_case(api, category="billing")
        fourth = new_case(api, category="billing")
    assert "month_three" not in third["tags"]  # February's and the invalid one do not count
    assert "month_three" in fourth["tags"]


def test_the_policy_form_fields_are_the_fields_the_services_accept() -> None:
    assert set(FORM_FIELDS["registration"]) == set(inputs.REGISTRATION_FIELDS)
    for form, names in FORM_FIELDS.items():
        if form != "registration":
            assert set(names) <= set(inputs.ACTION_INPUTS[form].model_fields), form


def test_a_closed_case_awaits_nothing_and_a_withdrawal_needs_an_open_case(api) -> None:
    n = case_in(api, "closed")
    assert api("agent").act(n, "withdraw", {"reason": "x"}).status_code == 409
