"""Personal data over its life (PIPL; issue 11 item 12): a purpose and a retention period per group
of fields from the policy; a job that anonymises closed cases after it, logged, keeping what the
reports count; data-subject requests (access, copy, correction, deletion) due in 30 days on the
working-day calendar; the privacy notice stored with each intake."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from huiyin.cases import selectors
from huiyin.cases.models import Attachment, Case, Event, Timer
from huiyin.cases.tests.helpers import case_in, custom_policy
from huiyin.conftest import new_case
from huiyin.org.models import AuditEntry
from huiyin.privacy import services
from huiyin.privacy.models import SubjectRequest
from huiyin.sla import calendar as cal

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def aged(number: str, days: int) -> None:
    Case.objects.filter(number=number).update(closed_at=timezone.now() - timedelta(days=days))


def test_the_privacy_notice_is_stored_with_each_intake(api) -> None:
    assert Case.objects.get(number=new_case(api)["number"]).privacy_notice == "2026-1"  # the tobacco policy's
    shown = new_case(api, privacy_notice="portal-2026-03")["number"]
    assert Case.objects.get(number=shown).privacy_notice == "portal-2026-03"


def test_closed_cases_are_anonymised_after_their_retention_period(api, settings, tmp_path,
                                                                   django_capture_on_commit_callbacks) -> None:
    settings.MEDIA_ROOT = tmp_path
    old = case_in(api, "closed", complainant={"name": "李雷", "phone": "13811112222", "email": "ll@example.com"})
    Client().post(f"/api/v1/cases/{old}/attachments", {"file": SimpleUploadedFile("信.png", PNG)},
                  headers=api("agent").headers)
    recent = case_in(api, "closed", complainant={"name": "韩梅梅", "phone": "13811113333"})
    still_open = case_in(api, "accepted", complainant={"name": "小明", "phone": "13811114444"})
    aged(old, 3 * 365 + 1)
    aged(recent, 100)
    figures_before = (selectors.dashboard(Case.objects.get(number=old).registered_by, unit=None, days=3650),
                      list(Timer.objects.filter(case__number=old).values_list("code", "state")))
    with django_capture_on_commit_callbacks(execute=True):  # the files go once the change commits
        out = run("privacy", "anonymise")
    assert "anonymised 1 cases" in out
    case = Case.objects.get(number=old)
    assert (case.complainant_name, case.complainant_phone, case.complainant_email) == ("", "", "")
    assert case.complainant_phone_hash is None and case.anonymised_at is not None  # no value, no index entry
    assert sorted(case.anonymised_groups) == ["attachments", "identity"]
    assert not Attachment.objects.filter(case=case).exists() and not [p for p in tmp_path.rglob("*") if p.is_file()]
    assert case.subject and case.kind == "complaint" and case.satisfaction == "satisfied"  # what reports count
    assert list(Timer.objects.filter(case=case).values_list("code", "state")) == figures_before[1]
    event = Event.objects.get(case=case, action="anonymise")
    assert "李雷" not in json.dumps(event.changes, ensure_ascii=False)
    assert event.changes["anonymised"] == [None, ["attachments", "identity"]]
    assert Case.objects.get(number=recent).complainant_name == "韩梅梅"
    assert Case.objects.get(number=still_open).complainant_name == "小明"
    assert api("dispatcher").get("/cases", q="13811112222").json()["items"] == []  # no longer found by phone
    assert AuditEntry.objects.filter(action="retention_anonymised").count() == 1
    assert "anonymised 0 cases" in run("privacy", "anonymise")  # nothing left: a second pass is a no-op
    figures_after = selectors.dashboard(case.registered_by, unit=None, days=3650)
    assert figures_after["satisfaction"] == figures_before[0]["satisfaction"]


def test_the_worker_anonymises_in_its_passes_and_then_rests(api) -> None:
    from huiyin.cases import jobs
    from huiyin.privacy import jobs as privacy_jobs

    old = case_in(api, "closed", complainant={"name": "李雷", "phone": "13811112222"})
    aged(old, 3 * 365 + 1)
    privacy_jobs.wake()
    assert jobs.run_pass().get("retention_sweep") == 1
    assert Case.objects.get(number=old).anonymised_at is not None
    later = case_in(api, "closed", complainant={"name": "韩梅梅", "phone": "13811113333"})
    aged(later, 3 * 365 + 1)
    assert not jobs.run_pass().get("retention_sweep")  # resting: days-long periods need no second look
    assert Case.objects.get(number=later).anonymised_at is None
    privacy_jobs.wake()
    assert jobs.run_pass().get("retention_sweep") == 1


def test_the_policy_sets_each_groups_period(api) -> None:
    def short(config: dict[str, Any]) -> None:
        config["privacy"]["retention"] = {"identity": {"days": 30, "purpose": "回访"},
                                          "attachments": {"days": 30, "purpose": "依据"},
                                          "content": {"days": 365, "purpose": "档案"}}

    custom_policy(short)
    n = case_in(api, "closed", subject="张三投诉某员工", complainant={"name": "张三", "phone": "13822223333"})
    aged(n, 31)
    run("privacy", "anonymise")
    case = Case.objects.get(number=n)
    assert case.complainant_name == "" and case.subject == "张三投诉某员工" and case.anonymised_at is None
    aged(n, 366)
    run("privacy", "anonymise")
    case = Case.objects.get(number=n)
    assert case.subject == "已匿名化" and case.reply == "" and case.anonymised_at is not None
    assert "张三投诉某员工" not in json.dumps(list(Event.objects.filter(case=case, action="anonymise")
                                                  .values_list("changes", flat=True)), ensure_ascii=False)


def test_a_dry_run_changes_nothing(api) -> None:
    n = case_in(api, "closed")
    aged(n, 4 * 365)
    assert "would anonymise 1 cases" in run("privacy", "anonymise", "--dry-run")
    assert Case.objects.get(number=n).complainant_name == "张三"


def test_a_data_subject_request_is_due_in_30_days_moved_off_a_holiday(org) -> None:
    received = datetime(2026, 9, 1, 10, 0, tzinfo=SH)  # + 30 days = 1 October, 国庆节
    assert run("privacy", "requests").strip() == "no open requests"
    with pytest.raises(CommandError, match="the phone is not"):  # its hash could find no case
        run("privacy", "request", "add", "access", "--phone", "12", "--by", "admin")
    assert not SubjectRequest.objects.exists()
    with time_machine.travel(received, tick=False):
        out = run("privacy", "request", "add", "access", "--phone", "13800138000", "--by", "admin")
    req = SubjectRequest.objects.get()
    assert "registered" in out
    due = timezone.localtime(req.due_at)
    assert due.date() > datetime(2026, 10, 1).date() and cal.is_workday(due.date())
    assert all(not cal.is_workday(datetime(2026, 10, 1).date() + timedelta(days=i))
               for i in range((due.date() - datetime(2026, 10, 1).date()).days))
    with time_machine.travel(received + timedelta(days=60), tick=False):
        assert "OVERDUE" in run("privacy", "requests")


def test_access_copy_correction_and_deletion(api, org, tmp_path) -> None:
    closed = case_in(api, "closed", complainant={"name": "王芳", "phone": "13955556666", "id_number": "110101199003037777"})
    open_case = case_in(api, "accepted", complainant={"name": "王芳", "phone": "13955556666"})
    other = new_case(api, complainant={"name": "别人", "phone": "13900000000"})["number"]
    run("privacy", "request", "add", "copy", "--phone", "139 5555 6666", "--by", "admin")
    req = SubjectRequest.objects.get()
    assert req.phone == "139 5555 6666" and "13955556666" not in str(SubjectRequest.objects.values_list("phone"))
    copy = tmp_path / "copy.json"
    run("privacy", "request", "copy", str(req.pk), "--by", "admin", "--out", str(copy))
    data = json.loads(copy.read_text(encoding="utf-8"))
    assert {c["number"] for c in data["cases"]} == {closed, open_case} and other not in copy.read_text()
    assert data["cases"][0]["phone"] == "13955556666" and oct(copy.stat().st_mode & 0o777) == "0o600"
    run("privacy", "request", "correct", str(req.pk), "--by", "admin", "--set", "complainant_name=王芳芳")
    assert {Case.objects.get(number=n).complainant_name for n in (closed, open_case)} == {"王芳芳"}
    out = run("privacy", "request", "erase", str(req.pk), "--by", "admin")
    assert f"still open: {open_case}" in out
    assert Case.objects.get(number=closed).complainant_phone == "" and Case.objects.get(number=open_case).complainant_phone
    run("privacy", "request", "close", str(req.pk), "--by", "admin", "--outcome", "已答复并删除已办结工单")
    assert SubjectRequest.objects.get().status == "done"
    assert {"subject_request", "subject_copy", "subject_correct", "subject_erase", "subject_request_closed"} <= set(
        AuditEntry.objects.values_list("action", flat=True))


def test_the_admin_pages_keep_the_queue(org) -> None:
    admin = Client()
    admin.force_login(org.admin)
    r = admin.post("/admin/privacy/subjectrequest/add/", {
        "kind": "access", "name": "", "phone": "13800138000", "id_number": "", "email": "", "details": "电话申请",
        "received_at_0": "2026-12-01", "received_at_1": "10:00:00", "outcome": ""})
    assert r.status_code == 302, r.content.decode()[:2000]
    req = SubjectRequest.objects.get()
    assert req.due_at > req.received_at and req.registered_by == org.admin
    r = admin.post("/admin/privacy/subjectrequest/", {"action": "copy_data", "_selected_action": [req.pk]})
    assert r.status_code == 200 and r["Content-Type"] == "application/json"
    assert admin.get("/admin/privacy/subjectrequest/").status_code == 200
    assert services.open_requests().count() == 1
    # a request that could find no case is refused on the form, and nothing is registered
    for wrong, said in (({"phone": "12"}, "the phone is not"), ({"phone": ""}, "is needed to find")):
        r = admin.post("/admin/privacy/subjectrequest/add/", {
            "kind": "access", "name": "", "phone": "", "id_number": "", "email": "", "details": "",
            "received_at_0": "2026-12-01", "received_at_1": "10:00:00", "outcome": "", **wrong})
        assert r.status_code == 200 and said in r.content.decode(), wrong
    assert SubjectRequest.objects.count() == 1
