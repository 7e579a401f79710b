"""The reports' pages and documents as a manager uses them: the dashboard and its drill-downs, the
analysis report (page, workbook, command — reproducible), the kept runs, bulletins, warnings,
quality inspection, corrective actions and business volumes; another unit's figures stay hidden."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from huiyin.cases.models import Case, Event
from huiyin.cases.tests.helpers import case_in
from huiyin.conftest import bj, new_case
from huiyin.reports import facts, schedule, warnings
from huiyin.reports.analysis import spec_named
from huiyin.reports.models import Bulletin, BusinessVolume, CorrectiveAction, EarlyWarning, QualityInspection, ReportRun
from huiyin.reports.periods import parse

from .data import october

pytestmark = pytest.mark.django_db

AFTER = bj(2026, 11, 10, 10, 0)


def _page(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _cells(content: bytes) -> list[Any]:
    wb = load_workbook(io.BytesIO(content))
    return [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]


def test_the_monthly_report_dashboard_and_bulletin_of_october(api: Any, org: Any, tmp_path: Path) -> None:
    october(api)
    with time_machine.travel(AFTER, tick=False):
        facts.refresh(max_steps=1000)
        leader = _page(org.leader)
        oct_ = {"unit": "bureau", "from": "2026-10-01", "to": "2026-10-31"}

        # the dashboard: figures whose drill-downs are case-list URLs with the same filters
        r = leader.get("/reports/", oct_)
        assert r.status_code == 200
        html = r.content.decode().replace("&amp;", "&")
        links = re.findall(r'href="(/cases/\?[^"]+)"', html)  # (the trend's points link each day)
        assert links and all("2026-10-01" in u and "2026-10-31" in u for u in links), [u for u in links if "2026-10-01" not in u]
        assert leader.get("/reports/", {"unit": "nowhere"}).status_code == 404
        assert _page(org.handler_a).get("/reports/", {"unit": "county_b"}).status_code == 404

        # the printable analysis report and its workbook
        r = leader.get("/reports/analysis/", {"unit": "bureau", "period": "2026-10"})
        assert r.status_code == 200
        assert "客户投诉处理统计分析报告" in r.content.decode()
        x1 = leader.get("/reports/analysis.xlsx", {"unit": "bureau", "period": "2026-10"})
        x2 = leader.get("/reports/analysis.xlsx", {"unit": "bureau", "period": "2026-10"})
        assert x1.status_code == 200 and x1.content == x2.content  # the same inputs, the same bytes
        wb = load_workbook(io.BytesIO(x1.content))
        assert len(wb.worksheets) >= 3
        cells = _cells(x1.content)
        assert any(c.data_type == "f" for c in cells)  # totals and shares as formulas
        assert any(isinstance(c.value, str) and "受理" in c.value for c in cells)  # Chinese headers
        assert any(ws._charts for ws in wb.worksheets)

        # the command writes the same report, reproducibly
        a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
        call_command("report", "analysis", "--unit", "bureau", "--period", "2026-10", "--out", str(a), stdout=io.StringIO())
        call_command("report", "analysis", "--unit", "bureau", "--period", "2026-10", "--out", str(b), stdout=io.StringIO())
        assert a.read_bytes() == b.read_bytes()
        received = [c for c in _cells(a.read_bytes()) if c.value == 8]
        assert received, "October's 8 cases appear in the workbook"

        # a kept run (the schedule's report), listed and downloaded with its checksum
        spec = spec_named("analysis")
        assert spec is not None
        bureau = org.leader.memberships.first().unit
        run = schedule.generate(spec, bureau, parse("2026-10"))
        assert schedule.generate(spec, bureau, parse("2026-10")).pk == run.pk
        assert leader.get("/reports/runs/").status_code == 200
        r = leader.get(f"/reports/runs/{run.pk}/")
        assert r.status_code == 200 and r["X-Content-SHA256"] == run.sha256
        assert ReportRun.objects.count() == 1

        # the special report of one case
        number = Case.objects.order_by("id").first().number
        assert leader.get(f"/reports/major/{number}/").status_code == 200
        assert leader.get("/reports/major/NOPE/").status_code == 404

        # a bulletin: drafted by the supervisor, published, and its document
        sup = _page(org.supervisor)
        r = sup.post("/reports/bulletins/new", {"unit": "bureau", "period": "2026-10"})
        assert r.status_code == 302
        bulletin = Bulletin.objects.get()
        assert sup.get(f"/reports/bulletins/{bulletin.pk}/").status_code == 200
        assert sup.post(f"/reports/bulletins/{bulletin.pk}/publish", {"remarks": "请各单位对照整改"}).status_code == 302
        bulletin.refresh_from_db()
        assert bulletin.published_at is not None
        assert sup.get("/reports/bulletins/").status_code == 200
        doc = sup.get(f"/reports/bulletins/{bulletin.pk}/bulletin.xlsx")
        assert doc.status_code == 200 and doc.content[:2] == b"PK"
        r = sup.post("/reports/bulletins/new", {"unit": "bureau", "period": "not a period"})
        assert r.status_code == 302 and Bulletin.objects.count() == 1


def test_warnings_are_raised_listed_acknowledged_and_closed(api: Any, org: Any) -> None:
    number = new_case(api, description="再不解决就找媒体曝光")["number"]
    assert warnings.evaluate_cases(timezone.now()) >= 1
    w = EarlyWarning.objects.get(key=number)
    assert w.level in ("orange", "red") and list(w.cases.values_list("number", flat=True)) == [number]

    leader = _page(org.leader)
    assert leader.get("/reports/warnings/").status_code == 200
    r = leader.get(f"/reports/warnings/{w.pk}/")
    assert r.status_code == 200 and number in r.content.decode()
    assert leader.post(f"/reports/warnings/{w.pk}/acknowledge", {"note": "已安排专人"}).status_code == 302
    w.refresh_from_db()
    assert w.state == "acknowledged"
    leader.post(f"/reports/warnings/{w.pk}/close", {"note": ""})  # a reason is required
    w.refresh_from_db()
    assert w.state == "acknowledged"
    leader.post(f"/reports/warnings/{w.pk}/close", {"note": "已与客户沟通解决"})
    w.refresh_from_db()
    assert w.state == "closed"
    assert leader.post(f"/reports/warnings/{w.pk}/nonsense").status_code == 404

    body = api("leader").get("/reports/warnings").json()
    assert [i["key"] for i in body["items"]] == [number]
    assert api("leader").get("/reports/warnings", state="nonsense").status_code == 422


def test_quality_inspection_scores_a_closed_case_once(api: Any, org: Any) -> None:
    number = case_in(api, "closed")
    sup = _page(org.supervisor)
    today = timezone.localdate()
    r = sup.get("/reports/quality/", {"unit": "bureau", "period": f"{today:%Y-%m}"})
    assert r.status_code == 200 and number in r.content.decode()
    assert sup.get(f"/reports/quality/{number}/").status_code == 200
    scores = {"intake": "20", "dispatch": "15", "handling": "20", "reply": "18", "callback": "20"}
    r = sup.post(f"/reports/quality/{number}/", {**scores, "reply": "99"})
    assert r.status_code == 200 and not QualityInspection.objects.exists()  # out of range: nothing saved
    r = sup.post(f"/reports/quality/{number}/", {**scores, "recording_ref": "rec-0001", "comment": "答复稍欠规范"})
    assert r.status_code == 302
    q = QualityInspection.objects.get()
    assert (int(q.score), int(q.max_score)) == (93, 100)
    assert Event.objects.filter(case__number=number, action="quality").count() == 1
    sup.post(f"/reports/quality/{number}/", scores)
    assert QualityInspection.objects.count() == 1
    assert _page(org.handler_a).post(f"/reports/quality/{number}/", scores).status_code in (200, 302, 403, 404)
    assert QualityInspection.objects.count() == 1


def test_a_corrective_action_is_opened_done_and_verified_by_another_person(api: Any, org: Any) -> None:
    number = case_in(api, "closed")
    sup = _page(org.supervisor)
    assert sup.get("/reports/actions/new", {"cases": number}).status_code == 200
    r = sup.post("/reports/actions/new", {"title": "配送时效整改", "root_cause": "线路规划不合理", "plan": "优化线路",
                                          "unit": "county_a", "owner": "handler_a", "due_days": "5", "cases": number})
    assert r.status_code == 302
    action = CorrectiveAction.objects.get()
    assert list(action.cases.values_list("number", flat=True)) == [number]
    assert Event.objects.filter(case__number=number, action="capa").exists()
    r = sup.post("/reports/actions/new", {"title": "", "root_cause": "", "unit": "county_a", "owner": "handler_a",
                                          "due_days": "0", "cases": "NOPE"})
    assert r.status_code == 200 and CorrectiveAction.objects.count() == 1

    owner = _page(org.handler_a)
    assert owner.get(f"/reports/actions/{action.pk}/").status_code == 200
    owner.post(f"/reports/actions/{action.pk}/submit", {"evidence": "已调整配送线路,见附件"})
    action.refresh_from_db()
    assert action.state == "submitted"
    owner.post(f"/reports/actions/{action.pk}/verify", {"accept": "1"})  # not by the owner
    action.refresh_from_db()
    assert action.state == "submitted"
    sup.post(f"/reports/actions/{action.pk}/verify", {"accept": "1", "note": "现场核实"})
    action.refresh_from_db()
    assert action.state == "verified"
    r = sup.get("/reports/actions/")
    assert r.status_code == 200 and "配送时效整改" in r.content.decode()


def test_business_volumes_are_entered_by_a_manager(api: Any, org: Any) -> None:
    leader = _page(org.leader)
    assert leader.get("/reports/volumes/").status_code == 200
    r = leader.post("/reports/volumes/", {"unit": "county_a", "measure": "customers", "month": "2026-10",
                                          "value": "1200"})
    assert r.status_code == 302
    assert BusinessVolume.objects.get().value == 1200
    leader.post("/reports/volumes/", {"unit": "county_a", "measure": "customers", "month": "2026-10", "value": "-1"})
    leader.post("/reports/volumes/", {"unit": "county_a", "measure": "nonsense", "month": "2026-10", "value": "1"})
    _page(org.handler_a).post("/reports/volumes/", {"unit": "county_a", "measure": "customers", "month": "2026-10",
                                                     "value": "5"})
    assert list(BusinessVolume.objects.values_list("value", flat=True)) == [1200]
    assert re.search(r"1,?200", leader.get("/reports/volumes/").content.decode())
