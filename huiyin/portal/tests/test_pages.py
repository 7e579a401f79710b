"""The portal's pages (/portal/): plain forms that work without JavaScript, on a phone."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from huiyin.cases.models import Attachment, Case, CaseDocument, Event
from huiyin.portal import limits

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
FORM = {
    "kind": "complaint", "subject": "营业厅服务态度差", "description": "工作人员不耐烦。", "demands": "道歉",
    "name": "陈八", "phone": "13500135000", "email": "", "address": "", "notify_via": "",
    "privacy": "on", "privacy_notice_version": settings.PRIVACY_NOTICE_VERSION,
}


@pytest.fixture(autouse=True)
def _roomy_limits(settings: Any) -> None:
    settings.PORTAL_LIMITS = {scope: (1000, 1000, 3600) for scope in settings.PORTAL_LIMITS}


def receipt_of(html: str) -> tuple[str, str]:
    number = re.search(r"data-number>([A-Z]{2}\d{8}-\d{6})<", html)
    code = re.search(r"data-code>([0-9A-Z-]{29})<", html)
    assert number and code, html[:2000]
    return number.group(1), code.group(1)


def test_the_home_page_offers_the_kinds_the_policy_opens(org) -> None:
    r = Client().get("/portal/")
    text = r.content.decode()
    assert r.status_code == 200
    for label in ("投诉", "咨询", "建议", "举报", "表扬"):
        assert label in text
    assert "员工投诉" not in text
    assert 'name="viewport"' in text and "<script" not in text
    assert Client().get("/portal/privacy/").status_code == 200


def test_a_case_is_submitted_with_files_and_the_code_shown_once(org) -> None:
    c = Client()
    form = c.get("/portal/submit/?kind=complaint").content.decode()
    assert "隐私声明" in form and 'type="file"' in form and "验证码" not in form  # a first use: no challenge
    r = c.post("/portal/submit/", {**FORM, "files": [SimpleUploadedFile("票据.png", PNG)]})
    assert r.status_code == 200 and r["Cache-Control"] == "no-store"
    number, code = receipt_of(r.content.decode())
    case = Case.objects.get(number=number)
    assert case.channel == "web" and case.complainant_phone == "13500135000"
    assert Attachment.objects.get(case=case).name == "票据.png"
    # the receipt's browser may open the case at once; another browser needs the code
    assert c.get(f"/portal/cases/{number}/").status_code == 200
    stranger = Client()
    assert stranger.get(f"/portal/cases/{number}/").status_code == 302
    wrong = stranger.post("/portal/track/", {"number": number, "code": "2222-2222-2222-2222-2222-2222"})
    missing = stranger.post("/portal/track/", {"number": "TS20000101-000001", "code": code})
    assert wrong.status_code == missing.status_code == 404
    assert wrong.content.decode().count("工单编号或查询码不正确") == 1
    ok = stranger.post("/portal/track/", {"number": number.lower(), "code": code.lower()})
    assert ok.status_code == 302 and ok["Location"] == f"/portal/cases/{number}/"
    page = stranger.get(f"/portal/cases/{number}/").content.decode()
    assert "营业厅服务态度差" in page and "已收到，正在审核" in page and code not in page


def test_a_form_sent_wrong_keeps_what_was_typed_and_stores_nothing(org) -> None:
    before = Case.objects.count()
    r = Client().post("/portal/submit/", {**FORM, "subject": "", "privacy": ""})
    assert r.status_code == 422
    text = r.content.decode()
    assert "隐私声明" in text and "工作人员不耐烦" in text
    r = Client().post("/portal/submit/", {**FORM, "phone": "", "email": ""})
    assert r.status_code == 422 and "联系人" in r.content.decode()
    r = Client().post("/portal/submit/", {**FORM, "files": [SimpleUploadedFile("x.exe", b"MZ\x90\x00" * 20)]})
    assert r.status_code == 422
    assert Case.objects.count() == before


def test_scripts_typed_into_fields_are_shown_as_text(org) -> None:
    c = Client()
    number, _ = receipt_of(c.post("/portal/submit/", {**FORM, "subject": "<script>alert(1)</script>",
                                                      "description": "<img src=x onerror=alert(2)>"}).content.decode())
    page = c.get(f"/portal/cases/{number}/").content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page


def test_an_anonymous_report_is_followed_with_the_code_alone(org) -> None:
    c = Client()
    r = c.post("/portal/submit/", {**FORM, "kind": "report", "name": "", "phone": "", "anonymous": "on",
                                   "subject": "有人售假"})
    number, code = receipt_of(r.content.decode())
    case = Case.objects.get(number=number)
    assert case.kind == "report" and case.anonymous
    other = Client()
    assert other.post("/portal/track/", {"number": "", "code": code})["Location"] == f"/portal/cases/{number}/"


def test_the_complainant_adds_information_rates_and_reads_the_notices(org, api) -> None:
    from huiyin.policies.services import policy_load_preset

    policy_load_preset("12315")  # letters … and the notices the regulation requires
    c = Client()
    number, _ = receipt_of(c.post("/portal/submit/", {**FORM, "notify_via": "portal"}).content.decode())
    # a web case under 12315 needs no written notice; the centre issues one for the record anyway
    api("dispatcher").act(number, "dispatch", {"unit": "county_a"})
    assert api("dispatcher").get(f"/cases/{number}/documents/acceptance_notice.pdf").status_code == 200
    r = c.post(f"/portal/cases/{number}/information", {"text": "补充：当时是下午三点", "files": [
        SimpleUploadedFile("照片.png", PNG)]})
    assert r.status_code == 302
    assert Event.objects.filter(case__number=number, action="information").exists()
    assert "照片.png" in [a.name for a in Attachment.objects.filter(case__number=number)]  # names are sealed
    page = c.get(f"/portal/cases/{number}/").content.decode()
    assert "补充的情况已提交" in page and "受理告知书" in page and "县局A" in page
    html = c.get(f"/portal/cases/{number}/documents/acceptance_notice.html")
    assert html.status_code == 200 and "陈八" in html.content.decode()
    pdf = c.get(f"/portal/cases/{number}/documents/acceptance_notice.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert c.get(f"/portal/cases/{number}/documents/record_form.html").status_code == 404  # staff only
    assert Client().get(f"/portal/cases/{number}/documents/acceptance_notice.html").status_code == 404
    api("handler_a").act(number, "acknowledge")
    api("handler_a").act(number, "submit_result", {"reply": "已批评教育当事员工。"})
    api("dispatcher").act(number, "review", {"accept": True})
    assert c.post(f"/portal/cases/{number}/satisfaction", {"satisfaction": "neutral"}).status_code == 302
    assert Case.objects.get(number=number).satisfaction == "neutral"
    page = c.get(f"/portal/cases/{number}/").content.decode()
    assert "感谢您的评价" in page and "已批评教育当事员工" in page
    assert CaseDocument.objects.filter(case__number=number).count() == 1


def test_after_repeated_use_the_form_asks_the_challenge(org, settings) -> None:
    settings.PORTAL_LIMITS = {**settings.PORTAL_LIMITS, "submit": (1, 3, 3600)}
    c = Client()
    receipt_of(c.post("/portal/submit/", FORM).content.decode())
    form = c.get("/portal/submit/").content.decode()
    challenge_id = re.search(r'name="challenge_id" value="([^"]+)"', form).group(1)
    picture = c.get(f"/portal/challenge/{challenge_id}.png")
    assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
    r = c.post("/portal/submit/", FORM)  # without the answer
    assert r.status_code == 428 and "请输入图中的字符" in r.content.decode() and "营业厅服务态度差" in r.content.decode()
    fresh = re.search(r'name="challenge_id" value="([^"]+)"', r.content.decode()).group(1)
    answer = limits.challenge_answer(fresh)
    r = c.post("/portal/submit/", {**FORM, "challenge_id": fresh, "challenge_answer": answer})
    assert r.status_code == 200
    receipt_of(r.content.decode())
    r = c.post("/portal/submit/", FORM)
    assert r.status_code == 429 and "请稍后再试" in r.content.decode()
    assert c.get("/portal/challenge/unknown-challenge-id.png").status_code == 404


def test_forgetting_closes_the_cases_this_browser_opened(org) -> None:
    c = Client()
    number, _ = receipt_of(c.post("/portal/submit/", FORM).content.decode())
    assert c.post("/portal/forget/").status_code == 302
    assert c.get(f"/portal/cases/{number}/").status_code == 302


# --- in a browser, without JavaScript, on a phone ---------------------------------------------------


def test_a_phone_without_javascript_submits_and_follows_a_case(browser, live_server, org) -> None:
    ctx = browser.new_context(base_url=live_server.url, java_script_enabled=False, locale="zh-CN",
                              viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    ctx.set_default_timeout(10_000)
    page = ctx.new_page()
    try:
        page.goto("/portal/")
        page.get_by_role("link", name=re.compile("^投诉")).first.click()
        page.fill("#subject", "快递柜取件码收不到")
        page.fill("#description", "连续三天收不到取件短信。")
        page.fill("#name", "林九")
        page.fill("#phone", "13300133000")
        page.check("input[name=privacy]")
        page.get_by_role("button", name="提交").click()
        number = page.locator("[data-number]").inner_text()
        code = page.locator("[data-code]").inner_text()
        assert re.fullmatch(r"TS\d{8}-\d{6}", number) and len(code) == 29
        page.get_by_role("link", name="查看进度").click()
        assert page.locator(".portal-status").inner_text() == "已收到，正在审核"
        from huiyin.conftest import shot

        shot(page, "portal-phone-case")
    finally:
        ctx.close()


def test_a_closed_case_is_asked_to_be_reopened_from_its_page(org, api) -> None:
    from huiyin.cases.tests.helpers import AWAITED, PATHS

    c = Client()
    number, _ = receipt_of(c.post("/portal/submit/", FORM).content.decode())
    for user, action, body in PATHS["closed"]:
        now = api("leader").get(f"/cases/{number}").json()
        if action == "approve":
            if now["state"] != "pending_approval":
                continue
            user = AWAITED.get(now["awaiting"] or "leader", user)
        assert api(user).act(number, action, body).status_code == 200, action
    now = api("leader").get(f"/cases/{number}").json()
    if now["state"] == "pending_callback" and now["awaiting"]:
        api(AWAITED[now["awaiting"]]).act(number, "close", {"comment": "审查:无需二次派单"})
    assert Case.objects.get(number=number).state == "closed"
    r = c.post(f"/portal/cases/{number}/reopen", {"reason": "问题没有解决，员工仍然态度差"})
    assert r.status_code == 302
    assert Case.objects.get(number=number).reopen_requested_at is not None
    assert "重新办理的申请已提交" in c.get(f"/portal/cases/{number}/").content.decode()
    assert Client().post(f"/portal/cases/{number}/reopen", {"reason": "x"}).status_code == 404  # not this browser's
