"""Who complained, and who reported (issue 11 items 1–3, 9): identities sealed at rest, found only by
exact keyed hashes and only by roles that may read them; a report never linked by identity; no
reference to a case its reader gets 404 on; one identity rule everywhere.

`a_report` (huiyin/tests/security_fixtures.py): a report dispatched to county_a whose reporter
(REPORTER, REPORTER_PHONE) also filed `earlier_complaint`, closed, handled by county_a.
"""

from __future__ import annotations

import base64
import os
from io import StringIO
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings

from huiyin.cases import workflow
from huiyin.cases.models import Attachment, Case, Event
from huiyin.cases.tests.helpers import case_in, query_plan
from huiyin.conftest import new_case
from huiyin.org import crypto
from huiyin.org.models import AuditEntry
from huiyin.tests.security_fixtures import REPORTER, REPORTER_ID, REPORTER_PHONE

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def found(api: Any, user: str, q: str) -> list[str]:
    return [c["number"] for c in api(user).get("/cases", q=q).json()["items"]]


def raw(number: str, *columns: str) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM cases_case WHERE number = %s", [number])  # noqa: S608
        row = cursor.fetchone()
    assert row is not None
    return tuple(row)


def test_identities_are_sealed_at_rest_with_keyed_hashes_beside_them(api) -> None:
    n = new_case(api, complainant={"name": "张三", "phone": "13800138000", "email": "zs@example.com",
                                   "address": "昆明市五华区某路1号", "account": "RT-0001", "id_number": REPORTER_ID},
                 representatives=[{"name": "代表甲", "phone": "13900000001"}])["number"]
    stored = raw(n, "complainant_name", "complainant_phone", "complainant_email", "complainant_address",
                 "complainant_account", "complainant_id_number", "representatives", "complainant_phone_hash")
    text = " ".join(str(v) for v in stored)
    for plain in ("张三", "13800138000", "zs@example.com", "五华区", "RT-0001", REPORTER_ID, "代表甲", "13900000001"):
        assert plain not in text, plain
    assert all(str(v).startswith("hy1:") for v in stored[:7])
    assert len(stored[7]) == 32
    case = Case.objects.get(number=n)
    assert case.complainant_name == "张三" and case.representatives[0]["name"] == "代表甲"


def test_an_empty_identity_field_has_no_hash_and_every_search_uses_its_partial_index(api) -> None:
    """An intake without an e-mail, account or ID number stores no hash for them (NULL), so it
    writes no entry in their indexes; each search by a value still goes through its index,
    whose condition (`IS NOT NULL`) the search implies — also with the value as a parameter."""
    from huiyin.cases import identity

    values = {"name": "张三", "phone": "13800138000", "email": "zs@example.com", "account": "RT-0001",
              "id_number": REPORTER_ID}
    full = new_case(api, complainant=values)["number"]
    bare = new_case(api, complainant={"name": "李四", "phone": "13900139000"})["number"]
    columns = [identity.hash_column(f) for f in identity.HASHED]
    assert all(len(h) == 32 for h in raw(full, *columns))
    stored = dict(zip(identity.HASHED, raw(bare, *columns), strict=True))
    assert stored["complainant_name"] and stored["complainant_phone"]
    assert stored["complainant_email"] is stored["complainant_account"] is stored["complainant_id_number"] is None
    index = {"complainant_name": "case_name_hash", "complainant_phone": "case_phone_hash",
             "complainant_email": "case_email_hash", "complainant_account": "case_account_hash",
             "complainant_id_number": "case_id_number_hash"}
    for field, name in index.items():
        qs = Case.objects.filter(identity.matches(field, values[field.removeprefix("complainant_")]))
        assert list(qs.values_list("number", flat=True)) == [full]
        plan = query_plan(qs.values("id"))
        assert name in plan, (field, plan)


def test_a_sealed_value_moved_to_another_column_does_not_open(api) -> None:
    n = new_case(api, complainant={"name": "张三", "phone": "13800138000"})["number"]
    name, = raw(n, "complainant_name")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE cases_case SET complainant_phone = %s WHERE number = %s", [name, n])
    with pytest.raises(crypto.Tampered):
        Case.objects.get(number=n).complainant_phone  # noqa: B018


def test_exact_search_by_phone_and_name_works_for_roles_that_may_read_them(api) -> None:
    n = case_in(api, "dispatched", complainant={"name": "王 五", "phone": "13700001111", "account": "440100012345"})
    for who in ("agent", "dispatcher", "leader", "handler_a"):
        assert found(api, who, "137-0000-1111") == [n], who
        assert found(api, who, "王五") == [n], who
        assert found(api, who, "440100012345") == [n], who
    for who in ("auditor", "handler_b"):
        assert found(api, who, "13700001111") == [], who
        assert found(api, who, "王五") == [], who


def test_a_guessed_phone_or_name_confirms_no_report_to_the_reported_unit(api, a_report, earlier_complaint) -> None:
    """The reported unit (handler_a) sees the report itself, never its reporter: searching the
    reporter's phone or name finds the earlier complaint they may read, not the report."""
    for q in (REPORTER_PHONE, REPORTER, REPORTER_ID):
        assert a_report not in found(api, "handler_a", q), q
        assert a_report not in found(api, "auditor", q), q
    assert set(found(api, "dispatcher", REPORTER_PHONE)) == {a_report, earlier_complaint}
    assert found(api, "handler_a", REPORTER_PHONE) == [earlier_complaint]


def test_a_report_is_never_linked_to_the_reporters_other_cases(api, a_report, earlier_complaint) -> None:
    report = api("dispatcher").get(f"/cases/{a_report}").json()
    assert report["repeat_of"] is None and "repeat" not in report["tags"]
    assert not Event.objects.filter(case__number=a_report, action="repeat").exists()
    # and a complaint after a closed report is not linked to it either
    closed_report = case_in(api, "closed", kind="report", complainant={"name": "赵六", "phone": "13600002222"})
    later = new_case(api, complainant={"name": "赵六", "phone": "13600002222"})
    assert later["repeat_of"] is None and "repeat" not in later["tags"], closed_report


def test_complaints_are_still_linked_as_repeats(api) -> None:
    first = case_in(api, "closed", complainant={"name": "钱七", "phone": "13500003333"})
    again = new_case(api, complainant={"name": "钱七", "phone": "135 0000 3333"})
    assert again["repeat_of"] == first and "repeat" in again["tags"]


def test_the_intake_lookup_is_for_the_roles_that_take_calls(staff: Any, api, a_report) -> None:
    for who in ("handler_a", "auditor", "leader", "supervisor"):
        r = staff(who).get("/intake/lookup", {"complainant_phone": REPORTER_PHONE})
        assert r.status_code == 403, who
        assert a_report not in r.content.decode()
    html = staff("agent").get("/intake/lookup", {"complainant_phone": REPORTER_PHONE}).content.decode()
    assert a_report in html  # the centre takes the reporter's calls


def test_the_case_pages_caller_history_never_shows_a_report_to_the_reported_unit(staff: Any, api, a_report,
                                                                                   earlier_complaint) -> None:
    html = staff("handler_a").get(f"/cases/{earlier_complaint}/").content.decode()
    assert a_report not in html
    page = staff("handler_a").get(f"/cases/{a_report}/").content.decode()
    assert REPORTER not in page and REPORTER_PHONE not in page and REPORTER_PHONE[-4:] not in page
    assert earlier_complaint not in page


def test_references_name_only_cases_the_reader_may_see(api, staff: Any) -> None:
    handled = case_in(api, "dispatched")  # county_a sees it
    elsewhere = new_case(api, subject="中心未派的工单")["number"]  # only the centre and the bureau see it
    assert api("agent").act(handled, "link", {"to": elsewhere}).status_code == 200
    assert api("dispatcher").get(f"/cases/{handled}").json()["links"] == [elsewhere]
    facts = api("handler_a").get(f"/cases/{handled}").json()
    assert facts["links"] == []
    timeline = api("handler_a").get(f"/cases/{handled}/timeline").json()["events"]
    assert elsewhere not in str(timeline)
    assert elsewhere not in staff("handler_a").get(f"/cases/{handled}/").content.decode()
    assert elsewhere in staff("dispatcher").get(f"/cases/{handled}/").content.decode()


def test_a_link_between_a_report_and_a_complaint_is_hidden_from_who_may_not_know_the_reporter(api, a_report) -> None:
    complaint = case_in(api, "dispatched")
    assert api("agent").act(complaint, "link", {"to": a_report}).status_code == 200
    assert api("handler_a").get(f"/cases/{complaint}").json()["links"] == []
    assert api("handler_a").get(f"/cases/{a_report}").json()["links"] == []
    assert a_report not in str(api("handler_a").get(f"/cases/{complaint}/timeline").json())
    assert api("dispatcher").get(f"/cases/{complaint}").json()["links"] == [a_report]


def test_merged_into_a_case_the_reader_cannot_see_reads_as_absent(api) -> None:
    handled = case_in(api, "dispatched")
    target = new_case(api, subject="合并目标")["number"]
    assert api("dispatcher").act(handled, "merge", {"into": target}).status_code == 200
    assert api("dispatcher").get(f"/cases/{handled}").json()["merged_into"] == target
    assert api("handler_a").get(f"/cases/{handled}").status_code in (200, 404)
    seen = api("handler_a").get(f"/cases/{handled}")
    if seen.status_code == 200:
        assert seen.json()["merged_into"] is None


def test_a_reports_letter_is_only_for_who_may_know_the_reporter(api, a_report, settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path

    def upload(user: str, name: str) -> Any:
        return Client().post(f"/api/v1/cases/{a_report}/attachments", {"file": SimpleUploadedFile(name, PNG)},
                             headers=api(user).headers)

    letter = upload("agent", "举报人甲的举报信.png").json()
    photo = upload("handler_a", "现场照片.png").json()
    assert {a["token"] for a in api("dispatcher").get(f"/cases/{a_report}/attachments").json()["items"]} == {
        letter["token"], photo["token"]}
    assert [a["token"] for a in api("handler_a").get(f"/cases/{a_report}/attachments").json()["items"]] == [
        photo["token"]]
    assert api("handler_a").get(f"/cases/{a_report}/attachments/{letter['token']}").status_code == 404
    assert "举报人甲" not in str(api("handler_a").get(f"/cases/{a_report}/timeline").json())
    r = api("dispatcher").get(f"/cases/{a_report}/attachments/{letter['token']}")
    assert b"".join(r.streaming_content) == PNG
    on_disk = next(p for p in tmp_path.rglob("*") if p.is_file() and letter["token"] in p.name)
    assert PNG[8:20] not in on_disk.read_bytes()[16:] and on_disk.read_bytes().startswith(b"HYF1")
    assert oct(on_disk.stat().st_mode & 0o777) == "0o600"
    assert oct(on_disk.parent.stat().st_mode & 0o777) == "0o700"


def test_every_view_of_a_reporter_is_in_the_audit_log(api, a_report) -> None:
    before = AuditEntry.objects.filter(action="identity_view", target=a_report).count()
    api("dispatcher").get(f"/cases/{a_report}")
    api("handler_a").get(f"/cases/{a_report}")  # sees no identity: nothing revealed
    entries = AuditEntry.objects.filter(action="identity_view", target=a_report)
    assert entries.count() == before + 1 and entries.order_by("id").last().actor_name == "dispatcher"


def test_the_timeline_says_an_identity_changed_never_to_what(api, org) -> None:
    n = case_in(api, "closed", complainant={"name": "孙八", "phone": "13400004444"})
    case = Case.objects.get(number=n)
    workflow.correct_identity(case, actor=org.dispatcher, values={"complainant_phone": "13400005555"})
    event = Event.objects.filter(case=case, action="correct_identity").get()
    assert event.changes == {"complainant_phone": ["***", "***"]}
    assert "13400005555" not in str(api("dispatcher").get(f"/cases/{n}/timeline").json())
    assert found(api, "dispatcher", "13400005555") == [n] and found(api, "dispatcher", "13400004444") == []


def test_lists_decrypt_only_what_they_show(api, monkeypatch) -> None:
    for i in range(30):
        new_case(api, complainant={"name": f"客户{i}", "phone": f"1380000{i:04d}", "email": f"c{i}@example.com",
                                   "address": "某地址", "id_number": REPORTER_ID})
    opened: list[str] = []
    real = crypto.unseal

    def spy(token: str, *, purpose: str) -> str:
        opened.append(purpose)
        return real(token, purpose=purpose)

    monkeypatch.setattr(crypto, "unseal", spy)
    items = api("agent").get("/cases", limit=25).json()["items"]
    assert len(items) == 25
    assert sorted(set(opened)) == ["cases.case.complainant_name", "cases.case.complainant_phone"]
    assert len(opened) == 50


def test_keys_rotate_without_losing_a_value_or_a_search(api, settings) -> None:
    old = list(settings.ENCRYPTION_KEYS)
    n = new_case(api, complainant={"name": "周九", "phone": "13300006666"})["number"]
    new_key = os.urandom(32)
    settings.ENCRYPTION_KEYS = [new_key, *old]  # a new key first, the old one still listed
    assert Case.objects.get(number=n).complainant_name == "周九"
    assert found(api, "agent", "13300006666") == [n], "hashes under the old key still found"
    out = StringIO()
    call_command("keys", "rotate", stdout=out)
    assert "re-sealed" in out.getvalue()
    settings.ENCRYPTION_KEYS = [new_key]  # the old key removed
    assert Case.objects.get(number=n).complainant_name == "周九"
    assert found(api, "agent", "13300006666") == [n]
    assert crypto.sealed_with(raw(n, "complainant_name")[0]) == crypto.newest().kid
    check = StringIO()
    call_command("keys", "check", stdout=check)
    assert "everything is under the newest key" in check.getvalue()


def test_a_missing_key_is_a_clear_configuration_error(api, settings) -> None:
    n = new_case(api, complainant={"name": "吴十", "phone": "13300007777"})["number"]
    settings.ENCRYPTION_KEYS = [os.urandom(32)]
    with pytest.raises(crypto.KeyMissing):
        Case.objects.get(number=n).complainant_name  # noqa: B018


def test_the_migration_seals_rows_stored_in_clear(api) -> None:
    import importlib

    from django.apps import apps

    n = new_case(api, complainant={"name": "旧数据", "phone": "13200008888"})["number"]
    with connection.cursor() as cursor:  # as a row stored before issue 11
        cursor.execute("UPDATE cases_case SET complainant_name = %s, complainant_phone = %s, "
                       "complainant_phone_hash = '' WHERE number = %s", ["旧数据", "13200008888", n])
    assert Case.objects.get(number=n).complainant_name == "旧数据"  # read as it is meanwhile
    migration = importlib.import_module("huiyin.cases.migrations.0015_identity_sealed_with_search_hashes")
    migration.seal_existing(apps, connection.schema_editor().__class__(connection))
    name, phone, phone_hash = raw(n, "complainant_name", "complainant_phone", "complainant_phone_hash")
    assert name.startswith("hy1:") and phone.startswith("hy1:") and len(phone_hash) == 32
    assert found(api, "agent", "13200008888") == [n]


def test_keys_are_generated_and_checked(settings) -> None:
    out = StringIO()
    call_command("keys", "generate", stdout=out)
    key = out.getvalue().strip()
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert crypto.parse_keys(f"{key}, {key}") == [base64.urlsafe_b64decode(key)] * 2
    for bad in ("not-base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(Exception, match="HUIYIN_ENCRYPTION_KEYS"):
            crypto.parse_keys(bad)


@override_settings(ATTACHMENT_MAX_BYTES=400_000)
def test_a_sealed_file_round_trips_across_chunks(tmp_path) -> None:
    from huiyin.org.crypto import CHUNK, SealedReader, seal_stream

    for size in (0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK):
        data = os.urandom(size)
        sealed = b"".join(seal_stream([data[i:i + 1000] for i in range(0, len(data), 1000)] or [b""], purpose="t"))
        path = tmp_path / f"f{size}"
        path.write_bytes(sealed)
        with path.open("rb") as raw_file:
            assert SealedReader(raw_file, purpose="t").read() == data
        with path.open("rb") as raw_file, pytest.raises(crypto.Tampered):
            SealedReader(raw_file, purpose="other purpose").read()
        path.write_bytes(sealed[:-1])
        with path.open("rb") as raw_file, pytest.raises(crypto.Tampered):
            SealedReader(raw_file, purpose="t").read()
    assert Attachment.objects.count() == 0
