"""What the case list does with filters and names it cannot use: it says so and changes nothing,
and the export refuses rather than export more cases than were asked for (a new user's check
found the dates silently ignored, the export's reason and a saved filter's name silently cut)."""

from __future__ import annotations

import pytest

from huiyin.conftest import new_case
from huiyin.org.models import AuditEntry
from huiyin.privacy.models import ExportRequest
from huiyin.web.models import SavedFilter

pytestmark = pytest.mark.django_db

UNUSABLE = ["9999-99-99", "abc", "2026-13-45", "2026-02-30"]


@pytest.mark.parametrize("value", UNUSABLE)
def test_the_list_says_a_date_it_cannot_use_was_left_out(web_client, api, value: str) -> None:
    new_case(api)
    leader, _ = web_client("leader")
    bad = leader.get("/cases/", {"from": value})
    assert bad.status_code == 200 and b"data-unusable-dates" in bad.content and "不是有效日期" in bad.content.decode()
    good = leader.get("/cases/", {"from": "2026-01-01"})
    assert good.status_code == 200 and b"data-unusable-dates" not in good.content
    assert b"data-unusable-dates" not in leader.get("/cases/").content


@pytest.mark.parametrize(("received", "rows"), [
    ({"from": "1899-12-31"}, 1), ({"to": "2200-01-01"}, 1),  # before or after every case: no bound
    ({"from": "9999-12-31"}, 0), ({"to": "0001-01-01"}, 0),  # after or before every case: none of them
])
def test_a_date_beyond_the_years_of_cases_bounds_as_the_calendar_does(web_client, api, received, rows) -> None:
    new_case(api)
    leader, _ = web_client("leader")
    listed = leader.get("/cases/", received)
    assert listed.status_code == 200 and b"data-unusable-dates" not in listed.content
    r = leader.get("/cases/export.xlsx", {**received, "reason": "边界"})
    assert r.status_code == 200 and r["X-Export-Rows"] == str(rows)


@pytest.mark.parametrize("key", ["from", "to"])
def test_the_export_refuses_a_date_it_cannot_use_and_exports_nothing(web_client, api, key: str) -> None:
    new_case(api)
    for user in ("leader", "dispatcher"):  # exports at once, and asks for approval first
        client, _ = web_client(user)
        r = client.get("/cases/export.xlsx", {key: "9999-99-99", "reason": "月度分析"})
        assert r.status_code == 422 and r["Content-Type"].startswith("text/html")
        assert b"data-export-problem" in r.content and b'value="9999-99-99"' in r.content
    assert not AuditEntry.objects.filter(action="export").exists()
    assert not ExportRequest.objects.exists()


def test_the_export_refuses_a_reason_longer_than_it_keeps(web_client, api) -> None:
    new_case(api)
    leader, _ = web_client("leader")
    r = leader.get("/cases/export.xlsx", {"kind": "complaint", "reason": "核" * 501})
    assert r.status_code == 422 and b"data-export-problem" in r.content and "导出原因过长：最多 500 个字" in r.content.decode()
    assert not AuditEntry.objects.filter(action="export").exists()
    ok = leader.get("/cases/export.xlsx", {"kind": "complaint", "reason": "核" * 500})
    assert ok.status_code == 200 and ok["X-Export-Rows"] == "1"
    assert AuditEntry.objects.get(action="export").details["reason"] == "核" * 500


def test_a_saved_filters_name_too_long_is_refused_not_cut(web_client) -> None:
    leader, user = web_client("leader")
    r = leader.post("/cases/filters/save", {"name": "名" * 61, "query": "kind=complaint"}, follow=True)
    assert r.status_code == 200 and not SavedFilter.objects.filter(user=user).exists()
    assert "筛选名称过长：最多 60 个字" in " ".join(str(m) for m in r.context["messages"])
    leader.post("/cases/filters/save", {"name": "名" * 60, "query": "kind=complaint"})
    assert SavedFilter.objects.get(user=user).name == "名" * 60
