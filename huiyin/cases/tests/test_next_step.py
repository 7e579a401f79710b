"""The next step is always clear: what a case waits for, who may take it, by when; the case's
current deadline kept on the row for lists sorted by time left; phones checked at the door."""

from __future__ import annotations

import pytest
import time_machine

from huiyin.cases import selectors
from huiyin.cases.models import Case
from huiyin.cases.tests.helpers import case_in
from huiyin.conftest import bj, new_case
from huiyin.org.models import User

pytestmark = pytest.mark.django_db


def test_an_unsatisfied_callback_waits_for_the_centres_decision_not_the_agent(api) -> None:
    # Tue 10 Mar 2026, 10:00: the decision (二次派单 or a reasoned close) is due the same working day.
    with time_machine.travel(bj(2026, 3, 10, 10, 0), tick=False):
        n = case_in(api, "pending_callback")
        assert api("agent").get(f"/cases/{n}").json()["waiting_for"] == "callback"
        body = api("agent").act(n, "callback", {"satisfaction": "unsatisfied", "notes": "仍未到货"}).json()
        assert (body["state"], body["waiting_for"]) == ("pending_callback", "redispatch")
        assert "close" not in body["allowed_actions"]
        assert api("agent").act(n, "close", {"recourse": "可向12315申诉"}).status_code == 403
        supervisor = api("supervisor").get(f"/cases/{n}").json()
        assert {"redispatch", "close"} <= set(supervisor["allowed_actions"])
        decision = {d["timer"]: d for d in supervisor["deadlines"]}["decision"]
        assert (decision["due_at"], decision["state"]) == ("2026-03-10T17:30:00+08:00", "running")
        supervisor_user = User.objects.get(username="supervisor")
        assert Case.objects.get(number=n).pk in selectors.waiting_ids(supervisor_user)  # 我的待办
        after = api("supervisor").act(n, "redispatch", {"unit": "county_a", "instructions": "重新处理"}).json()
        assert (after["state"], after["round"], after["waiting_for"]) == ("dispatched", 2, "acknowledge")
        assert {d["timer"]: d for d in after["deadlines"]}["decision"]["state"] == "met"


def test_a_closed_case_waits_for_nothing(api) -> None:
    n = case_in(api, "closed")
    assert api("leader").get(f"/cases/{n}").json()["waiting_for"] is None


def test_the_case_row_keeps_its_current_deadline(api) -> None:
    # Mon 9 Mar 2026, 09:00: dispatch within 4 business hours → 14:30 (lunch 12:00–13:30 closed).
    with time_machine.travel(bj(2026, 3, 9, 9, 0), tick=False):
        n = new_case(api)["number"]
        case = Case.objects.get(number=n)
        assert case.next_due_at == bj(2026, 3, 9, 14, 30)
        n = case_in(api, "accepted")
        # acknowledged: first contact (1 working day) and resolve (2) run; the earliest wins
        assert Case.objects.get(number=n).next_due_at == bj(2026, 3, 10, 17, 30)
        api("handler_a").act(n, "suspend", {"reason": "送检"})
        assert Case.objects.get(number=n).next_due_at is None  # a paused clock has no deadline
    with time_machine.travel(bj(2026, 3, 10, 9, 0), tick=False):
        api("handler_a").act(n, "resume")
        # a working day later: every clock moved on by the day it was paused
        assert Case.objects.get(number=n).next_due_at == bj(2026, 3, 11, 17, 30)


def test_a_closed_case_has_no_current_deadline(api) -> None:
    closed = case_in(api, "closed")
    assert Case.objects.get(number=closed).next_due_at is None


@pytest.mark.parametrize("phone", ["13800138000", "+86 138-0013-8000", "0086 13800138000", "0871-12345678",
                                   "(010) 8888 6666"])
def test_chinese_mobile_and_landline_numbers_are_accepted(api, phone: str) -> None:
    r = api("agent").post("/cases", {"kind": "complaint", "channel": "phone", "subject": "断货",
                                     "complainant": {"name": "张三", "phone": phone}})
    assert r.status_code == 201, r.content


@pytest.mark.parametrize("phone", ["12345", "88886666", "1380013800", "call me", "138001380001234", "+1 202 555 0100"])
def test_other_phone_numbers_are_refused_with_a_clear_message(api, phone: str) -> None:
    before = Case.objects.count()
    r = api("agent").post("/cases", {"kind": "complaint", "channel": "phone", "subject": "断货",
                                     "complainant": {"name": "张三", "phone": phone}})
    assert r.status_code == 422
    message = r.json()["error"]["fields"]["complainant.phone"]
    assert "mobile or landline" in message and "^" not in message
    assert Case.objects.count() == before
