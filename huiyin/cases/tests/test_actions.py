"""Every workflow action at least once, and the state × action table."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine

from huiyin.cases.models import Case, Event, State, Timer
from huiyin.cases.tests.helpers import PATHS, RESULT, case_in
from huiyin.cases.workflow import ACTIONS
from huiyin.conftest import bj, new_case

pytestmark = pytest.mark.django_db


def test_reject_sends_the_proposal_back_to_registered(api) -> None:
    n = case_in(api, "pending_approval")
    r = api("leader").act(n, "reject", {"comment": "请先核实投诉对象"})
    assert r.json()["state"] == "registered"
    assert r.json()["proposed_unit"] is None


def test_mark_invalid_records_the_reason_and_explanation(api) -> None:
    n = new_case(api)["number"]
    r = api("dispatcher").act(n, "mark_invalid", {"reason": "超出公司承诺范围", "reason_code": "beyond_commitments",
                                                  "explanation": "已向客户解释"})
    body = r.json()
    assert body["state"] == "invalid"
    assert body["invalid_code"] == "beyond_commitments"
    assert api("dispatcher").act(new_case(api)["number"], "mark_invalid",
                                 {"reason": "x", "reason_code": "bored"}).status_code == 422
    assert body["validity"] == "invalid"
    assert body["invalid_reason"] == "超出公司承诺范围"
    assert body["reply"] == "已向客户解释"


def test_return_goes_back_to_the_dispatcher_for_a_new_unit(api) -> None:
    n = case_in(api, "returned")
    body = api("dispatcher").get(f"/cases/{n}").json()
    assert "dispatch" in body["allowed_actions"]
    # the returning unit no longer has an acknowledgement deadline running
    assert {d["timer"]: d["state"] for d in body["deadlines"]}["acknowledge"] == "cancelled"
    r = api("dispatcher").act(n, "dispatch", {"unit": "county_b"})
    assert r.json()["state"] == "pending_approval"
    assert api("leader").act(n, "approve").json()["unit"] == "county_b"
    timeline = api("agent").get(f"/cases/{n}/timeline").json()["events"]
    assert timeline[3]["changes"]["return_reason"] == [None, "不属本单位业务"]


def test_extension_is_granted_up_to_the_policy_maximum(api) -> None:
    # Monday 9 Mar 2026: resolve is due Wed 11 Mar 17:30; at most 7 working days → Wed 18 Mar.
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):
        n = case_in(api, "accepted")
        r = api("handler_a").act(n, "request_extension", {"amount": 6, "unit": "working_days", "reason": "需送检"})
        assert r.status_code == 422
        assert "amount" in r.json()["error"]["fields"]
        r = api("handler_a").act(n, "request_extension", {"amount": 3, "unit": "working_days", "reason": "需送检"})
        assert r.status_code == 200
        assert "grant_extension" in api("leader").get(f"/cases/{n}").json()["allowed_actions"]
        r = api("handler_a").act(n, "request_extension", {"amount": 1, "unit": "working_days", "reason": "again"})
        assert r.status_code == 409  # one request at a time
        r = api("leader").act(n, "grant_extension", {"comment": "同意延期"})
        resolve = next(d for d in r.json()["deadlines"] if d["timer"] == "resolve")
        assert resolve["due_at"] == "2026-03-16T17:30:00+08:00"
        api("handler_a").act(n, "request_extension", {"amount": 2, "unit": "working_days", "reason": "仍需时间"})
        r = api("leader").act(n, "refuse_extension")
        resolve = next(d for d in r.json()["deadlines"] if d["timer"] == "resolve")
        assert resolve["due_at"] == "2026-03-16T17:30:00+08:00"


def test_suspend_pauses_the_clock_and_resume_gives_the_time_back(api) -> None:
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):  # Monday
        n = case_in(api, "accepted")  # resolve due Wed 11 Mar 17:30
    with time_machine.travel(bj(2026, 3, 10, 9, 0), tick=False):  # Tuesday 09:00 —送检
        r = api("handler_a").act(n, "suspend", {"reason": "送检取证"})
        assert r.json()["state"] == "suspended"
        assert {d["timer"]: d["state"] for d in r.json()["deadlines"]}["resolve"] == "paused"
    with time_machine.travel(bj(2026, 3, 16, 9, 0), tick=False):  # next Monday 09:00
        r = api("handler_a").act(n, "resume")
        assert r.json()["state"] == "accepted"
        resolve = next(d for d in r.json()["deadlines"] if d["timer"] == "resolve")
        # 1.5 working days were left (Tue 09:00 → Wed 17:30); counted again from Mon 09:00.
        assert resolve["due_at"] == "2026-03-17T17:30:00+08:00"
        assert resolve["state"] == "running"


def test_the_offered_actions_follow_the_running_clocks_read_once(api, org) -> None:
    """The case's answer offers record_contact while first contact runs and request_extension
    while the extension clock runs and no request waits; `allowed_actions` reads the running clocks
    in one statement for both guards, and reads them again after each change."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from huiyin.cases.workflow import allowed_actions

    n = case_in(api, "accepted")
    case = Case.objects.get(number=n)
    with CaptureQueriesContext(connection) as read:
        offered = allowed_actions(org.handler_a, case)
    assert {"record_contact", "request_extension"} <= set(offered)
    assert sum('"cases_timer"' in q["sql"] for q in read.captured_queries) == 1, read.captured_queries
    assert api("handler_a").act(n, "record_contact", {"notes": "已电话联系客户"}).status_code == 200
    assert "record_contact" not in api("handler_a").get(f"/cases/{n}").json()["allowed_actions"]
    r = api("handler_a").act(n, "request_extension", {"amount": 1, "unit": "working_days", "reason": "需送检"})
    assert r.status_code == 200
    assert "request_extension" not in r.json()["allowed_actions"]  # one request waits


def test_record_contact_meets_the_first_contact_timer(api) -> None:
    n = case_in(api, "accepted")
    r = api("handler_a").act(n, "record_contact", {"notes": "已电话联系客户"})
    assert {d["timer"]: d["state"] for d in r.json()["deadlines"]}["first_contact"] == "met"
    assert api("handler_a").act(n, "record_contact").status_code == 409


def test_major_case_plan_needs_the_leaders_approval(api) -> None:
    n = case_in(api, "accepted")
    Case.objects.filter(number=n).update(severity="major")
    r = api("handler_a").act(n, "submit_result", RESULT)
    assert r.json()["state"] == "plan_approval"
    assert api("dispatcher").act(n, "approve_plan").status_code == 403
    r = api("leader").act(n, "approve_plan", {"comment": "同意处理方案"})
    assert r.json()["state"] == "result_submitted"


def test_review_can_send_the_result_back(api) -> None:
    n = case_in(api, "result_submitted")
    r = api("dispatcher").act(n, "review", {"accept": False, "comment": "调查不充分"})
    assert r.json()["state"] == "accepted"


def test_unreachable_callback_is_retried_then_closed(api) -> None:
    n = case_in(api, "pending_callback")
    for attempt in (1, 2):
        r = api("agent").act(n, "callback", {"satisfaction": "unreachable"})
        assert r.json()["state"] == "pending_callback"
        assert r.json()["callback_attempts"] == attempt
    r = api("agent").act(n, "callback", {"satisfaction": "unreachable"})
    assert r.json()["state"] == "closed"
    assert r.json()["close_reason"] == "unreachable"


def test_close_after_an_unsatisfied_callback_records_the_recourse(api) -> None:
    n = case_in(api, "pending_callback")
    api("agent").act(n, "callback", {"satisfaction": "unsatisfied"})
    r = api("dispatcher").act(n, "close", {"recourse": "告知可向12315申诉或申请调解"})
    assert r.json()["state"] == "closed"
    ev = Event.objects.filter(case__number=n, action="close").get()
    assert ev.changes["recourse"] == [None, "告知可向12315申诉或申请调解"]


def test_close_before_the_callback_is_refused(api) -> None:
    n = case_in(api, "pending_callback")
    assert api("dispatcher").act(n, "close").status_code == 409


def test_escalate_makes_round_three_under_leadership(api) -> None:
    n = case_in(api, "accepted")
    r = api("supervisor").act(n, "escalate", {"unit": "county_a", "instructions": "三次派单,局领导督查"})
    assert r.json()["round"] == 3
    assert r.json()["escalated"] is True
    assert r.json()["state"] == "dispatched"
    assert api("supervisor").act(n, "escalate", {"unit": "county_a"}).status_code == 409


def test_redispatch_twice_is_refused_in_favour_of_escalate(api) -> None:
    n = case_in(api, "result_submitted")
    assert api("dispatcher").act(n, "redispatch", {"unit": "county_b"}).json()["round"] == 2
    api("handler_b").act(n, "acknowledge")
    api("handler_b").act(n, "submit_result", RESULT)
    r = api("dispatcher").act(n, "redispatch", {"unit": "county_a"})
    assert r.status_code == 409
    assert "escalate" in r.json()["error"]["message"]


def test_urge_counts_and_stays_in_state(api) -> None:
    n = case_in(api, "accepted")
    api("agent").act(n, "urge", {"note": "客户来电催办"})
    r = api("supervisor").act(n, "urge", {"note": "督办催办"})
    assert r.json()["urge_count"] == 2
    assert r.json()["state"] == "accepted"


def test_merge_closes_the_duplicate_and_links_it(api) -> None:
    first = case_in(api, "accepted")
    dup = new_case(api)["number"]
    r = api("dispatcher").act(dup, "merge", {"into": first})
    assert r.json()["state"] == "closed"
    assert r.json()["merged_into"] == first
    assert dup in api("dispatcher").get(f"/cases/{first}").json()["links"]
    assert api("dispatcher").act(dup, "reopen", {"reason": "x"}).status_code == 409
    r = api("dispatcher").act(new_case(api)["number"], "merge", {"into": "TS19990101-000001"})
    assert r.status_code == 422


def test_link_relates_two_cases_once(api) -> None:
    a, b = new_case(api)["number"], new_case(api)["number"]
    assert api("agent").act(a, "link", {"to": b}).json()["links"] == [b]
    assert api("agent").act(a, "link", {"to": b}).status_code == 409
    assert api("agent").act(a, "link", {"to": a}).status_code == 422


def test_reopen_sends_a_closed_case_back_to_registered(api) -> None:
    n = case_in(api, "closed")
    r = api("dispatcher").act(n, "reopen", {"reason": "客户再次反映问题未解决"})
    assert r.json()["state"] == "registered"
    assert r.json()["closed_at"] is None


def test_employee_complaint_appeal_goes_to_the_gm(api) -> None:
    n = case_in(api, "closed", kind="employee_complaint", subject="对绩效考核结果有异议")
    assert n.startswith("YG")
    r = api("agent").act(n, "appeal", {"reason": "员工不服处理决定,申请复审"})
    assert r.json()["state"] == "pending_approval"
    r = api("leader").act(n, "reject", {"comment": "维持原处理决定"})
    assert r.json()["state"] == "closed"
    assert r.json()["close_reason"] == "appeal_rejected"
    assert api("agent").act(n, "appeal", {"reason": "again"}).status_code == 409
    # a customer complaint cannot be appealed
    assert api("agent").act(case_in(api, "closed"), "appeal", {"reason": "x"}).status_code == 409


def test_compensation_is_recorded(api) -> None:
    n = case_in(api, "accepted")
    r = api("handler_a").act(n, "compensate", {"amount": "200.00", "form": "退款"})
    assert r.json()["compensation"] == {"amount": "200.00", "form": "退款", "status": "approved"}


def test_transfer_out_tells_the_competent_authority_and_closes(api) -> None:
    n = new_case(api)["number"]
    r = api("agent").act(n, "transfer_out", {"authority": "市场监督管理局", "note": "已告知客户向12315反映"})
    assert r.json()["state"] == "closed"
    assert r.json()["close_reason"] == "transferred"


# --- the table: every (state, action) pair ------------------------------------------------


@pytest.fixture
def omni(org):
    """A user holding every role at the bureau, so only the state decides."""
    from huiyin.org.models import Membership, Role, Unit, User

    user = User.objects.create(username="omni")
    bureau = Unit.objects.get(code="bureau")
    for role in Role.values:
        Membership.objects.create(user=user, unit=bureau, role=role)
    return user


def test_every_action_outside_its_states_is_a_conflict(api, omni) -> None:
    from huiyin.cases import workflow
    from huiyin.cases.errors import InvalidTransition

    checked = 0
    for state in PATHS:
        case = Case.objects.get(number=case_in(api, state))
        for name, action in ACTIONS.items():
            if state in action.sources:
                continue
            before = (case.state, case.version, Event.objects.filter(case=case).count())
            with pytest.raises(InvalidTransition):
                workflow.perform(case, name, actor=omni, data=_minimal_body(name))
            case.refresh_from_db()
            assert (case.state, case.version, Event.objects.filter(case=case).count()) == before
            checked += 1
    assert checked > 150
    assert set(PATHS) | {"plan_approval"} == set(State.values)


def _minimal_body(action: str) -> dict[str, Any]:
    bodies: dict[str, dict[str, Any]] = {
        "dispatch": {"unit": "county_a"}, "redispatch": {"unit": "county_a"}, "escalate": {"unit": "county_a"},
        "return": {"reason": "r"}, "suspend": {"reason": "r"}, "reopen": {"reason": "r"}, "appeal": {"reason": "r"},
        "mark_invalid": {"reason": "r"}, "resolve_on_spot": {"reply": "r"},
        "request_extension": {"amount": 1, "unit": "working_days", "reason": "r"},
        "submit_result": {"reply": "r"}, "review": {"accept": True}, "callback": {"satisfaction": "satisfied"},
        "merge": {"into": "TS20000101-000001"}, "link": {"to": "TS20000101-000001"},
        "compensate": {"amount": "1", "form": "f"}, "transfer_out": {"authority": "a"},
        "co_submit_result": {"result": "r"}, "decide_return": {"uphold": True}, "dispute_return": {"reason": "r"},
        "classify": {"severity": "major"}, "approve_reply": {"accept": True},
        "withdraw": {"reason": "r"}, "fulfil": {"obligation": "x"},
    }
    return bodies.get(action, {})


def test_timers_are_stored_per_round(api) -> None:
    n = case_in(api, "result_submitted")
    api("dispatcher").act(n, "redispatch", {"unit": "county_b"})
    rounds = sorted(Timer.objects.filter(case__number=n, code="resolve").values_list("round", "state"))
    assert rounds == [(1, "met"), (2, "running")]


def test_compensation_above_the_policys_limit_waits_for_the_leader(api) -> None:
    from huiyin.notify.models import InboxItem
    from huiyin.policies.models import Policy
    from huiyin.policies.services import clear_cache

    policy = Policy.objects.get(active=True)
    Policy.objects.filter(pk=policy.pk).update(config={**policy.config, "compensation": {"approval_above": 1000}})
    clear_cache()
    n = case_in(api, "accepted")
    small = api("handler_a").act(n, "compensate", {"amount": "200.00", "form": "礼品"}).json()
    assert small["compensation"]["status"] == "approved"
    big = api("handler_a").act(n, "compensate", {"amount": "5000.00", "form": "退款"}).json()
    assert big["compensation"] == {"amount": "5000.00", "form": "退款", "status": "requested"}
    assert api("handler_a").act(n, "compensate", {"amount": "1", "form": "x"}).status_code == 409
    assert InboxItem.objects.filter(user__username="leader", case_number=n, event="case.approval_needed").exists()
    assert "approve_compensation" in api("leader").get(f"/cases/{n}").json()["allowed_actions"]
    assert api("handler_a").act(n, "approve_compensation").status_code == 403
    r = api("leader").act(n, "approve_compensation", {"comment": "同意退款"})
    assert r.json()["compensation"]["status"] == "approved"
    assert api("leader").act(n, "refuse_compensation").status_code == 409


def test_a_cases_answer_reads_its_co_handlings_and_a_waiting_extension_request_once(api: Any) -> None:
    """The answer (case page, API) reads the co-handling units once, for both their deadlines and
    the co-unit's own actions, and the waiting extension request once, for the three guards and
    the approver's role that ask of it (issue 9: work done once)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    n = new_case(api)["number"]
    assert api("dispatcher").act(n, "dispatch", {"unit": "county_a", "co_units": ["county_b"]}).status_code == 200
    api("leader").act(n, "approve", {})
    assert api("handler_a").act(n, "acknowledge", {}).status_code == 200
    r = api("handler_a").act(n, "request_extension", {"amount": 1, "unit": "working_days", "reason": "需送检"})
    assert r.status_code == 200

    def reads(user: str, table: str) -> tuple[dict[str, Any], list[str]]:
        with CaptureQueriesContext(connection) as captured:
            answer = api(user).get(f"/cases/{n}")
        assert answer.status_code == 200
        return answer.json(), [q["sql"] for q in captured.captured_queries if q["sql"].startswith(f'SELECT "{table}"')]

    co, rows = reads("handler_b", "cases_cohandling")
    assert [c["unit"] for c in co["co_units"]] == ["county_b"] and "co_acknowledge" in co["allowed_actions"]
    assert len(rows) == 1, rows
    lead, rows = reads("leader", "cases_extension")
    assert {"grant_extension", "refuse_extension"} <= set(lead["allowed_actions"])
    assert len(rows) == 1, rows


def test_an_actions_answer_names_the_earlier_case_without_reading_it_whole(api: Any) -> None:
    """The answer to an action names the case it repeats (repeat_of) from one narrow read of the
    earlier case's number, kind and registering unit: the earlier case's full row is never read
    (it was loaded whole, ~90 columns, for its number alone), and the co-handling units are read
    only where they can matter (issue 9: work done once and in the right place)."""
    import re

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    earlier = case_in(api, "closed")
    later = case_in(api, "dispatched")  # the same complainant, so a repeat of `earlier`
    earlier_pk = Case.objects.get(number=earlier).pk
    with CaptureQueriesContext(connection) as captured:
        r = api("handler_a").act(later, "acknowledge", {})
    assert r.status_code == 200 and r.json()["repeat_of"] == earlier
    statements = [q["sql"] for q in captured.captured_queries]
    whole = [s for s in statements if s.startswith('SELECT "cases_case"."id", "cases_case"."number", '
                                                   '"cases_case"."kind", "cases_case"."channel"')]
    assert whole and not [s for s in whole if earlier in s or re.search(rf'"cases_case"\."id" = {earlier_pk}\b', s)]
    # Inside the action's transaction: the acting handler's roles over the handling unit answer,
    # so the co-handling units are not read; the notice and its fan-out read the recipients once.
    # (The whole count, 30 here against 34 on a121a38, also depends on per-process caches such as
    # the transport settings', so it is not asserted.)
    start = next(i for i, s in enumerate(statements) if s.startswith("SAVEPOINT"))
    end = next(i for i, s in enumerate(statements) if s.startswith("RELEASE SAVEPOINT"))
    inside = statements[start:end]
    assert not [s for s in inside if s.startswith('SELECT "cases_cohandling"."id"')], "\n".join(inside)
    assert len([s for s in inside if 'FROM "org_user"' in s]) == 1, "\n".join(inside)
