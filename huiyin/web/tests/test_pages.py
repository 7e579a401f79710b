"""The staff pages through Django's test client: who sees what, forms, errors, escaping, CSRF."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.test import Client
from openpyxl import load_workbook

from huiyin.cases.models import Case, Event, Extension
from huiyin.cases.tests.helpers import case_in
from huiyin.conftest import new_case
from huiyin.tests.security_fixtures import approved_export
from huiyin.web.models import SavedFilter

from .conftest import csrf_of
from .support import sync_deadline

pytestmark = pytest.mark.django_db

PAGES = ["/", "/intake/", "/cases/", "/approvals/", "/board/", "/dashboard/"]


def test_pages_need_login(org: Any) -> None:
    for url in [*PAGES, "/cases/TS20260101-000001/", "/cases/export.xlsx"]:
        r = Client().get(url)
        assert r.status_code == 302 and r["Location"].startswith("/login/"), url


def test_login_and_logout_work(org: Any) -> None:
    c = Client(enforce_csrf_checks=True)
    page = c.get("/login/")
    assert "回音" in page.content.decode()
    r = c.post("/login/", {"username": "agent", "password": "pw-for-tests",
                           "csrfmiddlewaretoken": csrf_of(page.content.decode())})
    assert r.status_code == 302 and r["Location"] == "/"
    home = c.get("/")
    assert home.status_code == 200
    r = c.post("/logout/", {"csrfmiddlewaretoken": csrf_of(home.content.decode())})
    assert r.status_code == 302
    assert c.get("/").status_code == 302


def test_every_page_renders_for_every_persona(web: Any, api: Any) -> None:
    number = case_in(api, "accepted")
    for user in ("agent", "dispatcher", "leader", "supervisor", "handler_a", "handler_b", "auditor"):
        for url in PAGES:
            assert web(user).get(url).status_code == 200, (user, url)
        expected = 404 if user == "handler_b" else 200
        assert web(user).get(f"/cases/{number}/").status_code == expected, user


def test_it_is_chinese_by_default(web: Any) -> None:
    html = web("agent").get("/").content.decode()
    assert 'lang="zh-Hans"' in html
    assert "我的待办" in html and "新建工单" in html


def test_english_is_selectable(web: Any) -> None:
    c = web("agent")
    home = c.get("/")
    r = c.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert r.status_code == 302
    html = c.get("/intake/").content.decode()
    assert 'lang="en"' in html and "New case" in html
    # The models' Chinese labels have English translations too.
    assert "Complaint" in html and "Phone hotline" in html
    assert home.status_code == 200


def test_a_case_outside_the_subtree_is_404_everywhere(web: Any, api: Any) -> None:
    number = case_in(api, "accepted")  # handled by county_a
    hb = web("handler_b")
    assert hb.get(f"/cases/{number}/").status_code == 404
    assert hb.post(f"/cases/{number}/act/acknowledge", {}).status_code == 404
    assert hb.post(f"/cases/{number}/attach", {}).status_code == 404
    link = f'href="/cases/{number}/"'
    assert link not in hb.get("/cases/").content.decode()
    assert link not in hb.get(f"/cases/?q={number}").content.decode()
    assert link not in hb.get("/board/").content.decode()
    assert link not in hb.get("/").content.decode()
    wb = load_workbook(io.BytesIO(approved_export(hb, web("leader")).content))  # issue 11: reason and approval
    assert all(number not in str(row[0]) for row in wb.active.iter_rows(values_only=True))
    assert hb.get("/intake/lookup", {"complainant_phone": "13800138000"}).content.decode().count(number) == 0


def test_user_text_is_escaped(web: Any, api: Any) -> None:
    number = new_case(api, subject="<script>alert(1)</script>", description='"><img src=x onerror=alert(2)>')["number"]
    for url in (f"/cases/{number}/", "/cases/", "/intake/lookup?complainant_phone=13800138000"):
        html = web("dispatcher").get(url).content.decode()
        assert "<script>alert(1)</script>" not in html, url
        assert "<img src=x" not in html, url
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in web("dispatcher").get(f"/cases/{number}/").content.decode()


def test_forms_refuse_a_post_without_csrf(org: Any, api: Any) -> None:
    number = new_case(api)["number"]
    c = Client(enforce_csrf_checks=True)
    c.force_login(org.dispatcher)
    r = c.post(f"/cases/{number}/act/dispatch", {"unit": "county_a"})
    assert r.status_code == 403
    assert Case.objects.get(number=number).state == "registered"
    page = c.get(f"/cases/{number}/").content.decode()
    r = c.post(f"/cases/{number}/act/dispatch", {"unit": "county_a", "csrfmiddlewaretoken": csrf_of(page)})
    assert r.status_code == 302


def test_every_form_on_the_page_has_a_csrf_token(web: Any, api: Any) -> None:
    number = case_in(api, "pending_callback")
    for user, url in (("agent", f"/cases/{number}/"), ("agent", "/intake/"), ("agent", "/cases/"),
                      ("leader", "/approvals/"), ("supervisor", "/board/")):
        html = web(user).get(url).content.decode()
        posts = html.count('method="post"')
        assert posts and html.count("csrfmiddlewaretoken") >= posts, (user, url)


def test_the_case_page_offers_exactly_the_allowed_actions(web: Any, api: Any) -> None:
    number = new_case(api)["number"]
    html = web("dispatcher").get(f"/cases/{number}/").content.decode()
    for action in ("dispatch", "mark_invalid", "resolve_on_spot", "transfer_out", "urge", "merge", "link", "classify"):
        assert f'data-action-form="{action}"' in html, action
    assert 'data-action-form="acknowledge"' not in html
    assert 'data-action-form="approve"' not in html
    auditor = web("auditor").get(f"/cases/{number}/").content.decode()
    assert "data-action-form" not in auditor


def test_dispatch_through_the_page_uses_the_workflow(web: Any, api: Any) -> None:
    number = new_case(api)["number"]
    case = Case.objects.get(number=number)
    r = web("dispatcher").post(f"/cases/{number}/act/dispatch", {
        "unit": "county_a", "instructions": "请两日内处理", "expected_version": case.version, "comment": "转县局",
    })
    assert r.status_code == 302 and r["Location"] == f"/cases/{number}/"
    case.refresh_from_db()
    assert case.state == "pending_approval" and case.proposed_unit.code == "county_a"
    event = Event.objects.filter(case=case).last()
    assert event.action == "dispatch" and event.source == "web" and event.comment == "转县局"


def test_a_stale_form_shows_the_conflict_and_the_fresh_case(web: Any, api: Any) -> None:
    number = new_case(api)["number"]
    version = Case.objects.get(number=number).version
    api("dispatcher").act(number, "classify", {"severity": "difficult"})  # someone else moves first
    r = web("dispatcher").post(f"/cases/{number}/act/dispatch", {"unit": "county_a", "expected_version": version})
    assert r.status_code == 409
    html = r.content.decode()
    assert 'data-alert="conflict"' in html
    assert "其他人" in html  # the clear message, in Chinese
    assert "疑难" in html  # the fresh case: the other user's change is shown
    assert Case.objects.get(number=number).state == "registered"


def test_an_action_no_longer_possible_is_a_409_with_the_case(web: Any, api: Any) -> None:
    number = case_in(api, "accepted")
    r = web("handler_a").post(f"/cases/{number}/act/acknowledge", {})
    assert r.status_code == 409
    assert 'data-alert="conflict"' in r.content.decode()


def test_bad_input_keeps_what_was_typed_and_names_the_field(web: Any, api: Any) -> None:
    number = case_in(api, "accepted")
    r = web("handler_a").post(f"/cases/{number}/act/submit_result", {
        "cause": "库存不足导致延误", "reply": "", "expected_version": Case.objects.get(number=number).version,
    })
    assert r.status_code == 422
    html = r.content.decode()
    assert "库存不足导致延误" in html
    assert "is-invalid" in html


def test_what_was_typed_comes_back_escaped_in_every_kind_of_input(web: Any, api: Any) -> None:
    """The inputs are written by web/forms.py `widget_html`: a refilled textarea, text box, select
    and number box carry what was typed as text, never as markup."""
    number = case_in(api, "accepted")
    hostile = '"><script>alert(1)</script>'
    r = web("handler_a").post(f"/cases/{number}/act/submit_result", {
        "cause": hostile, "responsible_person": hostile, "liability": hostile, "compensation_amount": hostile,
        "reply": "", "expected_version": Case.objects.get(number=number).version,
    })
    assert r.status_code == 422
    html = r.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'id="act-submit_result-cause"' in html and "is-invalid" in html


@pytest.mark.parametrize("kind", ["radio", "textarea", "select", "unit", "category", "units", "number", "decimal",
                                  "case", "text"])
def test_every_kind_of_input_escapes_its_label_choices_value_and_error(kind: str) -> None:
    from datetime import UTC, datetime

    from huiyin.web.forms import Widget, widget_html

    hostile = '"><script>alert(1)</script>'
    w = Widget(name="field", label=hostile, kind=kind, required=True, max_length=50,
               choices=[(hostile, hostile), ("b", "乙")], value=[hostile] if kind == "units" else hostile,
               error=hostile)
    html = str(widget_html(w, "act-x"))
    assert "<script>" not in html, kind
    assert html.count("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;") >= 2, (kind, html)
    # what a template's {{ }} would show: a moment in the local time (Asia/Shanghai)
    w.value, w.error = datetime(2026, 1, 1, 0, 30, tzinfo=UTC), ""
    if kind not in ("units", "radio", "select", "unit", "category"):
        shown = str(widget_html(w, "x"))
        assert "08:30" in shown and "00:30" not in shown, shown


def test_a_forbidden_action_is_403(web: Any, api: Any) -> None:
    number = new_case(api)["number"]
    r = web("agent").post(f"/cases/{number}/act/dispatch", {"unit": "county_a"})
    assert r.status_code == 403
    assert Case.objects.get(number=number).state == "registered"


def test_unknown_action_is_404(web: Any, api: Any) -> None:
    number = new_case(api)["number"]
    assert web("dispatcher").post(f"/cases/{number}/act/explode", {}).status_code == 404


def test_the_intake_registers_with_attachment(web: Any, org: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    r = web("agent").post("/intake/", {
        "form_token": "t-1", "complainant_phone": "139 1234 5678", "complainant_name": "李四", "kind": "complaint",
        "channel": "letter", "subject": "来信反映配送问题", "description": "信件扫描件见附件", "flags": ["media"],
        "amount": "300.50", "received_at": "2026-01-05T09:30", "then": "next",
        "files": [SimpleUploadedFile("letter.pdf", b"%PDF-1.4 scanned letter", content_type="application/pdf"),
                  SimpleUploadedFile("evil.exe", b"MZ\x90\x00\x03", content_type="application/pdf")],
    })
    assert r.status_code == 302 and r["Location"] == "/intake/"
    case = Case.objects.get(subject="来信反映配送问题")
    assert case.complainant_phone == "13912345678" and case.channel == "letter" and case.flags == ["media"]
    assert str(case.amount) == "300.50"
    assert case.received_at.isoformat() == "2026-01-05T01:30:00+00:00"
    assert [a.name for a in case.attachments.all()] == ["letter.pdf"]
    follow = web("agent").get("/intake/").content.decode()
    assert case.number in follow and "evil.exe" in follow  # registered; the bad file named in a message
    # A double submit of the same form makes no second case.
    web("agent").post("/intake/", {"form_token": "t-1", "complainant_phone": "139 1234 5678",
                                   "complainant_name": "李四", "kind": "complaint", "channel": "letter",
                                   "subject": "来信反映配送问题", "description": "信件扫描件见附件",
                                   "flags": ["media"], "amount": "300.50", "received_at": "2026-01-05T09:30"})
    assert Case.objects.filter(subject="来信反映配送问题").count() == 1


def test_the_intake_refuses_bad_input_and_keeps_it(web: Any, org: Any) -> None:
    r = web("agent").post("/intake/", {"complainant_phone": "13800138000", "complainant_name": "王五",
                                       "kind": "complaint", "channel": "phone", "subject": ""})
    assert r.status_code == 422
    assert "王五" in r.content.decode() and "is-invalid" in r.content.decode()


def test_a_consultation_answered_on_the_spot_closes(web: Any, org: Any) -> None:
    web("agent").post("/intake/", {"complainant_phone": "13700000000", "kind": "consultation", "channel": "phone",
                                   "subject": "咨询办证流程", "answer": "携带身份证到政务大厅办理"})
    case = Case.objects.get(subject="咨询办证流程")
    assert case.state == "closed" and case.reply == "携带身份证到政务大厅办理"
    assert case.close_reason == "resolved_on_spot"


def test_the_intake_needs_a_way_to_reach_a_caller_the_policy_calls_back(web: Any, org: Any) -> None:
    """The one rule of the services (PolicyConfig.contact_required), said on the page."""
    agent = web("agent")
    form = {"kind": "complaint", "channel": "phone", "subject": "送货员态度差", "complainant_name": "赵六",
            "complainant_anonymous": "on"}
    r = agent.post("/intake/", form)
    html = r.content.decode()
    assert r.status_code == 422 and "此类工单需要回访：请填写电话、电子邮箱或通信地址" in html
    assert "赵六" in html and not Case.objects.filter(subject="送货员态度差").exists()  # kept, nothing stored
    assert agent.post("/intake/", {**form, "channel": "letter", "complainant_address": "昆明市北京路 1 号"}).status_code == 302
    assert Case.objects.get(subject="送货员态度差").complainant_address == "昆明市北京路 1 号"
    # A report may be anonymous; a consultation answered on the spot is called back by nobody.
    assert agent.post("/intake/", {"kind": "report", "channel": "phone", "subject": "有人销售假烟",
                                   "complainant_anonymous": "on"}).status_code == 302
    assert agent.post("/intake/", {"kind": "consultation", "channel": "phone", "subject": "咨询营业时间",
                                   "answer": "工作日 8:30 至 17:30"}).status_code == 302
    assert Case.objects.get(subject="咨询营业时间").state == "closed"
    html = agent.get("/intake/").content.decode()
    marked = html.split('data-callback-kinds="')[1].split('"')[0].split()  # the phone is marked required for these
    assert "complaint" in marked and "report" not in marked


def test_the_phone_lookup_shows_open_and_earlier_cases(web: Any, api: Any) -> None:
    open_number = case_in(api, "accepted")
    closed_number = case_in(api, "closed")
    html = web("agent").get("/intake/lookup", {"complainant_phone": "138-0013-8000"}).content.decode()
    assert f'data-open-case="{open_number}"' in html
    assert closed_number in html and "重复" in html  # closed within 30 days: a repeat
    assert "hx-post" in html  # the urge button
    assert "data-history" not in web("agent").get("/intake/lookup", {"complainant_phone": "13"}).content.decode()


def test_urge_from_the_intake_is_an_htmx_partial(web: Any, api: Any) -> None:
    number = case_in(api, "accepted")
    case = Case.objects.get(number=number)
    r = web("agent").post(f"/cases/{number}/act/urge", {"note": "客户再次来电催促", "expected_version": case.version},
                          headers={"HX-Request": "true"})
    assert r.status_code == 200 and 'data-act-result="ok"' in r.content.decode()
    case.refresh_from_db()
    assert case.urge_count == 1
    assert Event.objects.filter(case=case, action="urge").last().changes["note"] == [None, "客户再次来电催促"]


def test_the_workbench_counts_what_waits(web: Any, api: Any) -> None:
    case_in(api, "registered")
    pending = case_in(api, "pending_approval")
    dispatched = case_in(api, "dispatched")
    html = web("leader").get("/").content.decode()
    assert pending in html and dispatched not in html
    html = web("handler_a").get("/").content.decode()
    assert dispatched in html and pending not in html
    assert web("handler_b").get("/").content.decode().count("TS2") == 0
    html = web("agent").get("/?tab=registered_by_me").content.decode()
    assert pending in html and dispatched in html


def test_the_workbench_reads_what_the_orm_reads(api: Any) -> None:
    """`waiting_ids` and the unit queues run SQL kept per process (issue 9 item 7): for every
    persona, twice (the second time from the kept SQL), they answer what the ORM queries they
    were compiled from answer: the same ids, most urgent first under a small cap, the same counts."""
    from huiyin.cases import selectors
    from huiyin.cases.access import cases_for
    from huiyin.org.access import grants, subtree_ids
    from huiyin.org.models import Role, User

    for state in ("registered", "pending_approval", "dispatched", "pending_callback"):
        case_in(api, state)
    Case.objects.filter(pk=Case.objects.order_by("id").first().pk).update(next_due_at=None)  # one without a deadline
    for user in User.objects.all():
        for cap in (1, 100):
            orm: set[int] = set()
            for term in selectors.waiting_terms(user):
                orm.update(selectors.most_urgent_ids(cases_for(user).filter(term), cap))
            for _ in range(2):
                assert selectors.waiting_ids(User.objects.get(pk=user.pk), cap=cap) == sorted(orm), (user, cap)
        queues, seen = [], set()
        for g in grants(user):
            side = "owner" if g.role == Role.DISPATCHER else "unit" if g.role in selectors.HANDLER_ROLES else None
            if side is None or (g.unit_id, side) in seen:
                continue
            seen.add((g.unit_id, side))
            where = {"owner_unit_id__in" if side == "owner" else "unit_id__in": subtree_ids({g.path})}
            queues.append([(st, selectors.capped_count(cases_for(user).filter(**where, state=st), selectors.QUEUE_CAP))
                           for st in selectors.OPEN_STATES])
        for _ in range(2):
            assert [q["states"] for q in selectors.unit_queues(User.objects.get(pk=user.pk))] == queues, user


def test_the_workbench_shows_overdue_and_at_risk(web: Any, api: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from huiyin.cases.models import Timer

    late = case_in(api, "accepted")
    risky = case_in(api, "accepted")
    now = timezone.now()
    # As cases.deadlines would have written them: remind_at is the reminder share (75 %) of the time.
    Timer.objects.filter(case__number=late, code="resolve").update(
        started_at=now - timedelta(days=3), due_at=now - timedelta(hours=1), remind_at=now - timedelta(hours=19))
    Timer.objects.filter(case__number=risky, code="resolve").update(
        started_at=now - timedelta(hours=9), due_at=now + timedelta(hours=1), remind_at=now - timedelta(hours=1, minutes=30))
    Timer.objects.filter(case__number__in=[late, risky]).exclude(code="resolve").update(
        due_at=now + timedelta(days=9), remind_at=now + timedelta(days=8))
    sync_deadline(late), sync_deadline(risky)
    overdue = web("handler_a").get("/?tab=overdue").content.decode()
    assert late in overdue and risky not in overdue
    at_risk = web("handler_a").get("/?tab=at_risk").content.decode()
    assert risky in at_risk and late not in at_risk
    board = web("supervisor").get("/board/").content.decode()
    assert late in board and risky in board and 'data-total="overdue">1<' in board


def test_lists_filter_sort_and_page_by_keyset(web: Any, api: Any) -> None:
    numbers = [new_case(api, subject=f"批量工单{i}")["number"] for i in range(30)]
    consult = new_case(api, kind="consultation", subject="咨询一件事")["number"]
    c = web("dispatcher")
    first = c.get("/cases/", {"q": "批量工单"})
    html = first.content.decode()
    assert numbers[-1] in html and numbers[0] not in html
    assert first.context["next_url"]
    second = c.get("/cases/" + first.context["next_url"]).content.decode()
    assert numbers[0] in second and numbers[-1] not in second
    oldest = c.get("/cases/", {"q": "批量工单", "sort": "id"}).content.decode()
    assert numbers[0] in oldest
    kinds = c.get("/cases/", {"kind": "consultation"}).content.decode()
    assert consult in kinds and numbers[0] not in kinds
    assert numbers[0] in c.get("/cases/", {"q": numbers[0]}).content.decode()


def test_the_list_does_not_count_everything(web: Any, api: Any, django_assert_max_num_queries: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        new_case(api)
    c = web("dispatcher")
    with CaptureQueriesContext(connection) as ctx:
        c.get("/cases/", {"state": "registered", "overdue": "no", "from": "2026-01-01"})
    # the case list neither counts nor offsets; the navbar's unread badge counts one user's inbox
    sql = " ".join(q["sql"].upper() for q in ctx.captured_queries if "CASES_CASE" in q["sql"].upper())
    assert "OFFSET" not in sql and "COUNT(" not in sql
    assert len(ctx.captured_queries) <= 15


def test_saved_filters_belong_to_their_user(web: Any, org: Any) -> None:
    r = web("dispatcher").post("/cases/filters/save", {"name": "超期投诉", "query": "kind=complaint&overdue=yes"})
    assert r.status_code == 302
    saved = SavedFilter.objects.get(name="超期投诉")
    assert saved.user == org.dispatcher
    assert "超期投诉" in web("dispatcher").get("/cases/").content.decode()
    assert "超期投诉" not in web("agent").get("/cases/").content.decode()
    assert web("agent").post(f"/cases/filters/{saved.pk}/delete").status_code == 404
    assert web("dispatcher").post(f"/cases/filters/{saved.pk}/delete").status_code == 302
    assert not SavedFilter.objects.exists()


def test_the_export_masks_phones_and_id_numbers(web: Any, api: Any) -> None:
    new_case(api, complainant={"name": "张三", "phone": "13800138000", "id_number": "110101199001011234"})
    r = approved_export(web("dispatcher"), web("leader"), kind="complaint")  # issue 11: reason and approval
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "编号"
    body = " ".join(str(v) for row in rows[1:] for v in row)
    assert "138****8000" in body and "13800138000" not in body
    assert "110***********1234" in body and "110101199001011234" not in body


def test_the_approvals_inbox_decides_in_one_click(web: Any, api: Any) -> None:
    number = case_in(api, "pending_approval")
    html = web("leader").get("/approvals/").content.decode()
    assert number in html
    r = web("leader").post(f"/cases/{number}/act/approve", {"comment": "同意派县局A", "next": "/approvals/",
                                                            "expected_version": Case.objects.get(number=number).version})
    assert r.status_code == 302 and r["Location"] == "/approvals/"
    assert Case.objects.get(number=number).state == "dispatched"
    assert number not in web("leader").get("/approvals/").content.decode()


def test_the_approvals_inbox_lists_extension_requests(web: Any, api: Any) -> None:
    number = case_in(api, "accepted")
    assert api("handler_a").act(number, "request_extension",
                                {"amount": 2, "unit": "working_days", "reason": "送检需要时间"}).status_code == 200
    html = web("leader").get("/approvals/").content.decode()
    assert number in html and "送检需要时间" in html
    r = web("leader").post(f"/cases/{number}/act/grant_extension", {"comment": "同意"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and 'data-act-result="ok"' in r.content.decode()
    assert Extension.objects.get(case__number=number).status == "granted"


def test_the_dashboard_is_limited_to_the_users_units(web: Any, api: Any) -> None:
    case_in(api, "accepted")
    leader = web("leader").get("/dashboard/")
    assert leader.context["open_total"] == 1
    assert web("handler_b").get("/dashboard/").context["open_total"] == 0
    # A unit outside the user's subtrees is ignored, not shown.
    assert web("handler_b").get("/dashboard/", {"unit": "county_a"}).context["open_total"] == 0
    assert web("leader").get("/dashboard/", {"unit": "county_b"}).context["open_total"] == 0


def test_attachments_are_checked_and_downloadable(web: Any, api: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    number = new_case(api)["number"]
    c = web("agent")
    c.post(f"/cases/{number}/attach", {"files": [SimpleUploadedFile("photo.png", b"\x89PNG\r\n\x1a\nxxxx")]})
    r = c.post(f"/cases/{number}/attach", {"files": [SimpleUploadedFile("x.html", b"\x00\x01<html>")]}, follow=True)
    assert "不接受" in r.content.decode() or "not accepted" in r.content.decode()
    att = Case.objects.get(number=number).attachments.get()
    download = c.get(f"/cases/{number}/files/{att.token}")
    assert download.status_code == 200 and download["X-Content-Type-Options"] == "nosniff"
    assert web("handler_b").get(f"/cases/{number}/files/{att.token}").status_code == 404


def test_an_english_browser_still_gets_chinese_until_english_is_chosen(web: Any, settings: Any) -> None:
    settings.MIDDLEWARE = [
        "huiyin.web.middleware.DefaultLanguageMiddleware" if m == "django.middleware.locale.LocaleMiddleware" else m
        for m in settings.MIDDLEWARE
    ]
    c = web("agent")
    assert "我的待办" in c.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).content.decode()
    c.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "My work" in c.get("/", headers={"Accept-Language": "zh-CN"}).content.decode()


def test_every_action_has_a_form_read_off_its_input_model(org: Any, api: Any) -> None:
    from django.http import QueryDict

    from huiyin.cases.inputs import ACTION_INPUTS
    from huiyin.org.access import org_units
    from huiyin.web import forms

    case = Case.objects.get(number=new_case(api)["number"])
    units = org_units(org.dispatcher)
    for action, model in ACTION_INPUTS.items():
        form = forms.action_form(action, units=units, case=case)
        names = {w.name for w in form.widgets}
        assert names == set(model.model_fields) - {"expected_version"}, action
        assert forms.action_data(action, QueryDict("")) == {}, action
    dispatch = forms.action_data("dispatch", QueryDict("unit=county_a&co_units=county_b&co_units=&instructions=x"))
    assert dispatch == {"unit": "county_a", "co_units": ["county_b"], "instructions": "x"}


def test_a_joint_dispatch_from_the_page(web: Any, api: Any) -> None:
    number = new_case(api)["number"]
    web("dispatcher").post(f"/cases/{number}/act/dispatch", {"unit": "county_a", "co_units": ["county_b"]})
    web("leader").post(f"/cases/{number}/act/approve", {})
    html = web("handler_b").get(f"/cases/{number}/").content.decode()
    assert 'data-action-form="co_acknowledge"' in html


@pytest.mark.django_db
def test_the_inbox_page_lists_my_notifications_and_marks_them_read(api) -> None:
    from django.test import Client

    from huiyin.cases.tests.helpers import case_in
    from huiyin.notify.models import InboxItem

    n = case_in(api, "dispatched")
    c = Client()
    c.force_login(api("handler_a").user)
    page = c.get("/inbox/")
    assert page.status_code == 200
    body = page.content.decode()
    assert n in body
    assert "通知" in body
    item = InboxItem.objects.get(user__username="handler_a", case_number=n, event="case.dispatched")
    r = c.post(f"/inbox/{item.pk}/read", {"open": "1"})
    assert r.status_code == 302 and r["Location"].endswith(f"/cases/{n}/")
    item.refresh_from_db()
    assert item.read_at is not None
    other = Client()
    other.force_login(api("handler_b").user)
    assert other.post(f"/inbox/{item.pk}/read").status_code == 404
    assert n not in other.get("/inbox/").content.decode()


def test_the_approvals_inbox_lists_compensation_above_the_limit(web: Any, api: Any) -> None:
    from huiyin.policies.models import Policy
    from huiyin.policies.services import clear_cache

    policy = Policy.objects.get(active=True)
    Policy.objects.filter(pk=policy.pk).update(config={**policy.config, "compensation": {"approval_above": 1000}})
    clear_cache()
    number = case_in(api, "accepted")
    api("handler_a").act(number, "compensate", {"amount": "3000.00", "form": "退货退款"})
    html = web("leader").get("/approvals/").content.decode()
    assert html.count('id="approvals-compensation"') == 1
    title = html[html.index("<title>"):html.index("</title>")]
    assert "<div" not in title
    section = html[html.index('id="approvals-compensation"'):]
    assert number in section and "退货退款" in section and "超限赔偿审批" in html
    r = web("leader").post(f"/cases/{number}/act/approve_compensation", {"comment": "同意"},
                           headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert Case.objects.get(number=number).compensation_status == "approved"


def test_lists_page_most_urgent_first_by_keyset_without_gaps(web: Any, api: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    numbers = [new_case(api, subject=f"时限排序{i}")["number"] for i in range(31)]
    now = timezone.now()
    # Deadlines with ties (the id decides among them), some past, and cases without one (closed, paused).
    for i, n in enumerate(numbers):
        due = None if i % 7 == 3 else now + timedelta(minutes=(i * 37) % 11 - 5)
        Case.objects.filter(number=n).update(next_due_at=due, next_remind_at=due)
    rows = list(Case.objects.filter(number__in=numbers).order_by("id"))
    expected = [c.number for c in sorted((c for c in rows if c.next_due_at), key=lambda c: (c.next_due_at, c.pk))]
    expected += [c.number for c in sorted((c for c in rows if not c.next_due_at), key=lambda c: -c.pk)]
    c = web("dispatcher")
    seen: list[str] = []
    url = "/cases/?q=时限排序&sort=due"
    while url:
        r = c.get(url)
        seen += [row.number for row in r.context["rows"]]
        url = "/cases/" + r.context["next_url"] if r.context["next_url"] else ""
    assert seen == expected
    overdue = c.get("/cases/", {"q": "时限排序", "deadline": "overdue"}).context["rows"]
    late = Case.objects.filter(number__in=numbers, next_due_at__lt=timezone.now()).values_list("number", flat=True)
    assert {row.number for row in overdue} == set(late)
    assert c.get("/cases/", {"sort": "due", "cursor": "d-garbage"}).status_code == 200


def test_the_inbox_shows_only_unread_when_asked(api: Any) -> None:
    from django.test import Client

    from huiyin.notify.models import InboxItem

    n = case_in(api, "dispatched")
    c = Client()
    c.force_login(api("handler_a").user)
    items = list(InboxItem.objects.filter(user__username="handler_a").order_by("id"))
    assert len(items) >= 1
    read = items[0]
    c.post(f"/inbox/{read.pk}/read", {"show": "unread"})
    unread = c.get("/inbox/?show=unread").content.decode()
    assert f'data-item="{read.pk}"' not in unread
    assert all(f'data-item="{i.pk}"' in unread for i in items[1:])
    assert f'data-item="{read.pk}"' in c.get("/inbox/").content.decode()
    assert n in c.get("/inbox/").content.decode()


def test_a_page_error_is_in_the_readers_language_and_names_the_field(web: Any, api: Any) -> None:
    number = new_case(api)["number"]
    c = web("dispatcher")
    r = c.post(f"/cases/{number}/act/mark_invalid", {"reason": "", "reason_code": "nonsense"})
    html = r.content.decode()
    assert r.status_code == 422
    assert "必填" in html and "请选择一项" in html and "Field required" not in html and "Input should" not in html
    r = c.post("/intake/", {"kind": "complaint", "channel": "phone", "subject": "断货", "complainant_phone": "12345678"})
    assert r.status_code == 422 and "0871-12345678" in r.content.decode() and "mobile" not in r.content.decode()
    api_r = api("agent").post("/cases", {"kind": "complaint", "channel": "phone", "subject": "断货",
                                        "complainant": {"phone": "12345678"}})
    assert api_r.status_code == 422 and "mobile or landline" in api_r.json()["error"]["fields"]["complainant.phone"]


def test_every_field_of_every_action_form_has_a_label_in_both_languages(org: Any) -> None:
    from django.utils import translation

    from huiyin.cases.inputs import ACTION_INPUTS
    from huiyin.org.access import org_units
    from huiyin.web import forms

    units = org_units(org.dispatcher)
    for lang in ("zh-hans", "en"):
        with translation.override(lang):
            for action in ACTION_INPUTS:
                form = forms.action_form(action, units=units)
                assert str(form.label) != action, (lang, action)
                for w in form.widgets:
                    assert str(w.label) != w.name, (lang, action, w.name)
                    if lang == "zh-hans":  # English labels may be spelled like their codes ("minutes")
                        for value, text in w.choices:
                            assert value == "" or str(text) != value or w.name == "customer_class", (action, value)


def test_the_classify_form_sent_back_as_shown_keeps_the_respondent_unit(web: Any, api: Any) -> None:
    """The classify form shows the complained-about unit by its code, as the service reads it:
    sent back with only the severity changed, it keeps the unit (it used to show the unit's
    name, which the service refused as an unknown unit)."""
    number = new_case(api, respondent_unit="county_a", respondent_person="王某")["number"]
    html = web("dispatcher").get(f"/cases/{number}/").content.decode()
    start = html.index('data-action-form="classify"')
    form = html[start:html.index("</form>", start)]
    shown = dict(re.findall(r'<input[^>]*\bname="(respondent_unit|respondent_person|expected_version)"[^>]*'
                            r'\bvalue="([^"]*)"', form))
    assert shown["respondent_unit"] == "county_a" and shown["respondent_person"] == "王某", shown
    r = web("dispatcher").post(f"/cases/{number}/act/classify", {**shown, "severity": "major"})
    assert r.status_code == 302, r.content.decode()[:2000]
    case = Case.objects.select_related("respondent_unit").get(number=number)
    assert (case.severity, case.respondent_unit.code, case.respondent_person) == ("major", "county_a", "王某")
