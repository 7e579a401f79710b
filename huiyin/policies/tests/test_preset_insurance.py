"""The insurance preset (seed 001 篇5) end to end: grading by amount and flags, 20 minutes to
dispatch, 1 hour to contact, 1 working day to resolve, same-day feedback, callback next day."""

from __future__ import annotations

import pytest
import time_machine

from huiyin.cases.models import Case, Timer
from huiyin.cases.tests.helpers import RESULT, due_of
from huiyin.conftest import bj, new_case
from huiyin.notify.models import InboxItem
from huiyin.policies.config import TIMER_CODES
from huiyin.policies.services import policy_load_preset
from huiyin.policies.tests.helpers import due, rule_names

pytestmark = pytest.mark.django_db

CLAIM = {"subject": "车险理赔金额争议", "description": "客户车辆全损,对定损金额不认可", "demands": "按实际损失赔付",
         "category": "claim_amount"}




def test_a_40000_yuan_claim_complaint_is_major_and_runs_to_the_seed_clock(api) -> None:
    policy_load_preset("insurance")
    # Friday 13 Feb 2026 16:00, the eve of the Spring Festival break (14 Feb is a make-up
    # working day; 15–23 Feb are holidays).
    with time_machine.travel(bj(2026, 2, 13, 16, 0), tick=False):
        case = new_case(api, amount="40000", **CLAIM, complainant={"name": "李四", "phone": "13911110001"})
        number = case["number"]
        # 3.4: 3万元以上(含) → 重大投诉件; the branch head hears of it at once (5.1).
        assert case["severity"] == "major"
        assert rule_names(number) == ["重大投诉件(金额)"]
        assert InboxItem.objects.filter(user__username="leader", case_number=number,
                                        event="case.major_opened").exists()
        # 5.1: to the unit's complaint owner within 20 minutes.
        assert due(case, "dispatch") == "2026-02-13T16:20:00+08:00"

    with time_machine.travel(bj(2026, 2, 13, 16, 10), tick=False):
        r = api("dispatcher").act(number, "dispatch", {"unit": "county_a", "instructions": "重大投诉,请即联系客户"})
        body = r.json()
        assert body["state"] == "dispatched"  # no 批示 before dispatch
        # 5.2.3: contact the customer within 1 hour.
        assert due(body, "first_contact") == "2026-02-13T17:00:00+08:00"  # one hour from receipt at 16:00
        # 5.2.5: a major case has 3 working days — Sat 14 Feb (make-up day), Tue 24, Wed 25 Feb.
        assert due(body, "resolve") == "2026-02-25T17:30:00+08:00"
        assert InboxItem.objects.filter(user__username="handler_a", case_number=number,
                                        event="case.dispatched").exists()

    with time_machine.travel(bj(2026, 2, 13, 16, 40), tick=False):
        api("handler_a").act(number, "acknowledge")
        api("handler_a").act(number, "record_contact", {"notes": "已电话联系客户,约定明日面谈"})

    with time_machine.travel(bj(2026, 2, 14, 11, 0), tick=False):
        # a major case's handling plan goes to the leader (4.4.6).
        r = api("handler_a").act(number, "submit_result", {**RESULT, "reply": "按第三方公估金额补足赔款"})
        assert r.json()["state"] == "plan_approval"
        r = api("leader").act(number, "approve_plan", {"comment": "同意"})
        assert r.json()["state"] == "result_submitted"
        # 5.3: the result reaches the centre the same working day.
        assert due(r.json(), "feedback") == "2026-02-14T17:30:00+08:00"

    with time_machine.travel(bj(2026, 2, 14, 15, 0), tick=False):
        r = api("dispatcher").act(number, "review", {"accept": True})
        assert r.json()["state"] == "pending_callback"
        # 5.3: called back "最晚于次日" — the next working day is after the holiday.
        assert due(r.json(), "callback") == "2026-02-24T17:30:00+08:00"

    with time_machine.travel(bj(2026, 2, 24, 10, 0), tick=False):
        r = api("agent").act(number, "callback", {"satisfaction": "satisfied"})
        assert r.json()["state"] == "closed"
    # the stage clocks (the major case's obligations — 4.5.4, 4.5.5 — are tested below)
    states = {t.code: t.state for t in Timer.objects.filter(case__number=number, code__in=TIMER_CODES)}
    assert states == {"dispatch": "met", "acknowledge": "met", "first_contact": "met", "resolve": "met",
                      "feedback": "met", "callback": "met"}


@pytest.mark.parametrize(("amount", "severity"), [
    ("800", "general"), ("5000", "general"), ("5000.01", "difficult"), ("29999.99", "difficult"),
    ("30000", "major"),
])
def test_the_amount_grades_general_difficult_major(api, amount: str, severity: str) -> None:
    policy_load_preset("insurance")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        assert new_case(api, amount=amount, **CLAIM)["severity"] == severity


def test_media_lawsuit_regulator_injury_or_five_people_make_a_major_case(api) -> None:
    policy_load_preset("insurance")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        cases = [
            new_case(api, amount="300", flags=["media"], complainant={"phone": "13911110011"}),
            new_case(api, flags=["lawsuit"], complainant={"phone": "13911110012"}),
            new_case(api, flags=["injury"], complainant={"phone": "13911110013"}),
            new_case(api, people_count=5, subject="5名客户集体投诉退保", complainant={"phone": "13911110014"}),
            new_case(api, channel="regulator", upstream_ref="保监局转办-0042", complainant={"phone": "13911110015"}),
        ]
    assert [c["severity"] for c in cases] == ["major"] * 5
    assert "group" in cases[3]["tags"]
    assert rule_names(cases[0]["number"]) == ["重大投诉件(情形)", "媒体或监管投诉报总经理室和法务室"]
    assert "media_or_regulator" in cases[4]["tags"]
    # a regulator transfer gets the 3 working days of a major case even today
    with time_machine.travel(bj(2026, 3, 2, 9, 10), tick=False):
        body = api("dispatcher").act(cases[4]["number"], "dispatch", {"unit": "county_a"}).json()
    assert due(body, "resolve") == "2026-03-05T17:30:00+08:00"
    assert Case.objects.filter(severity="major").count() == 5


def test_a_major_case_has_three_working_days_to_resolve(api) -> None:
    policy_load_preset("insurance")
    with time_machine.travel(bj(2026, 2, 13, 16, 0), tick=False):
        number = new_case(api, amount="40000", **CLAIM)["number"]
        body = api("dispatcher").act(number, "dispatch", {"unit": "county_a"}).json()
    # 5.2.5: 3 working days — Sat 14 Feb, Tue 24 Feb, Wed 25 Feb.
    assert due(body, "resolve") == "2026-02-25T17:30:00+08:00"


# --- issue 14: the preset re-read clause by clause (dates worked out on the 2026 calendar) ---------


def test_a_major_case_is_reported_to_the_branch_in_half_a_working_day_and_its_plan_filed_after_closing(api) -> None:
    policy_load_preset("insurance")
    with time_machine.travel(bj(2026, 2, 13, 16, 0), tick=False):  # Fri 13 Feb, eve of the Spring Festival
        number = new_case(api, amount="40000", **CLAIM)["number"]
    with time_machine.travel(bj(2026, 2, 13, 16, 10), tick=False):
        body = api("dispatcher").act(number, "dispatch", {"unit": "county_a"}).json()
    # 4.5.4: half of the 7.5-hour working day (225 minutes): 80 minutes on Friday, 145 on the make-up
    # Saturday from 08:30
    report = due_of(body, "major_to_branch")
    assert (report["due_at"], report["role"], report["obligation"]) == ("2026-02-14T10:55:00+08:00",
                                                                         "first_responsible", True)
    with time_machine.travel(bj(2026, 2, 14, 9, 0), tick=False):
        assert api("dispatcher").act(number, "fulfil", {"obligation": "major_to_branch"}).status_code == 403
        body = api("handler_a").act(number, "fulfil", {"obligation": "major_to_branch", "note": "已书面上报"}).json()
        assert due_of(body, "major_to_branch")["state"] == "met"
        api("handler_a").act(number, "acknowledge")
        api("handler_a").act(number, "submit_result", RESULT)
        api("leader").act(number, "approve_plan")
        body = api("dispatcher").act(number, "review", {"accept": True}).json()
        # 5.3: 最晚于次日回访 — the next working day after the result: Tue 24 Feb
        assert due_of(body, "callback")["due_at"] == "2026-02-24T17:30:00+08:00"
    with time_machine.travel(bj(2026, 2, 24, 10, 0), tick=False):
        body = api("agent").act(number, "callback", {"satisfaction": "satisfied"}).json()
    # 4.5.5: 结案后3个工作日内 — Wed 25, Thu 26, Fri 27 Feb
    plan = due_of(body, "head_office_plan")
    assert (body["state"], plan["due_at"], plan["state"]) == ("closed", "2026-02-27T17:30:00+08:00", "running")
    assert body["waiting_for"] == "fulfil"


def test_an_ordinary_case_owes_no_report(api) -> None:
    policy_load_preset("insurance")
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False):
        number = new_case(api, amount="800", **CLAIM)["number"]
        body = api("dispatcher").act(number, "dispatch", {"unit": "county_a"}).json()
    assert not any(d["obligation"] for d in body["deadlines"])
    assert due_of(body, "resolve")["due_at"] == "2026-03-03T17:30:00+08:00"  # 5.2.4: 1 working day
