"""Where a regulation requires a written notice (the 12315 preset's letters: 受理/不予受理告知书
within 5 working days, the result within 45 days), the notice is issued with the decision itself
— a step the case cannot skip — and sent the way the complainant chose; a letter's clocks run
from the day it was received."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine

from huiyin.cases.models import Case, CaseDocument, Event
from huiyin.conftest import bj
from huiyin.notify.models import Message
from huiyin.policies.services import policy_load_preset

pytestmark = pytest.mark.django_db

LETTER: dict[str, Any] = {
    "kind": "complaint", "channel": "letter", "subject": "购买的电饭煲漏电",
    "description": "来信反映在某商场购买的电饭煲使用时漏电。", "demands": "要求退货",
    "complainant": {"name": "周七", "phone": "13600136000", "email": "zhouqi@example.com", "address": "某市某路1号",
                    "notify_via": "email"},
}


@pytest.fixture
def market(org: Any) -> Any:
    policy_load_preset("12315")
    return org


def register(api: Any, **overrides: Any) -> dict[str, Any]:
    r = api("agent").post("/cases", {**LETTER, **overrides})
    assert r.status_code == 201, r.content
    return r.json()


def deadline(body: dict[str, Any], timer: str) -> str:
    return next(d for d in body["deadlines"] if d["timer"] == timer)["due_at"]


def test_a_letters_clocks_start_on_the_day_it_was_received(market, api) -> None:
    # Friday 2026-09-25, received by post; the agent registers it on Monday the 28th.
    with time_machine.travel(bj(2026, 9, 28, 9, 0), tick=False):
        body = register(api, received_at="2026-09-25T10:00:00+08:00")
    # 5 working days from the day after receipt: 28, 29, 30 Sept, then National Day (1–8 Oct, with
    # 27 Sept and 10 Oct as make-up working days) — the decision is due at the end of Friday 9 Oct.
    assert deadline(body, "dispatch") == "2026-10-09T17:30:00+08:00"
    assert body["received_at"] == "2026-09-25T10:00:00+08:00"


def test_accepting_a_letter_issues_and_sends_the_acceptance_notice_with_the_decision(market, api) -> None:
    n = register(api)["number"]
    r = api("dispatcher").act(n, "dispatch", {"unit": "county_a"})
    assert r.status_code == 200, r.content
    doc = CaseDocument.objects.get(case__number=n, kind="acceptance_notice")
    assert doc.sent_via == "email" and doc.number.startswith("示范市局〔")
    event = Event.objects.get(case__number=n, action="notice")
    assert event.changes["document"][1] == {"kind": "acceptance_notice", "number": doc.number, "via": "email"}
    mail = Message.objects.get(case_number=n, event="complainant.notice")
    assert mail.transport == "email" and mail.address == "zhouqi@example.com" and mail.recipient is None
    assert "zhouqi" not in str(mail.notice.context)  # the address is never in the context webhooks get
    # the reply, once the result is accepted
    api("handler_a").act(n, "acknowledge")
    api("handler_a").act(n, "submit_result", {"reply": "经调解，商场同意退货。"})
    api("dispatcher").act(n, "review", {"accept": True})
    assert CaseDocument.objects.filter(case__number=n, kind="reply").exists()
    assert Message.objects.filter(case_number=n, event="complainant.notice").count() == 2


def test_refusing_a_letter_sends_the_refusal_by_sms_when_that_was_chosen(market, api) -> None:
    n = register(api, complainant={**LETTER["complainant"], "notify_via": "sms"})["number"]
    api("dispatcher").act(n, "mark_invalid", {"reason": "不属于消费者权益争议", "reason_code": "beyond_commitments"})
    doc = CaseDocument.objects.get(case__number=n, kind="rejection_notice")
    assert doc.sent_via == "sms"
    sms = Message.objects.get(case_number=n, event="complainant.notice")
    assert sms.transport == "sms" and sms.address == "13600136000"


def test_a_notice_by_post_is_given_to_the_agent_to_print(market, api, org) -> None:
    n = register(api, complainant={**LETTER["complainant"], "notify_via": "post"})["number"]
    api("dispatcher").act(n, "transfer_out", {"authority": "县农业农村局"})
    doc = CaseDocument.objects.get(case__number=n, kind="rejection_notice")
    assert doc.sent_via == "post"
    from huiyin.notify.models import InboxItem

    assert InboxItem.objects.filter(user=org.agent, event="complainant.notice", case_number=n).exists()


def test_a_phone_case_needs_no_written_notice(market, api) -> None:
    n = register(api, channel="phone")["number"]
    api("dispatcher").act(n, "dispatch", {"unit": "county_a"})
    assert not CaseDocument.objects.filter(case__number=n).exists()
    assert not Event.objects.filter(case__number=n, action="notice").exists()


def test_notices_by_email_need_an_address(market, api) -> None:
    r = api("agent").post("/cases", {**LETTER, "complainant": {"name": "周七", "notify_via": "email"}})
    assert r.status_code == 422 and "complainant.email" in r.json()["error"]["fields"]
    assert not Case.objects.filter(subject=LETTER["subject"]).exists()
