"""Permissions: 404 outside the subtree (exactly like a missing case), 403 for wrong roles."""

from __future__ import annotations

import pytest

from huiyin.cases.models import Case, Event
from huiyin.cases.tests.helpers import case_in
from huiyin.conftest import new_case

pytestmark = pytest.mark.django_db


def test_handler_b_gets_404_on_county_a_cases_like_a_missing_case(api) -> None:
    n = case_in(api, "dispatched")
    missing = api("handler_b").get("/cases/TS20990101-000001")
    for path in (f"/cases/{n}", f"/cases/{n}/timeline"):
        r = api("handler_b").get(path)
        assert r.status_code == 404
        assert r.json() == missing.json()
    r = api("handler_b").act(n, "acknowledge")
    assert r.status_code == 404
    assert Case.objects.get(number=n).state == "dispatched"


def test_handler_a_sees_only_cases_dispatched_to_county_a(api) -> None:
    mine = case_in(api, "dispatched")
    other = new_case(api)["number"]  # still at the centre
    assert api("handler_a").get(f"/cases/{mine}").status_code == 200
    assert api("handler_a").get(f"/cases/{other}").status_code == 404
    numbers = [c["number"] for c in api("handler_a").get("/cases").json()["items"]]
    assert numbers == [mine]
    assert api("handler_b").get("/cases").json()["items"] == []


def test_wrong_role_is_403_and_changes_nothing(api) -> None:
    n = case_in(api, "pending_approval")
    for user in ("agent", "dispatcher", "supervisor", "auditor"):
        r = api(user).act(n, "approve")
        assert r.status_code == 403, user
        assert r.json()["error"]["code"] == "forbidden"
    assert Case.objects.get(number=n).state == "pending_approval"
    assert Event.objects.filter(case__number=n).count() == 2


def test_handlers_cannot_register_or_dispatch(api) -> None:
    r = api("handler_a").post("/cases", {"kind": "complaint", "channel": "phone", "subject": "x"})
    assert r.status_code == 403
    n = new_case(api)["number"]
    assert api("leader").act(n, "dispatch", {"unit": "county_a"}).status_code == 403


def test_allowed_actions_name_only_what_the_caller_may_do_now(api) -> None:
    n = case_in(api, "dispatched")
    assert set(api("handler_a").get(f"/cases/{n}").json()["allowed_actions"]) == {
        "acknowledge", "return", "record_contact",
    }
    assert "acknowledge" not in api("dispatcher").get(f"/cases/{n}").json()["allowed_actions"]
    assert api("auditor").get(f"/cases/{n}").json()["allowed_actions"] == []


def test_reporters_identity_is_hidden_from_the_handling_unit(api) -> None:
    n = case_in(api, "dispatched", kind="report", subject="举报无证经营卷烟",
                complainant={"name": "李四", "phone": "13900139000"})
    assert api("handler_a").get(f"/cases/{n}").json()["complainant"]["name"] == ""
    assert api("handler_a").get(f"/cases/{n}").json()["complainant"]["phone"] == ""
    assert api("dispatcher").get(f"/cases/{n}").json()["complainant"]["name"] == "李四"
    listed = api("dispatcher").get("/cases").json()["items"][0]
    assert listed["complainant"]["phone"] == ""


def test_lists_mask_phone_numbers(api) -> None:
    new_case(api)
    assert api("agent").get("/cases").json()["items"][0]["complainant"]["phone"] == "138****8000"


def test_without_a_token_everything_is_401(api) -> None:
    from django.test import Client

    r = Client().get("/api/v1/cases")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthenticated"
    r = Client().get("/api/v1/cases", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401


def test_token_is_issued_for_the_right_password_only(org) -> None:
    from django.test import Client

    c = Client()
    r = c.post("/api/v1/auth/token", {"username": "agent", "password": "pw-for-tests"}, content_type="application/json")
    assert r.status_code == 200
    token = r.json()["token"]
    assert c.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    r = c.post("/api/v1/auth/token", {"username": "agent", "password": "wrong"}, content_type="application/json")
    assert r.status_code == 401


def test_a_token_request_that_is_not_json_is_invalid_input_as_everywhere_in_the_api(org) -> None:
    from django.test import Client

    c = Client()
    for body, content_type in (('{"username": "agent", ', "application/json"),
                               ("username=agent&password=pw-for-tests", "application/x-www-form-urlencoded")):
        r = c.post("/api/v1/auth/token", body, content_type=content_type)
        assert r.status_code == 422, (body, r.content)
        assert r.json()["error"]["code"] == "invalid_input" and r.json()["error"]["fields"] == {"body": "invalid JSON"}


def test_q_finds_a_case_by_number_phone_or_subject_words(api) -> None:
    a = new_case(api, subject="卷烟配送延误", complainant={"phone": "13800138000"})["number"]
    b = new_case(api, subject="服务态度差", complainant={"phone": "13900139000"})["number"]

    def found(q: str) -> list[str]:
        return [c["number"] for c in api("agent").get("/cases", q=q).json()["items"]]

    assert found(a) == [a]
    assert found(a.lower()) == [a]
    assert found("+86 139-0013-9000") == [b]
    assert found("态度") == [b]
    assert found("没有这样的主题") == []
