"""Attachments on disk, checked by size and by what the bytes really are."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from huiyin.cases.models import Attachment, Event
from huiyin.cases.tests.helpers import case_in
from huiyin.conftest import new_case

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _upload(api, user, number, name, content, ctype="application/octet-stream"):
    a = api(user)
    return a.client.post(
        f"/api/v1/cases/{number}/attachments", {"file": SimpleUploadedFile(name, content, content_type=ctype)},
        headers=a.headers,
    )


def test_a_scanned_letter_is_stored_and_downloaded(api, tmp_path) -> None:
    with override_settings(MEDIA_ROOT=tmp_path):
        n = new_case(api, channel="letter")["number"]
        r = _upload(api, "agent", n, "来信扫描.pdf", b"%PDF-1.4 scanned letter")
        assert r.status_code == 201, r.content
        token = r.json()["token"]
        assert r.json()["content_type"] == "application/pdf"
        assert r.json()["name"] == "来信扫描.pdf"
        stored = Attachment.objects.get(token=token)
        assert stored.file.path.startswith(str(tmp_path))
        assert stored.file.name is not None
        assert token in stored.file.name and "来信" not in stored.file.name
        listed = api("dispatcher").get(f"/cases/{n}/attachments").json()["items"]
        assert [a["token"] for a in listed] == [token]
        r = api("dispatcher").get(f"/cases/{n}/attachments/{token}")
        assert b"".join(r.streaming_content) == b"%PDF-1.4 scanned letter"
        assert r["X-Content-Type-Options"] == "nosniff"
        assert Event.objects.filter(case__number=n, action="attach").count() == 1


def test_files_of_other_types_or_too_large_are_refused(api, tmp_path) -> None:
    with override_settings(MEDIA_ROOT=tmp_path, ATTACHMENT_MAX_BYTES=1000):
        n = new_case(api)["number"]
        r = _upload(api, "agent", n, "photo.png", b"MZ\x90\x00" + b"\x00" * 100, "image/png")  # an .exe
        assert r.status_code == 422
        assert r.json()["error"]["fields"] == {"file": "type not allowed"}
        r = _upload(api, "agent", n, "big.png", PNG + b"\x00" * 2000, "image/png")
        assert r.status_code == 422
        assert r.json()["error"]["fields"] == {"file": "too large"}
        r = _upload(api, "agent", n, "ok.png", PNG, "image/png")
        assert r.status_code == 201
        assert Attachment.objects.count() == 1


def test_attachments_follow_case_visibility(api, tmp_path) -> None:
    with override_settings(MEDIA_ROOT=tmp_path):
        n = case_in(api, "dispatched")
        token = _upload(api, "agent", n, "p.png", PNG).json()["token"]
        assert api("handler_a").get(f"/cases/{n}/attachments/{token}").status_code == 200
        assert api("handler_b").get(f"/cases/{n}/attachments/{token}").status_code == 404
        assert _upload(api, "handler_b", n, "p.png", PNG).status_code == 404
        assert _upload(api, "auditor", n, "p.png", PNG).status_code == 403
        assert api("handler_a").get(f"/cases/{n}/attachments/nope").status_code == 404


def test_classify_sets_category_and_severity_on_the_timeline(api) -> None:
    n = new_case(api)["number"]
    r = api("dispatcher").act(n, "classify", {"category": "logistics_delivery", "severity": "major"})
    assert r.json()["category"] == "logistics_delivery"
    assert r.json()["severity"] == "major"
    ev = Event.objects.get(case__number=n, action="classify")
    assert ev.changes == {"category": [None, "logistics_delivery"], "severity": ["general", "major"]}
    assert api("dispatcher").act(n, "classify", {"category": "nope"}).status_code == 422
    assert api("handler_a").act(n, "classify", {"severity": "general"}).status_code == 404


def test_the_category_tree_is_listed(api) -> None:
    items = api("agent").get("/categories").json()["items"]
    assert {"code": "logistics_delivery", "name": "配送时效", "children": []} in items


def test_timeline_events_cannot_be_changed(api) -> None:
    n = new_case(api)["number"]
    ev = Event.objects.get(case__number=n)
    with pytest.raises(RuntimeError):
        ev.save()
    with pytest.raises(RuntimeError):
        ev.delete()
    from django.db import DatabaseError, connection, transaction

    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic():
            Event.objects.filter(pk=ev.pk).update(comment="rewritten")
        with pytest.raises(DatabaseError), transaction.atomic():
            Event.objects.filter(pk=ev.pk).delete()
