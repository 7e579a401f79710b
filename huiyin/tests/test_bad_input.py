"""Inputs that were accepted and then answered 500 for ever (issue 11 item 6), probed on both
databases (`make test` runs this file on SQLite and on PostgreSQL): dates at the edges of the
calendar, control characters, NUL bytes in text, searches and paths, cursors beyond 64 bits, a file
name of hundreds of characters, uploads over the limit, files that are not what they say. Each is
refused at the door with a 4xx naming the field — or served — and nothing is stored that a later
read cannot serve."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from huiyin.cases.models import Attachment, Case
from huiyin.cases.tests.helpers import case_in
from huiyin.conftest import COMPLAINT, new_case

pytestmark = pytest.mark.django_db
EDGE_TIMES = ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59+08:00", "2026-02-13T09:00:00+23:59",
              "2026-02-13T09:00:00-23:59", "1899-12-31T23:59:59+08:00", "2200-01-01T00:00:00+08:00"]
BIG = str(2**70)


def fields_of(r: Any) -> dict[str, str]:
    return r.json()["error"]["fields"]


@pytest.mark.parametrize("when", EDGE_TIMES)
@pytest.mark.parametrize("field", ["received_at", "occurred_at", "upstream_due_at"])
def test_times_at_the_edges_of_the_calendar_are_refused_at_intake(api, field, when) -> None:
    r = api("agent").post("/cases", {**COMPLAINT, field: when})
    assert r.status_code == 422, r.content
    assert field in fields_of(r)
    assert not Case.objects.exists()


@pytest.mark.parametrize("text", ["a\x00b", "bell\x07", "esc\x1b[31m", "form\x0cfeed", "del\x7f", "\ud800"])
def test_control_characters_are_refused_in_every_text_field(api, text) -> None:
    body = json.dumps({**COMPLAINT, "subject": text}, ensure_ascii=True)
    r = api("agent").post("/cases", raw=body)
    assert r.status_code == 422 and "subject" in fields_of(r)
    for complainant in ({"name": text}, {"address": text}):
        body = json.dumps({**COMPLAINT, "complainant": complainant}, ensure_ascii=True)
        r = api("agent").post("/cases", raw=body)
        assert r.status_code == 422, complainant
    assert not Case.objects.exists()
    n = new_case(api)["number"]
    r = api("dispatcher").post(f"/cases/{n}/actions/dispatch", raw=json.dumps(
        {"unit": "county_a", "instructions": text}, ensure_ascii=True))
    assert r.status_code == 422 and "instructions" in fields_of(r)
    assert Case.objects.get(number=n).state == "registered"


def test_tabs_and_newlines_stay_allowed(api) -> None:
    r = api("agent").post("/cases", {**COMPLAINT, "description": "第一行\n第二行\r\n\t缩进"})
    assert r.status_code == 201


@pytest.mark.parametrize("params", [{"q": "a\x00b"}, {"unit": "x\x00"}, {"q": "\x00"}])
def test_nul_in_a_search_or_a_filter_is_422_naming_it(api, params) -> None:
    r = api("agent").get("/cases", **params)
    assert r.status_code == 422
    assert set(fields_of(r)) == set(params)


@pytest.mark.parametrize("path", ["/cases/TS20260213-000001%00", "/cases/%00", "/cases/TS%00/timeline",
                                  "/cases/TS%00/attachments/x%00y"])
def test_nul_in_a_path_is_a_404(api, path) -> None:
    r = api("agent").client.get("/api/v1" + path, headers=api("agent").headers)
    assert r.status_code == 404


def test_nul_in_page_paths_queries_and_forms_is_refused(staff) -> None:
    c = staff("dispatcher")
    assert c.get("/cases/%00/").status_code == 404
    assert c.get("/cases/", {"q": "a\x00"}).status_code == 400
    assert c.post("/intake/", {"subject": "a\x00", "kind": "complaint", "channel": "phone"}).status_code == 422
    assert c.post("/intake/", "subject=a%00&kind=complaint&channel=phone",
                  content_type="application/x-www-form-urlencoded").status_code == 400
    assert not Case.objects.exists()
    assert Client().post("/login/", {"username": "a\x00", "password": "x"}).status_code == 200  # the form, again
    r = Client().post("/api/v1/auth/token", json.dumps({"username": "agent\x00", "password": "x"}),
                      content_type="application/json")
    assert r.status_code == 422 and "username" in fields_of(r)


@pytest.mark.parametrize("cursor", [BIG, "-1", "0", "99999999999999999999999999"])
def test_cursors_beyond_the_integer_range_do_not_break_lists(api, staff, cursor) -> None:
    r = api("agent").get("/cases", cursor=cursor)
    assert r.status_code == 422 and "cursor" in fields_of(r)
    assert api("agent").get("/notifications", cursor=BIG).status_code in (200, 422)
    c = staff("agent")
    for url in (f"/cases/?cursor={cursor}", f"/cases/?sort=due&cursor=d{cursor}_{cursor}",
                f"/cases/?sort=due&cursor=n{cursor}", "/cases/?sort=due&cursor=d99999999999999999_1",
                f"/inbox/?before={cursor}"):
        assert c.get(url).status_code == 200, url


@pytest.mark.parametrize("edge", ["0001-01-01", "9999-12-31", "1899-12-31", "2200-01-01"])
def test_list_and_export_filters_at_the_edges_of_the_calendar(staff, api, edge) -> None:
    new_case(api)
    assert staff("agent").get("/cases/", {"from": edge, "to": edge}).status_code == 200
    r = staff("leader").get("/cases/export.xlsx", {"from": edge, "to": "9999-12-31", "reason": "边界"})
    assert r.status_code == 200


@pytest.mark.parametrize("params", [
    {"start": "0001-01-01T00:00:00+08:00", "amount": 1, "unit": "working_days"},
    {"start": "9999-12-31T23:00:00+08:00", "amount": 10000, "unit": "calendar_days"},
    {"start": "2026-02-13T09:00:00+23:59", "amount": 1, "unit": "hours"},
])
def test_the_calendar_api_refuses_times_it_cannot_serve(api, params) -> None:
    r = api("agent").get("/calendar/deadline", **params)
    assert r.status_code == 422 and "start" in fields_of(r)


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_the_calendar_api_refuses_days_it_cannot_serve(api, day) -> None:
    r = api("agent").get("/calendar/day", date=day)
    assert r.status_code == 422 and "date" in fields_of(r)


def test_the_calendar_api_serves_the_far_but_possible_future(api) -> None:
    r = api("agent").get("/calendar/deadline", start="2199-12-31T09:00:00+08:00", amount=10000, unit="working_days")
    assert r.status_code == 200 and r.json()["provisional"] is True


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def upload(api: Any, user: str, number: str, name: str, content: bytes) -> Any:
    return Client().post(f"/api/v1/cases/{number}/attachments", {"file": SimpleUploadedFile(name, content)},
                         headers=api(user).headers)


@pytest.mark.parametrize("name", ["a" * 1000 + ".png", "x." + "p" * 600, "名" * 400 + ".png", "a\x01b\x00c.png",
                                  "../../../../etc/passwd.png"])
def test_a_file_with_a_very_long_or_strange_name_is_stored_with_a_short_one(api, settings, tmp_path, name) -> None:
    settings.MEDIA_ROOT = tmp_path
    n = new_case(api)["number"]
    r = upload(api, "agent", n, name, PNG + b"\x00" * (3 * 1024 * 1024))  # over 2.5 MB: a temporary file
    assert r.status_code == 201, r.content
    stored = r.json()["name"]
    assert 0 < len(stored) <= 200 and "/" not in stored and "\x00" not in stored
    assert api("agent").get(f"/cases/{n}/attachments").status_code == 200
    assert all(p.is_relative_to(tmp_path) for p in tmp_path.rglob("*"))


def docx(parts: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return buf.getvalue()


WORD = {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"}


@pytest.mark.parametrize("content, accepted", [
    (docx(WORD), True),
    (docx({**WORD, "word/vbaProject.bin": b"macro"}), False),  # a .docm: macros
    (docx({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}), False),  # a spreadsheet
    (docx({"META-INF/MANIFEST.MF": b"Main-Class: x", "x.class": b"\xca\xfe\xba\xbe"}), False),  # a Java archive
    (b"PK\x03\x04" + b"\x00" * 100, False),  # not even a zip
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600 + "WordDocument".encode("utf-16-le"), True),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600 + "Workbook".encode("utf-16-le"), False),  # an .xls
])
def test_office_files_are_checked_for_what_they_really_are(api, settings, tmp_path, content, accepted) -> None:
    settings.MEDIA_ROOT = tmp_path
    n = new_case(api)["number"]
    r = upload(api, "agent", n, "文件.docx", content)
    assert r.status_code == (201 if accepted else 422), r.content
    assert Attachment.objects.exists() == accepted


@override_settings(ATTACHMENT_MAX_BYTES=1000)
def test_the_web_upload_is_refused_over_the_limit_before_it_is_read(staff, api) -> None:
    n = case_in(api, "registered")
    c = staff("agent")
    big = SimpleUploadedFile("big.png", PNG + b"\x00" * (2 * 1024 * 1024))
    r = c.post(f"/cases/{n}/attach", {"files": big})
    assert r.status_code == 413
    r = c.post("/intake/", {"subject": "x", "kind": "complaint", "channel": "phone",
                            "files": SimpleUploadedFile("big.png", PNG + b"\x00" * (2 * 1024 * 1024))})
    assert r.status_code == 413
    assert not Attachment.objects.exists() and Case.objects.count() == 1
