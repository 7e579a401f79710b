"""Clocks as the clause names them (issue 14): what a clock counts from, an end-to-end deadline
that caps the stages, obligations after closing, a round's and a co-handling unit's own limits,
business minutes — and the two regressions: an overdue clock keeps its lateness through a
suspension, a reopened case gets clocks of its own.

Every expected date is worked out by hand on the 2026 calendar (Qingming 4–6 Apr; the
working day ends at 17:30, lunch 12:00–13:30)."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine

from huiyin.cases import selectors
from huiyin.cases.jobs import sweep_breaches
from huiyin.cases.models import Case, Timer
from huiyin.cases.tests.helpers import RESULT, case_in, custom_policy, due_of
from huiyin.conftest import bj, new_case
from huiyin.org.models import User
from huiyin.policies.services import policy_load_preset
from huiyin.policies.tests.helpers import fresh

pytestmark = pytest.mark.django_db


# --- issue 14.12: the two bugs ------------------------------------------------------------------


def test_an_overdue_clock_keeps_its_lateness_through_a_suspension(api) -> None:
    # Mon 9 Mar 09:00: resolve in 2 working days → Wed 11 Mar 17:30.
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):
        n = case_in(api, "accepted")
    # Thu 12 Mar 09:30: 16 hours overdue; the sweep records the breach, then the unit suspends.
    with time_machine.travel(bj(2026, 3, 12, 9, 30), tick=False):
        sweep_breaches()
        body = api("handler_a").act(n, "suspend", {"reason": "送检取证"}).json()
        assert due_of(body, "resolve")["state"] == "paused"
    with time_machine.travel(bj(2026, 3, 13, 10, 0), tick=False):  # while suspended the figures stand still
        resolve = due_of(api("handler_a").get(f"/cases/{n}").json(), "resolve")
        assert (resolve["state"], resolve["breach_seconds"]) == ("paused", 16 * 3600)
    with time_machine.travel(bj(2026, 3, 16, 9, 30), tick=False):  # Mon 16 Mar: resumed
        resolve = due_of(api("handler_a").act(n, "resume").json(), "resolve")
        # still breached, still 16 hours late: the suspended days are handed back, not the lateness
        assert (resolve["state"], resolve["breach_seconds"]) == ("breached", 16 * 3600)
        assert resolve["due_at"] == "2026-03-15T17:30:00+08:00"
    with time_machine.travel(bj(2026, 3, 16, 11, 30), tick=False):
        resolve = due_of(api("handler_a").act(n, "submit_result", RESULT).json(), "resolve")
    assert (resolve["state"], resolve["breach_seconds"]) == ("breached", 18 * 3600)


def test_a_reopened_case_gets_clocks_of_its_own_and_the_first_handling_stays_as_it_was(api) -> None:
    policy_load_preset("telecom")  # resolve: 15 calendar days from receipt
    with time_machine.travel(bj(2026, 3, 2, 10, 0), tick=False):
        n = new_case(api)["number"]
        body = api("dispatcher").act(n, "dispatch", {"unit": "county_a"}).json()
        assert due_of(body, "resolve")["due_at"] == "2026-03-17T23:59:59+08:00"
        api("handler_a").act(n, "acknowledge")
        api("handler_a").act(n, "submit_result", RESULT)
        api("dispatcher").act(n, "review", {"accept": True})
        assert api("agent").act(n, "callback", {"satisfaction": "satisfied"}).json()["state"] == "closed"
    # Tue 7 Apr 2026 (after Qingming) the customer comes back; the case is reopened and dispatched.
    with time_machine.travel(bj(2026, 4, 7, 10, 0), tick=False):
        dispatcher = fresh("dispatcher")  # tokens last 30 days
        body = dispatcher.act(n, "reopen", {"reason": "客户反映问题再次出现"}).json()
        assert (body["state"], body["cycle"], body["round"]) == ("registered", 2, 1)
        assert body["reopened_at"] == "2026-04-07T10:00:00+08:00"
        assert due_of(body, "dispatch")["due_at"] == "2026-04-07T11:00:00+08:00"
        body = dispatcher.act(n, "dispatch", {"unit": "county_a"}).json()
    resolve = due_of(body, "resolve")
    # 15 days from the reopening, not from the first receipt (which would be long breached)
    assert (resolve["due_at"], resolve["state"], resolve["cycle"]) == ("2026-04-22T23:59:59+08:00", "running", 2)
    first = Timer.objects.get(case__number=n, code="resolve", cycle=1)
    assert (first.state, first.due_at) == ("met", bj(2026, 3, 17, 23, 59, 59))


# --- issue 14.1: what a clock counts from --------------------------------------------------------


def _anchored(config: dict[str, Any]) -> None:
    timers = config["timers"]
    timers["resolve"]["channels"]["letter"] = {"amount": 45, "unit": "calendar_days", "from": "receipt"}
    timers["first_contact"]["default"] = {"amount": 1, "unit": "working_days", "from": "acknowledge"}
    timers["callback"]["from"] = "result"


def test_each_clock_counts_from_the_moment_its_clause_names(api) -> None:
    custom_policy(_anchored)
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):  # Mon 2 Mar: a letter and a call arrive
        letter = new_case(api, channel="letter", subject="来信反映卷烟断货")["number"]
        call = new_case(api, subject="来电反映配送延误")["number"]
    with time_machine.travel(bj(2026, 3, 4, 10, 0), tick=False):  # Wed 4 Mar: both dispatched
        for n in (letter, call):
            api("dispatcher").act(n, "dispatch", {"unit": "county_a"})
            api("leader").act(n, "approve")
        letter_body = api("handler_a").get(f"/cases/{letter}").json()
        call_body = api("handler_a").get(f"/cases/{call}").json()
    # the letter's 45 days run from the centre's receipt: 2 Mar + 45 days = 16 Apr
    assert due_of(letter_body, "resolve")["due_at"] == "2026-04-16T23:59:59+08:00"
    assert due_of(letter_body, "resolve")["started_at"] == "2026-03-02T09:00:00+08:00"
    # the unit's 2 working days run from the slip: Thu 5, Fri 6 Mar
    assert due_of(call_body, "resolve")["due_at"] == "2026-03-06T17:30:00+08:00"
    # first contact counts from the acknowledgement, so it has not started yet
    assert "first_contact" not in {d["timer"] for d in call_body["deadlines"]}
    with time_machine.travel(bj(2026, 3, 5, 16, 0), tick=False):  # Thu 5 Mar 16:00: acknowledged
        body = api("handler_a").act(call, "acknowledge").json()
        assert body["acknowledged_at"] == "2026-03-05T16:00:00+08:00"
        assert due_of(body, "first_contact")["due_at"] == "2026-03-06T17:30:00+08:00"
    with time_machine.travel(bj(2026, 3, 6, 16, 0), tick=False):  # Fri 6 Mar 16:00: the result
        api("handler_a").act(call, "submit_result", RESULT)
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):  # reviewed on Monday
        body = api("dispatcher").act(call, "review", {"accept": True}).json()
    # 在反馈当天回访: the callback was due the day of the result, not the day of the review
    callback = due_of(body, "callback")
    assert (callback["started_at"], callback["due_at"]) == ("2026-03-06T16:00:00+08:00", "2026-03-06T17:30:00+08:00")


# --- issue 14.2: from receipt to closure --------------------------------------------------------


def _end_to_end(config: dict[str, Any]) -> None:
    config["timers"]["end_to_end"] = {"default": {"amount": 3, "unit": "working_days"}, "basis": "至接到投诉3个工作日结案"}


def test_a_new_cases_dispatch_clock_is_capped_by_its_end_to_end_clock(api) -> None:
    # The intake computes its first clocks before its transaction (deadlines.first_clocks): the
    # dispatch clock is capped by the end-to-end one as any later stage is, and the case's first
    # deadline is the earlier.
    def tight(config: dict[str, Any]) -> None:
        config["timers"]["end_to_end"] = {"default": {"amount": 30, "unit": "minutes"}, "basis": "30分钟内办结"}

    custom_policy(tight)
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):  # Mon 9 Mar
        body = new_case(api)
    end, dispatch = due_of(body, "end_to_end"), due_of(body, "dispatch")
    assert end["due_at"] == "2026-03-09T09:30:00+08:00"
    assert (dispatch["due_at"], dispatch["capped_by"]) == ("2026-03-09T09:30:00+08:00", "end_to_end")
    case = Case.objects.get(number=body["number"])
    assert case.next_due_at == bj(2026, 3, 9, 9, 30)
    assert sorted(Timer.objects.filter(case=case).values_list("code", "due_at")) == [
        ("dispatch", bj(2026, 3, 9, 9, 30)), ("end_to_end", bj(2026, 3, 9, 9, 30))]


def test_an_end_to_end_clock_caps_the_stages_and_counts_in_timeliness(api) -> None:
    custom_policy(_end_to_end)
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):  # Mon 9 Mar
        body = new_case(api)
        n = body["number"]
        assert due_of(body, "end_to_end")["due_at"] == "2026-03-12T17:30:00+08:00"  # Tue, Wed, Thu
    with time_machine.travel(bj(2026, 3, 11, 16, 0), tick=False):  # dispatched Wed 11 Mar 16:00
        api("dispatcher").act(n, "dispatch", {"unit": "county_a"})
        body = api("leader").act(n, "approve").json()
    resolve = due_of(body, "resolve")
    # 2 working days would be Fri 13 Mar; the case must be closed by Thu 12 Mar
    assert (resolve["due_at"], resolve["capped_by"]) == ("2026-03-12T17:30:00+08:00", "end_to_end")
    assert due_of(body, "acknowledge")["due_at"] == "2026-03-12T09:00:00+08:00"  # 1.5 h Wed + 0.5 h Thu
    assert Case.objects.get(number=n).next_due_at == bj(2026, 3, 12, 9, 0)
    with time_machine.travel(bj(2026, 3, 13, 10, 0), tick=False):  # closed Fri 13 Mar 10:00: late
        api("handler_a").act(n, "acknowledge")
        api("handler_a").act(n, "submit_result", RESULT)
        api("dispatcher").act(n, "review", {"accept": True})
        api("agent").act(n, "callback", {"satisfaction": "satisfied"})
        body = api("leader").act(n, "close").json()  # tobacco 二(三): the leader's 审查
        end = due_of(body, "end_to_end")
        assert (body["state"], end["state"], end["breach_seconds"]) == ("closed", "breached", 16 * 3600 + 1800)
        figures = selectors._dashboard(User.objects.get(username="leader"), unit=None)
    assert figures["timeliness"]["end_to_end"] == {"met": 0, "breached": 1}
    assert Case.objects.get(number=n).next_due_at is None


# --- issue 14.3: obligations after closing --------------------------------------------------------


def _plan_filing(config: dict[str, Any]) -> None:
    config["obligations"] = [{
        "code": "head_office_plan", "name": "重大投诉处理方案报备总公司", "when": {"field": "severity", "eq": "major"},
        "from": "close", "due": {"amount": 3, "unit": "working_days"}, "role": "dispatcher",
        "basis": "结案后3个工作日内将处理方案报备总公司",
    }]


def _closed_major(api: Any) -> str:
    n = case_in(api, "accepted")
    api("dispatcher").act(n, "classify", {"severity": "major"})
    api("handler_a").act(n, "submit_result", RESULT)
    api("leader").act(n, "approve_plan")  # tobacco: a major case's plan goes to the leader
    api("dispatcher").act(n, "review", {"accept": True})
    api("agent").act(n, "callback", {"satisfaction": "satisfied"})
    assert api("leader").act(n, "close").json()["state"] == "closed"  # tobacco 二(三): the leader's 审查
    return n


def test_an_obligation_after_closing_has_its_own_deadline_and_never_makes_the_case_overdue(api) -> None:
    custom_policy(_plan_filing)
    with time_machine.travel(bj(2026, 3, 6, 15, 0), tick=False):  # closed Fri 6 Mar 15:00
        n = _closed_major(api)
        ordinary = case_in(api, "closed")
        body = api("dispatcher").get(f"/cases/{n}").json()
        ordinary_body = api("dispatcher").get(f"/cases/{ordinary}").json()
    plan = due_of(body, "head_office_plan")
    assert (plan["due_at"], plan["obligation"], plan["role"]) == ("2026-03-11T17:30:00+08:00", True, "dispatcher")
    assert body["waiting_for"] == "fulfil" and "fulfil" in body["allowed_actions"]
    assert "head_office_plan" not in {d["timer"] for d in ordinary_body["deadlines"]}
    dispatcher = User.objects.get(username="dispatcher")
    with time_machine.travel(bj(2026, 3, 12, 9, 0), tick=False):  # Thu 12 Mar: late, reported like any timer
        assert sweep_breaches() == 1
        # the late obligation is told to the role it is assigned to, not to the handling unit
        from huiyin.notify.models import Notice
        assert Notice.objects.get(event="case.breached", case_number=n).recipients == [dispatcher.pk]
        assert Case.objects.get(number=n).pk in selectors.waiting_ids(dispatcher)
        overdue = selectors.apply_filters(dispatcher, selectors.ListFilters(overdue="yes"))
        assert not overdue.filter(number=n).exists()  # a closed case is never overdue in lists
        assert Case.objects.get(number=n).next_due_at is None
        assert api("agent").act(n, "fulfil", {"obligation": "head_office_plan"}).status_code == 403
    with time_machine.travel(bj(2026, 3, 12, 10, 0), tick=False):
        body = api("dispatcher").act(n, "fulfil", {"obligation": "head_office_plan", "note": "已报备总公司"}).json()
    plan = due_of(body, "head_office_plan")
    assert (plan["state"], plan["breach_seconds"]) == ("breached", 16 * 3600 + 1800)
    assert body["waiting_for"] is None


# --- issue 14.4 and 14.5: a round's own limits, a co-handling unit's own deadline, business minutes ---


def _rounds_and_co_units(config: dict[str, Any]) -> None:
    timers = config["timers"]
    timers["resolve"]["rounds"] = {2: {"amount": 1, "unit": "working_days"}}
    timers["resolve"]["co_units"] = {"amount": 20, "unit": "business_minutes"}
    timers["acknowledge"]["co_units"] = {"amount": 10, "unit": "business_minutes"}


def test_a_co_unit_and_a_second_round_have_their_own_limits(api) -> None:
    custom_policy(_rounds_and_co_units)
    with time_machine.travel(bj(2026, 3, 9, 11, 50), tick=False):  # Mon 9 Mar 11:50
        n = new_case(api)["number"]
        api("dispatcher").act(n, "dispatch", {"unit": "county_a", "co_units": ["logistics"]})
        body = api("leader").act(n, "approve").json()
    co = {d["timer"]: d["due_at"] for d in body["co_units"][0]["deadlines"]}
    # 20 business minutes: 10 before lunch, 10 after 13:30
    assert co == {"acknowledge": "2026-03-09T12:00:00+08:00", "resolve": "2026-03-09T13:40:00+08:00"}
    assert due_of(body, "resolve")["due_at"] == "2026-03-11T17:30:00+08:00"  # the lead unit: 2 working days
    with time_machine.travel(bj(2026, 3, 10, 9, 0), tick=False):
        api("handler_a").act(n, "acknowledge")
        api("handler_a").act(n, "submit_result", RESULT)
        api("dispatcher").act(n, "review", {"accept": True})
        api("agent").act(n, "callback", {"satisfaction": "unsatisfied"})
    with time_machine.travel(bj(2026, 3, 10, 10, 0), tick=False):  # Tue 10 Mar: 二次派单
        body = api("supervisor").act(n, "redispatch", {"unit": "county_a"}).json()
    assert (body["round"], due_of(body, "resolve")["due_at"]) == (2, "2026-03-11T17:30:00+08:00")


def test_business_minutes_count_only_inside_business_hours(api) -> None:
    r = api("agent").get("/calendar/deadline", start="2026-03-09T11:50:00+08:00", amount=20, unit="business_minutes")
    assert r.json()["due_at"] == "2026-03-09T13:40:00+08:00"
    r = api("agent").get("/calendar/deadline", start="2026-02-13T17:20:00+08:00", amount=30, unit="business_minutes")
    assert r.json()["due_at"] == "2026-02-14T08:50:00+08:00"  # Fri 13 Feb → the make-up Saturday
