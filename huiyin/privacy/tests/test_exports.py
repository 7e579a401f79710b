"""Exports of case records (issue 11 items 3, 7, 11): a reason, the audit log, the requester in the
file, the tobacco preset's approval (未经批准不得外借), every user's text a text cell, one identity
rule for the file and the case page."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from huiyin.cases.tests.helpers import case_in
from huiyin.conftest import new_case
from huiyin.org.models import AuditEntry
from huiyin.privacy.models import ExportRequest
from huiyin.tests.security_fixtures import REPORTER, REPORTER_PHONE, approved_export

pytestmark = pytest.mark.django_db
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def rows_of(content: bytes, sheet: int = 0) -> list[tuple[Any, ...]]:
    wb = load_workbook(io.BytesIO(content))
    return list(wb.worksheets[sheet].iter_rows(values_only=True))


def test_without_a_reason_the_export_asks_for_one(web_client) -> None:
    leader, _ = web_client("leader")
    r = leader.get("/cases/export.xlsx", {"kind": "complaint", "state": "dispatched"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/html")
    html = r.content.decode()
    assert 'name="reason"' in html and 'name="kind" value="complaint"' in html and 'value="dispatched"' in html
    assert not AuditEntry.objects.filter(action="export").exists()


def test_an_export_is_logged_and_carries_its_requester(web_client, api) -> None:
    new_case(api)
    leader, _ = web_client("leader")  # the tobacco preset's approver: no request needed
    r = leader.get("/cases/export.xlsx", {"kind": "complaint", "reason": "月度分析"})
    assert r.status_code == 200 and r["Content-Type"] == XLSX and r["Cache-Control"] == "no-store"
    about = dict(rows_of(r.content, sheet=1))
    assert "leader" in about["导出人"] and about["导出原因"] == "月度分析" and about["导出行数"] == 1
    assert "kind=complaint" in about["筛选条件"]
    assert load_workbook(io.BytesIO(r.content)).properties.creator.endswith("(leader)")
    entry = AuditEntry.objects.get(action="export")
    assert entry.actor_name == "leader" and entry.details["reason"] == "月度分析" and entry.details["rows"] == 1
    assert entry.details["query"] == "kind=complaint"


def test_an_export_waits_for_the_leaders_approval(web_client, api) -> None:
    """Tobacco 一.11: 投诉记录要集中管理,未经批准不得外借 (`privacy.export.approval: [leader]`)."""
    new_case(api)
    dispatcher, _ = web_client("dispatcher")
    r = dispatcher.get("/cases/export.xlsx", {"kind": "complaint", "reason": "上报省局"})
    assert r.status_code == 202
    request_id = r.json()["export_request"]
    html = dispatcher.get("/cases/export.xlsx", {"kind": "complaint", "reason": "上报省局"},
                          headers={"Accept": "text/html"})
    assert html.status_code == 202 and b"data-export-request" in html.content  # the page says it waits
    waiting = dispatcher.get("/cases/export.xlsx", {"kind": "complaint", "export_request": request_id})
    assert waiting.status_code == 409 and b'data-why="waiting"' in waiting.content
    # neither the requester nor a handler may approve
    for user in ("dispatcher", "handler_a"):
        r = api(user).post(f"/export-requests/{request_id}/approve")
        assert r.status_code in (403, 404), user
    r = api("leader").post(f"/export-requests/{request_id}/approve")
    assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["decided_by"] == "leader"
    assert api("leader").post(f"/export-requests/{request_id}/approve").status_code == 409
    # someone else cannot use it
    agent, _ = web_client("agent")
    assert agent.get("/cases/export.xlsx", {"export_request": request_id}).status_code == 404
    got = dispatcher.get("/cases/export.xlsx", {"kind": "complaint", "export_request": request_id})
    assert got.status_code == 200 and got["Content-Type"] == XLSX
    about = dict(rows_of(got.content, sheet=1))
    assert about["导出申请"] == request_id and about["批准人"] == "leader" and about["导出原因"] == "上报省局"
    again = dispatcher.get("/cases/export.xlsx", {"kind": "complaint", "export_request": request_id})
    assert again.status_code == 409 and b'data-why="used"' in again.content  # once
    assert [e for e in AuditEntry.objects.order_by("id").values_list("action", flat=True) if e.startswith("export")] \
        == ["export_requested", "export_requested", "export_approved", "export"]  # asked twice: JSON, then the page


def test_an_approved_export_is_served_within_a_day_only(web_client, api) -> None:
    dispatcher, _ = web_client("dispatcher")
    request_id = dispatcher.get("/cases/export.xlsx", {"reason": "核对"}).json()["export_request"]
    api("leader").post(f"/export-requests/{request_id}/approve")
    ExportRequest.objects.filter(pk=request_id).update(decided_at=timezone.now() - timedelta(hours=25))
    r = dispatcher.get("/cases/export.xlsx", {"export_request": request_id})
    assert r.status_code == 409 and b'data-why="expired"' in r.content


def test_a_refused_export_is_never_served(web_client, api) -> None:
    dispatcher, _ = web_client("dispatcher")
    request_id = dispatcher.get("/cases/export.xlsx", {"reason": "核对"}).json()["export_request"]
    assert api("leader").post(f"/export-requests/{request_id}/refuse").json()["status"] == "refused"
    assert dispatcher.get("/cases/export.xlsx", {"export_request": request_id}).status_code == 409


def test_the_export_requests_page_lists_and_decides(web_client, api) -> None:
    dispatcher, _ = web_client("dispatcher")
    request_id = dispatcher.get("/cases/export.xlsx", {"reason": "核对", "kind": "report"}).json()["export_request"]
    leader, _ = web_client("leader")
    page = leader.get("/privacy/exports/").content.decode()
    assert f'data-export-request="{request_id}"' in page and "核对" in page
    handler, _ = web_client("handler_a")
    assert f'data-export-request="{request_id}"' not in handler.get("/privacy/exports/").content.decode()
    assert handler.post(f"/privacy/exports/{request_id}/decide", {"decision": "approve"}).status_code == 404
    assert dispatcher.post(f"/privacy/exports/{request_id}/decide", {"decision": "approve"}).status_code == 302
    assert ExportRequest.objects.get(pk=request_id).status == "requested"  # the requester cannot approve
    assert leader.post(f"/privacy/exports/{request_id}/decide", {"decision": "approve"}).status_code == 302
    mine = dispatcher.get("/privacy/exports/").content.decode()
    assert f"export_request={request_id}" in mine and "kind=report" in mine  # the download link
    listed = api("dispatcher").get("/export-requests").json()["items"]
    assert listed[0]["download"].endswith(f"kind=report&export_request={request_id}")


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://evil.example/\",\"点击\")", "+1+1", "-2+3", "@SUM(1,2)",
                                  "\t=1+1", "\r=1+1"])
def test_every_cell_that_came_from_a_user_is_text(web_client, api, text) -> None:
    new_case(api, subject=text, complainant={"name": text.strip() or "x", "phone": "13800138000"})
    leader, _ = web_client("leader")
    r = leader.get("/cases/export.xlsx", {"reason": "检查"})
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert not any("<f>" in s for s in sheets), "no formula in the workbook"
    ws = load_workbook(io.BytesIO(r.content)).active
    subject = next(c for c in ws[2] if c.value and "1" in str(c.value))
    assert subject.data_type == "s"


def test_control_characters_stored_earlier_do_not_break_later_exports(web_client, api) -> None:
    number = new_case(api)["number"]
    from huiyin.cases.models import Case

    Case.objects.filter(number=number).update(subject="坏\x01数据\x1b字符")  # stored before the door refused them
    leader, _ = web_client("leader")
    r = leader.get("/cases/export.xlsx", {"reason": "检查"})
    assert r.status_code == 200
    assert any("坏数据字符" in str(v) for row in rows_of(r.content) for v in row)


def test_the_export_shows_no_more_than_the_case_page(web_client, api, a_report) -> None:
    """One identity rule: the auditor sees no complainant's name in the list or the file, as on
    the case; a report's reporter is in no file at all."""
    new_case(api, complainant={"name": "张三", "phone": "13800138000"})
    auditor, _ = web_client("auditor")
    leader, _ = web_client("leader")
    body = " ".join(str(v) for row in rows_of(approved_export(auditor, leader).content) for v in row)
    assert "张三" not in body and REPORTER not in body and REPORTER_PHONE not in body
    assert "张三" not in auditor.get("/cases/").content.decode()
    rows = rows_of(leader.get("/cases/export.xlsx", {"reason": "x"}).content)
    assert "张三" in " ".join(str(v) for row in rows for v in row)  # the leader may read complainants' names
    report_row = next(row for row in rows if row[0] == a_report)
    assert REPORTER not in report_row and not any(REPORTER_PHONE[-4:] in str(v) for v in report_row)


def test_the_api_lists_export_requests_to_approvers_and_requesters(web_client, api) -> None:
    dispatcher, _ = web_client("dispatcher")
    request_id = dispatcher.get("/cases/export.xlsx", {"reason": "核对"}).json()["export_request"]
    assert [r["id"] for r in api("leader").get("/export-requests", status="requested").json()["items"]] == [request_id]
    assert api("handler_a").get("/export-requests").json()["items"] == []
    assert api("leader").get("/export-requests", status="nonsense").status_code == 422
    assert api("leader").post("/export-requests/99999999/approve").status_code == 404
    assert api("leader").post(f"/export-requests/{2**70}/approve").status_code == 422
    assert api("leader").post(f"/export-requests/{request_id}/approve", raw=json.dumps({})).status_code == 200


def test_the_export_needs_no_approval_under_a_policy_without_it(web_client, api) -> None:
    from huiyin.cases.tests.helpers import custom_policy

    def no_approval(config: dict[str, Any]) -> None:
        config["privacy"]["export"] = {}

    custom_policy(no_approval)
    case_in(api, "registered")
    dispatcher, _ = web_client("dispatcher")
    r = dispatcher.get("/cases/export.xlsx", {"reason": "日常"})
    assert r.status_code == 200 and r["Content-Type"] == XLSX
    assert Client().get("/cases/export.xlsx", {"reason": "x"}).status_code == 302  # still needs a login
