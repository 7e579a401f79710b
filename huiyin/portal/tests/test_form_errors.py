"""What the portal's forms say when they are sent wrong: every field named in Chinese with what is
wrong with it (a too-long one with the limit the code sets, a phone number with how to write one,
a missing contact with who may stay anonymous …), a step the case's state does not allow
explained — and nothing stored."""

from __future__ import annotations

import ast
import inspect
import re
from typing import Any, get_args

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation
from pydantic import BaseModel

from huiyin.cases import workflow
from huiyin.cases.errors import Cause
from huiyin.cases.models import Case, Event
from huiyin.portal import services, views

from .test_pages import FORM, receipt_of

pytestmark = pytest.mark.django_db

FORMS = (services.PortalCaseIn, services.InformationIn, services.SatisfactionIn, services.ReopenIn)
# The fields the services name in a BadInput beside the forms' own.
RAISED = ("files", "complainant", "kind", "privacy_notice_version", "text", "satisfaction", "comment", "reason")


@pytest.fixture(autouse=True)
def _roomy_limits(settings: Any) -> None:
    settings.PORTAL_LIMITS = {scope: (1000, 1000, 3600) for scope in settings.PORTAL_LIMITS}


def limit_of(form: type[BaseModel], name: str) -> int:
    return next(m.max_length for m in form.model_fields[name].metadata if hasattr(m, "max_length"))


def alert_of(html: str) -> str:
    found = re.findall(r'class="alert[^"]*" role="alert">([^<]*)<', html)
    assert len(found) == 1, html[:3000]
    return found[0]


def opened_case() -> tuple[Client, str]:
    """A browser that submitted a case, still being handled, and may open it."""
    c = Client()
    number, _ = receipt_of(c.post("/portal/submit/", FORM).content.decode())
    return c, number


def test_it_names_every_field_of_the_portal_forms_in_chinese() -> None:
    def keys(form: type[BaseModel], prefix: str = "") -> list[str]:
        out = []
        for name, field in form.model_fields.items():
            out.append(prefix + name)
            for inner in get_args(field.annotation):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    out += keys(inner, f"{prefix}{name}.")
        return out

    every = {k for form in FORMS for k in keys(form)} | set(RAISED)
    assert every - set(views.FIELD_NAMES) == set()
    assert all(re.search(r"[\u4e00-\u9fff]", name) for name in views.FIELD_NAMES.values())
    # every cause the service gives for a refused step is explained, and the service gives each
    assert set(views.NOT_NOW_BECAUSE) == set(Cause)
    raised = {n.attr for n in ast.walk(ast.parse(inspect.getsource(workflow)))
              if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "Cause"}
    assert raised == {c.name for c in Cause}


def test_a_too_long_addition_names_the_field_and_its_limit(org) -> None:
    c, number = opened_case()
    events = Event.objects.filter(case__number=number).count()
    limit = limit_of(services.InformationIn, "text")
    r = c.post(f"/portal/cases/{number}/information", {"text": "字" * 30000}, follow=True)
    alert = alert_of(r.content.decode())
    assert alert == f"请检查填写的内容：补充的情况（最多 {limit} 字，现有 30000 字）"
    assert Event.objects.filter(case__number=number).count() == events
    r = c.post(f"/portal/cases/{number}/information", {"text": "  "}, follow=True)
    assert alert_of(r.content.decode()) == "请检查填写的内容：补充的情况（请填写）"
    assert Event.objects.filter(case__number=number).count() == events


def test_rating_an_open_case_says_it_waits_for_the_answer(org) -> None:
    c, number = opened_case()
    events = Event.objects.filter(case__number=number).count()
    r = c.post(f"/portal/cases/{number}/satisfaction", {"satisfaction": "satisfied"}, follow=True)
    assert alert_of(r.content.decode()) == "工单还在办理中，答复或办结后才能评价。"
    r = c.post(f"/portal/cases/{number}/satisfaction", {"satisfaction": "5", "comment": "好" * 3000}, follow=True)
    limit = limit_of(services.SatisfactionIn, "comment")
    assert alert_of(r.content.decode()) == f"请检查填写的内容：满意度（请从选项中选择）、意见（最多 {limit} 字，现有 3000 字）"
    assert Case.objects.get(number=number).satisfaction == ""
    assert Event.objects.filter(case__number=number).count() == events


def test_a_too_long_reason_to_reopen_names_the_field_and_its_limit(org) -> None:
    c, number = opened_case()
    limit = limit_of(services.ReopenIn, "reason")
    r = c.post(f"/portal/cases/{number}/reopen", {"reason": "因" * (limit + 1)}, follow=True)
    assert alert_of(r.content.decode()) == f"请检查填写的内容：申请重新办理的理由（最多 {limit} 字，现有 {limit + 1} 字）"
    r = c.post(f"/portal/cases/{number}/reopen", {"reason": "问题没有解决"}, follow=True)
    assert alert_of(r.content.decode()) == "工单还在办理中，或已超过可以申请重新办理的期限。"
    assert Case.objects.get(number=number).reopen_requested_at is None


def test_a_submission_too_long_names_the_fields_and_their_limits(org) -> None:
    before = Case.objects.count()
    description, name = limit_of(services.PortalCaseIn, "description"), limit_of(services.PortalComplainantIn, "name")
    r = Client().post("/portal/submit/", {**FORM, "description": "述" * 30000, "name": "名" * (name + 5)})
    assert r.status_code == 422
    html = r.content.decode()
    assert alert_of(html) == (f"请检查填写的内容：具体情况（最多 {description} 字，现有 30000 字）、"
                              f"姓名（最多 {name} 字，现有 {name + 5} 字）")
    assert 'id="name" name="name"' in html and re.search(r'class="form-control is-invalid" id="name"', html)
    r = Client().post("/portal/submit/", {**FORM, "files": [_exe()]})
    assert r.status_code == 422
    mb = settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)
    assert f"附件（最多 {settings.PORTAL_MAX_FILES} 个，每个不超过 {mb} MB" in alert_of(r.content.decode())
    assert "type not allowed" not in r.content.decode()
    assert Case.objects.count() == before


def _exe() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("x.exe", b"MZ\x90\x00" * 20)


def test_a_portal_without_an_intake_unit_says_so_in_chinese_keeps_the_form_and_stores_nothing(
        org: Any, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.PORTAL_INTAKE_UNIT = "no_such_unit"  # the operator's mistake, not the complainant's
    cases = Case.objects.count()
    r = Client().post("/portal/submit/", FORM)
    html = r.content.decode()
    assert r.status_code == 503
    assert alert_of(html) == views.UNAVAILABLE
    assert "HUIYIN_PORTAL_UNIT" not in html and FORM["subject"] in html  # what they wrote is still there
    assert Case.objects.count() == cases
    # the operator reads why in the log, without the complainant's details
    assert "HUIYIN_PORTAL_UNIT names no active unit" in caplog.text
    assert FORM["name"] not in caplog.text and FORM["phone"] not in caplog.text


def refused(overrides: dict[str, Any], client: Client | None = None) -> tuple[str, str]:
    """Submit the form with `overrides`: (the alert, the page) of a 422 that stored nothing."""
    before = Case.objects.count()
    r = (client or Client()).post("/portal/submit/", {**FORM, **overrides})
    assert r.status_code == 422
    assert Case.objects.count() == before
    html = r.content.decode()
    return alert_of(html), html


def outlined(html: str, field_id: str) -> bool:
    return bool(re.search(rf'class="form-(control|check-input) is-invalid"[^>]* id="{field_id}"', html)
                or re.search(rf'is-invalid" type="checkbox" name="{field_id}"', html))


def test_a_wrong_phone_number_says_how_to_write_one_in_chinese(org) -> None:
    c = Client()
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # staff pages in English on the same browser
    alert, html = refused({"phone": "12345"}, c)
    assert alert.startswith("请检查填写的内容：手机或电话（请填写手机号（如 13800138000）")
    assert "0871-12345678" in alert and "Chinese" not in html and "landline" not in html
    assert 'value="12345"' in html and FORM["subject"] in html and FORM["name"] in html
    assert outlined(html, "phone")


def test_a_wrong_email_says_what_an_email_looks_like(org) -> None:
    alert, html = refused({"email": "chen8.example.com"})
    assert alert == "请检查填写的内容：电子邮箱（请填写正确的电子邮箱，例如 name@example.com）"
    assert 'value="chen8.example.com"' in html and FORM["description"] in html
    assert "not an e-mail" not in html and outlined(html, "email")


@pytest.mark.parametrize("anonymous", ["", "on"])
def test_no_contact_says_a_phone_or_email_is_needed_and_only_a_report_may_be_anonymous(org, anonymous) -> None:
    alert, html = refused({"phone": "", "email": "", "anonymous": anonymous})
    assert alert.startswith("请检查填写的内容：联系人（")
    assert "手机或电子邮箱" in alert and "只有举报可以匿名" in alert
    assert "required" not in alert and FORM["name"] in html and FORM["subject"] in html
    assert outlined(html, "name") and outlined(html, "phone")


def test_an_unticked_privacy_box_asks_to_tick_it(org) -> None:
    alert, html = refused({"privacy": ""})
    assert alert == "请检查填写的内容：隐私声明（请阅读隐私声明，并勾选“我已阅读并同意隐私声明”）"
    assert FORM["subject"] in html and FORM["name"] in html and outlined(html, "privacy")
    # a form loaded before the notice changed: read the new one
    alert, html = refused({"privacy_notice_version": "0.1-old"})
    assert "隐私声明已更新" in alert and "current version" not in html


def test_control_characters_in_the_subject_are_named(org) -> None:
    subject = "营业厅\x07服务态度差"
    alert, html = refused({"subject": subject})
    assert alert.startswith("请检查填写的内容：标题（含有看不见的控制字符")
    assert f'value="{subject}"' in html and "contains" not in html and outlined(html, "subject")


def test_every_problem_is_said_in_chinese_whatever_the_field() -> None:
    kinds = {kind for _, kind in views.PROBLEMS}
    assert {("", kind) for kind in kinds} <= set(views.PROBLEMS)  # a default for every kind
    for text in views.PROBLEMS.values():
        with translation.override("zh-hans"):
            assert re.search(r"[\u4e00-\u9fff]", str(text))
