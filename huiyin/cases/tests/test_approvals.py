"""Approvals by the role the clause names, at the step it names (issue 14.6), and the fields a
policy requires (14.7): a consultation signed off by the 整顿办主任, a suggestion by the leader and
then the related department, an approver who picks the handling unit, the leader's decision
after a satisfied callback, a reply chain through a role the policy defines."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine

from huiyin.cases import selectors
from huiyin.cases.models import Case
from huiyin.cases.tests.helpers import RESULT, case_in, custom_policy, due_of
from huiyin.conftest import Api, bj, new_case
from huiyin.org.models import Membership, Unit, User

pytestmark = pytest.mark.django_db


def _chains(config: dict[str, Any]) -> None:
    config["workflow"]["approval_before_dispatch"] = {
        "kinds": ["complaint", "report", "employee_complaint", "consultation", "suggestion"],
        "chain": ["leader"],
        # 二(一)3 咨询 呈报整顿办主任签发; 4 建议 呈报分管领导、相关部门签发
        "chains": {"consultation": ["supervisor"], "suggestion": ["leader", "supervisor"]},
    }
    config["forms"] = {"approve": {"required": ["comment"], "basis": "阅办意见"}}


def test_each_kind_is_approved_by_the_role_its_clause_names(api) -> None:
    custom_policy(_chains)
    consultation = new_case(api, kind="consultation", subject="咨询办证流程")["number"]
    body = api("dispatcher").act(consultation, "dispatch", {"unit": "county_a"}).json()
    assert (body["state"], body["awaiting"], body["waiting_for"]) == ("pending_approval", "supervisor", "approve")
    assert api("leader").act(consultation, "approve", {"comment": "同意"}).status_code == 403
    # the approver must write the 阅办意见 (forms.approve.required) …
    r = api("supervisor").act(consultation, "approve")
    assert (r.status_code, r.json()["error"]["fields"]) == (422, {"comment": "required by the policy"})
    # … and may change the handling unit as they approve
    body = api("supervisor").act(consultation, "approve", {"unit": "marketing", "comment": "转营销部答复"}).json()
    assert (body["state"], body["unit"], body["awaiting"]) == ("dispatched", "marketing", None)

    suggestion = new_case(api, kind="suggestion", subject="建议增加配送频次")["number"]
    api("dispatcher").act(suggestion, "dispatch", {"unit": "logistics"})
    supervisor = User.objects.get(username="supervisor")
    assert not selectors.approvals(supervisor)["dispatch"]  # the leader signs first
    body = api("leader").act(suggestion, "approve", {"comment": "可行,请物流部论证"}).json()
    assert (body["state"], body["approval_level"], body["awaiting"]) == ("pending_approval", 1, "supervisor")
    assert [c.number for c in selectors.approvals(supervisor)["dispatch"]] == [suggestion]
    assert Case.objects.get(number=suggestion).pk in selectors.waiting_ids(supervisor)
    body = api("supervisor").act(suggestion, "approve", {"comment": "同意"}).json()
    assert (body["state"], body["unit"]) == ("dispatched", "logistics")


def _satisfied_decision(config: dict[str, Any]) -> None:
    config["workflow"]["satisfied_decision"] = ["leader"]


def test_the_leader_decides_after_a_satisfied_callback_whether_another_round_is_needed(api) -> None:
    custom_policy(_satisfied_decision)
    with time_machine.travel(bj(2026, 3, 10, 10, 0), tick=False):
        n = case_in(api, "pending_callback")
        body = api("agent").act(n, "callback", {"satisfaction": "satisfied"}).json()
        assert (body["state"], body["waiting_for"], body["awaiting"]) == ("pending_callback", "close", "leader")
        assert due_of(body, "decision")["due_at"] == "2026-03-10T17:30:00+08:00"
        assert api("agent").act(n, "close").status_code == 403
        assert api("dispatcher").act(n, "close").status_code == 403
        leader = api("leader").get(f"/cases/{n}").json()
        assert {"close", "redispatch"} <= set(leader["allowed_actions"])
        assert Case.objects.get(number=n).pk in selectors.waiting_ids(User.objects.get(username="leader"))
        body = api("leader").act(n, "redispatch", {"unit": "county_a", "instructions": "满意但需整改到位"}).json()
        assert (body["state"], body["round"]) == ("dispatched", 2)
        other = case_in(api, "pending_callback")
        api("agent").act(other, "callback", {"satisfaction": "very_satisfied"})
        assert api("leader").act(other, "close", {"comment": "无需二次派单"}).json()["state"] == "closed"


def _policy_role(config: dict[str, Any]) -> None:
    config["roles"] = {"centre_head": {"name": "监控中心主任", "role": "supervisor", "unit": "centre"}}
    config["workflow"]["reply_approval"] = {"default": [], "kinds": {"complaint": ["centre_head"]}}


def test_a_role_the_policy_defines_signs_off_the_reply(api) -> None:
    custom_policy(_policy_role)
    head = User.objects.create(username="centre_head")
    Membership.objects.create(user=head, unit=Unit.objects.get(code="centre"), role="supervisor")
    n = case_in(api, "result_submitted")
    body = api("dispatcher").get(f"/cases/{n}").json()
    assert (body["waiting_for"], body["awaiting"]) == ("approve_reply", "centre_head")
    # the bureau's supervisor is a supervisor, but not in the centre: not the 监控中心主任
    assert api("supervisor").act(n, "approve_reply", {"accept": True}).status_code == 403
    assert Case.objects.get(number=n).pk in selectors.waiting_ids(head)
    body = Api(head).act(n, "approve_reply", {"accept": True, "comment": "同意答复"}).json()
    assert (body["reply_level"], body["waiting_for"]) == (1, "review")
    # a consultation has no chain under this policy
    consultation = case_in(api, "result_submitted", kind="consultation", subject="咨询")
    assert api("dispatcher").get(f"/cases/{consultation}").json()["waiting_for"] == "review"


def _report_required(config: dict[str, Any]) -> None:
    config["forms"] = {"submit_result": {
        "required": ["cause", "course", "responsible_person", "conclusion", "countermeasures", "reply"],
        "basis": "调查报告内容包括发生原因、具体经过、具体责任者、结论、对策和防范措施"}}


def test_a_result_without_the_fields_the_regulation_requires_is_refused(api) -> None:
    custom_policy(_report_required)
    n = case_in(api, "accepted")
    before = Case.objects.get(number=n).version
    r = api("handler_a").act(n, "submit_result", {"reply": "已处理", "cause": "配送车辆故障"})
    assert r.status_code == 422
    assert set(r.json()["error"]["fields"]) == {"course", "responsible_person", "conclusion", "countermeasures"}
    assert Case.objects.get(number=n).version == before
    body = api("handler_a").get(f"/cases/{n}").json()
    assert body["required"]["submit_result"] == ["cause", "course", "responsible_person", "conclusion",
                                                 "countermeasures", "reply"]
    assert api("handler_a").act(n, "submit_result", RESULT).json()["state"] == "result_submitted"
