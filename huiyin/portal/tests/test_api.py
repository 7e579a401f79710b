"""The portal's API (/api/v1/portal): a member of the public submits, follows, rates and asks to
reopen a case with its number and query code; nothing of another case or of the staff's
internals ever shows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from huiyin.cases.models import Case, Event
from huiyin.conftest import new_case
from huiyin.portal.codes import BITS, normalise
from huiyin.portal.models import PortalAccess

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _roomy_limits(settings: Any) -> None:
    """Tests send many requests from one address; the limits' own test sets its figures."""
    settings.PORTAL_LIMITS = {scope: (1000, 1000, 3600) for scope in settings.PORTAL_LIMITS}

COMPLAINT: dict[str, Any] = {
    "kind": "complaint",
    "subject": "卷烟配送延误",
    "description": "本周订购的卷烟延误三天送达。",
    "demands": "说明原因",
    "complainant": {"name": "李四", "phone": "13900139000", "email": "lisi@example.com"},
    "privacy_notice_version": settings.PRIVACY_NOTICE_VERSION,
}


def post(client: Client, path: str, body: Any, **headers: str) -> Any:
    return client.post("/api/v1/portal" + path, json.dumps(body), content_type="application/json", headers=headers)


def submit(client: Client | None = None, **overrides: Any) -> dict[str, Any]:
    r = post(client or Client(), "/cases", {**COMPLAINT, **overrides})
    assert r.status_code == 201, r.content
    return r.json()


def track(number: str, code: str, client: Client | None = None) -> Any:
    return (client or Client()).get(f"/api/v1/portal/cases/{number}", headers={"X-Query-Code": code})


def test_a_member_of_the_public_submits_and_follows_a_case(org) -> None:
    receipt = submit()
    assert set(receipt) == {"number", "query_code"}
    assert receipt["number"].startswith("TS")
    assert normalise(receipt["query_code"]) and BITS >= 112
    case = Case.objects.get(number=receipt["number"])
    assert case.channel == "web" and case.complainant_name == "李四"
    access = PortalAccess.objects.get(case=case)
    assert access.privacy_notice_version == settings.PRIVACY_NOTICE_VERSION
    assert normalise(receipt["query_code"]) not in access.code_hash  # only the hash is kept
    assert Event.objects.get(case=case, action="register").source == "portal"

    view = track(receipt["number"], receipt["query_code"]).json()
    assert view["number"] == receipt["number"] and view["status"] == "已收到，正在审核"
    assert view["subject"] == "卷烟配送延误"
    assert [d["clock"] for d in view["deadlines"]] == ["dispatch"]
    # the code works typed in lower case and without its dashes
    assert track(receipt["number"], receipt["query_code"].replace("-", "").lower()).status_code == 200


def test_a_wrong_code_is_answered_exactly_like_a_missing_case(org) -> None:
    receipt = submit()
    other = submit(complainant={"name": "王五", "phone": "13700137000"})
    wrong = track(receipt["number"], other["query_code"])  # another case's code
    missing = track("TS20000101-000001", receipt["query_code"])
    nothing = Client().get(f"/api/v1/portal/cases/{receipt['number']}")
    assert wrong.status_code == missing.status_code == nothing.status_code == 404
    assert wrong.content == missing.content == nothing.content


def test_the_view_never_shows_people_notes_instructions_or_other_cases(org, api) -> None:
    receipt = submit()
    n = receipt["number"]
    api("dispatcher").act(n, "dispatch", {"unit": "county_a", "instructions": "内部意见：重点核查配送员"})
    api("leader").act(n, "approve", {"comment": "同意，领导批示内容"})
    api("handler_a").act(n, "acknowledge", {"comment": "签收备注"})
    api("handler_a").act(n, "submit_result", {"cause": "内部原因分析", "reply": "已向您致歉并补送。",
                                              "responsible_person": "配送员赵六"})
    api("dispatcher").act(n, "review", {"accept": True, "comment": "审核通过"})
    staff_case = new_case(api)  # someone else's case
    view = track(n, receipt["query_code"]).json()
    text = json.dumps(view, ensure_ascii=False)
    for secret in ("内部意见", "领导批示", "签收备注", "内部原因", "赵六", "审核通过", "派单员", "受理员", "县局A第一责任人",
                   "county_a", "handler", staff_case["number"], "dispatcher"):
        assert secret not in text, secret
    assert view["unit"] == "县局A"  # the handling unit may be named
    assert view["reply"] == "已向您致歉并补送。"
    assert view["status"] == "已答复，等待您的评价" and view["may_rate"]
    assert "已转交承办单位办理" in [m["label"] for m in view["progress"]]


def test_the_complainant_rates_as_the_callback_and_asks_to_reopen_within_the_window(org, api) -> None:
    receipt = submit()
    n, code = receipt["number"], {"X-Query-Code": receipt["query_code"]}
    c = Client()
    assert post(c, f"/cases/{n}/satisfaction", {"satisfaction": "satisfied"}, **code).status_code == 409  # too early
    api("dispatcher").act(n, "dispatch", {"unit": "county_a"})
    api("leader").act(n, "approve")
    api("handler_a").act(n, "acknowledge")
    api("handler_a").act(n, "submit_result", {"reply": "已处理"})
    api("dispatcher").act(n, "review", {"accept": True})
    assert post(c, f"/cases/{n}/satisfaction", {"satisfaction": "unreachable"}, **code).status_code == 422
    r = post(c, f"/cases/{n}/satisfaction", {"satisfaction": "satisfied", "comment": "谢谢"}, **code)
    assert r.status_code == 200, r.content
    case = Case.objects.get(number=n)
    assert case.satisfaction == "satisfied"
    callback = Event.objects.get(case=case, action="callback")
    assert callback.source == "portal" and callback.actor is None
    assert post(c, f"/cases/{n}/satisfaction", {"satisfaction": "unsatisfied"}, **code).status_code == 409
    # tobacco: a satisfied callback waits for the leader's decision; the leader closes
    api("leader").act(n, "close")
    view = track(n, receipt["query_code"]).json()
    assert view["state"] == "closed" and view["may_reopen"] and view["reopen_until"]
    r = post(c, f"/cases/{n}/reopen", {"reason": "问题再次出现"}, **code)
    assert r.status_code == 200 and r.json()["reopen_requested"] and not r.json()["may_reopen"]
    assert post(c, f"/cases/{n}/reopen", {"reason": "再次申请"}, **code).status_code == 409
    api("dispatcher").act(n, "reopen", {"reason": "投诉人申请重办"})
    assert Case.objects.get(number=n).reopen_requested_at is None


def test_an_anonymous_report_is_followed_by_its_code_alone(org) -> None:
    body = {k: v for k, v in COMPLAINT.items() if k != "complainant"}
    r = post(Client(), "/cases", {**body, "kind": "report", "subject": "有人销售假烟"})
    assert r.status_code == 201, r.content
    receipt = r.json()
    assert receipt["number"].startswith("JB")
    case = Case.objects.get(number=receipt["number"])
    assert case.anonymous and not case.complainant_phone
    r = Client().get("/api/v1/portal/track", headers={"X-Query-Code": receipt["query_code"]})
    assert r.status_code == 200 and r.json()["number"] == receipt["number"]
    assert Client().get("/api/v1/portal/track", headers={"X-Query-Code": "2222-2222-2222-2222-2222-2222"}
                        ).status_code == 404
    # only a report may come without a complainant
    assert post(Client(), "/cases", body).status_code == 422


def test_bad_input_is_refused_and_changes_nothing(org) -> None:
    before = Case.objects.count()
    for bad in (
        {**COMPLAINT, "subject": "配送\x00延误"},  # a control character
        {**COMPLAINT, "subject": "好\u202e反转"},  # a bidi override
        {**COMPLAINT, "kind": "employee_complaint"},  # internal
        {**COMPLAINT, "channel": "phone"},  # not the public's to set
        {**COMPLAINT, "complainant": {**COMPLAINT["complainant"], "customer_class": "A"}},  # internal
        {**COMPLAINT, "privacy_notice_version": "1999-01"},
        {**COMPLAINT, "subject": "x" * 201},
        {**COMPLAINT, "complainant": {"name": "李四", "phone": "12345"}},
        ["not", "an", "object"],
    ):
        r = post(Client(), "/cases", bad)
        assert r.status_code == 422, (bad, r.content)
    r = Client().post("/api/v1/portal/cases", "{", content_type="application/json")
    assert r.status_code == 422
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        assert post(Client(), "/cases", {**COMPLAINT, "description": "长" * 2000}).status_code == 413
    assert Case.objects.count() == before


def test_a_script_in_a_field_is_kept_as_text(org) -> None:
    receipt = submit(subject="<script>alert(1)</script>")
    view = track(receipt["number"], receipt["query_code"]).json()
    assert view["subject"] == "<script>alert(1)</script>"  # JSON carries text; the pages escape it


def test_after_repeated_use_a_challenge_is_asked_and_past_the_limit_refused(org, settings) -> None:
    from huiyin.portal import limits

    settings.PORTAL_LIMITS = {**settings.PORTAL_LIMITS, "submit": (2, 5, 3600)}
    c = Client()
    submit(c)
    submit(c)  # the free uses of this address
    r = post(c, "/cases", COMPLAINT)
    assert r.status_code == 428 and r.json()["error"]["code"] == "challenge_required"
    challenge = post(c, "/challenges", {}).json()
    assert challenge["image"].startswith("data:image/png;base64,")
    wrong = post(c, "/cases", COMPLAINT, **{"X-Challenge-Id": challenge["id"], "X-Challenge-Answer": "ZZZZZ"})
    assert wrong.status_code == 428 and wrong.json()["error"]["code"] == "challenge_failed"
    challenge = post(c, "/challenges", {}).json()
    answer = limits.challenge_answer(challenge["id"])
    r = post(c, "/cases", COMPLAINT, **{"X-Challenge-Id": challenge["id"], "X-Challenge-Answer": answer.lower()})
    assert r.status_code == 201
    # an answer works once
    again = post(c, "/cases", COMPLAINT, **{"X-Challenge-Id": challenge["id"], "X-Challenge-Answer": answer})
    assert again.status_code == 429  # and this was the address's 6th use: past the maximum of 5
    assert int(again["Retry-After"]) > 0
    # another address is not affected
    other = Client(REMOTE_ADDR="10.9.8.7")
    assert post(other, "/cases", COMPLAINT).status_code == 201


def test_information_added_reaches_the_timeline_and_the_handling_unit(org, api) -> None:
    from huiyin.notify.models import InboxItem

    receipt = submit()
    n, code = receipt["number"], {"X-Query-Code": receipt["query_code"]}
    api("dispatcher").act(n, "dispatch", {"unit": "county_a"})
    api("leader").act(n, "approve")
    r = post(Client(), f"/cases/{n}/information", {"text": "补充：送货单号 SD-778"}, **code)
    assert r.status_code == 200 and "您补充了情况" in [m["label"] for m in r.json()["progress"]]
    event = Event.objects.get(case__number=n, action="information")
    assert event.changes["information"][1] == "补充：送货单号 SD-778" and event.source == "portal"
    assert InboxItem.objects.filter(user=org.handler_a, event="case.information_added").exists()
    assert post(Client(), f"/cases/{n}/information", {"text": ""}, **code).status_code == 422


def test_hostile_requests_get_a_4xx_and_change_nothing(org) -> None:
    receipt = submit()
    n, code = receipt["number"], receipt["query_code"]
    before = Case.objects.count()
    # JSON nested deeper than the parser recurses
    r = Client().post("/api/v1/portal/cases", "[" * 100_000, content_type="application/json")
    assert r.status_code == 422 and r.json()["error"]["fields"] == {"body": "invalid JSON"}
    # codes and numbers that are too long, binary or not ours: all one answer, that of a missing case
    missing = track("TS20000101-000001", code)
    for number, header in ((n, "A" * 100_000), (n, "ABCD\x00EF"), (n, "码码码"), (n, ""), ("x" * 5000, code),
                           ("../../etc", code), (n.lower(), code)):
        r = track(number, header)
        assert (r.status_code, r.content) == (missing.status_code, missing.content), (number[:20], header[:20])
        if header != code:
            r = Client().get("/api/v1/portal/track", headers={"X-Query-Code": header})
            assert (r.status_code, r.content) == (missing.status_code, missing.content)
    # another case's code opens neither case's steps
    other = submit(complainant={"name": "王五", "phone": "13700137000"})
    for step, body in (("satisfaction", {"satisfaction": "satisfied"}), ("reopen", {"reason": "再办"}),
                       ("information", {"text": "补充"})):
        r = post(Client(), f"/cases/{n}/{step}", body, **{"X-Query-Code": other["query_code"]})
        assert (r.status_code, r.content) == (missing.status_code, missing.content)
    # oversized and control-character texts in the complainant's steps
    hostile: tuple[tuple[str, dict[str, Any]], ...] = (
        ("information", {"text": "x" * 100_000}), ("information", {"text": "\x1b[31m"}),
        ("reopen", {"reason": "\x07"}), ("satisfaction", {"satisfaction": ["satisfied"]}))
    for step, bad in hostile:
        assert post(Client(), f"/cases/{n}/{step}", bad, **{"X-Query-Code": code}).status_code == 422
    assert Case.objects.count() == before + 1
    assert not Event.objects.filter(case__number=n, action__in=["information", "reopen_request", "callback"]).exists()
