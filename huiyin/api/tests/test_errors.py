"""Bad input of any kind: a clear 4xx JSON error naming the fields, and nothing changes."""

from __future__ import annotations

import pytest

from huiyin.cases.models import Case, Event
from huiyin.cases.tests.helpers import case_in
from huiyin.conftest import COMPLAINT

pytestmark = pytest.mark.django_db


def _error(r) -> dict:
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**COMPLAINT, "kind": "grievance"}, "kind"),
        ({**COMPLAINT, "channel": 7}, "channel"),
        ({**COMPLAINT, "subject": ""}, "subject"),
        ({**COMPLAINT, "subject": "长" * 5000}, "subject"),
        ({**COMPLAINT, "description": "x" * 100_000}, "description"),
        ({**COMPLAINT, "amount": "lots"}, "amount"),
        ({**COMPLAINT, "amount": -5}, "amount"),
        ({**COMPLAINT, "people_count": 0}, "people_count"),
        ({**COMPLAINT, "flags": ["media", "aliens"]}, "flags.1"),
        ({**COMPLAINT, "received_at": "2026-02-30T10:00:00+08:00"}, "received_at"),
        ({**COMPLAINT, "received_at": "2026-02-03T10:00:00"}, "received_at"),
        ({**COMPLAINT, "received_at": "2999-01-01T10:00:00+08:00"}, "received_at"),
        ({**COMPLAINT, "colour": "blue"}, "colour"),
        ({**COMPLAINT, "complainant": {"name": "x", "shoe_size": 42}}, "complainant.shoe_size"),
        ({**COMPLAINT, "complainant": {"phone": "call me maybe"}}, "complainant.phone"),
        ({**COMPLAINT, "complainant": "张三"}, "complainant"),
        ({**COMPLAINT, "category": "no-such-category"}, "category"),
        ({"kind": "complaint"}, "channel"),
    ],
)
def test_bad_case_fields_are_422_and_nothing_is_created(api, body, field) -> None:
    r = api("agent").post("/cases", body)
    assert r.status_code == 422, r.content
    err = _error(r)
    assert err["code"] == "invalid_input"
    assert field in err["fields"], err
    assert Case.objects.count() == 0


@pytest.mark.parametrize("raw", ["{", "[1, 2]", "null", "\"text\"", "{\"kind\": }", "\xff\xfe"])
def test_broken_json_is_422(api, raw) -> None:
    r = api("agent").post("/cases", raw=raw)
    assert r.status_code == 422
    _error(r)
    assert Case.objects.count() == 0


def test_bad_action_bodies_are_422_and_change_nothing(api) -> None:
    n = case_in(api, "registered")
    before = Event.objects.count()
    cases = [
        ("dispatch", {}, "unit"),
        ("dispatch", {"unit": "atlantis"}, "unit"),
        ("dispatch", {"unit": "county_a", "priority": "high"}, "priority"),
        ("dispatch", {"unit": "county_a", "expected_version": "one"}, "expected_version"),
        ("mark_invalid", {"reason": ""}, "reason"),
        ("link", {"to": 12}, "to"),
        ("dispatch", [], "body"),  # not an object: never read as an empty one
        ("dispatch", "", "body"),
        ("dispatch", 0, "body"),
    ]
    for action, body, field in cases:
        r = api("dispatcher").act(n, action, body)
        assert r.status_code == 422, (action, body, r.content)
        assert field in _error(r)["fields"], (action, body)
    r = api("dispatcher").act(n, "explode")
    assert r.status_code == 404
    _error(r)
    assert Event.objects.count() == before
    assert Case.objects.get(number=n).state == "registered"


def test_stale_expected_version_is_a_409_conflict(api) -> None:
    n = case_in(api, "registered")
    version = api("dispatcher").get(f"/cases/{n}").json()["version"]
    assert api("agent").act(n, "urge", {"expected_version": version}).status_code == 200
    r = api("dispatcher").act(n, "dispatch", {"unit": "county_a", "expected_version": version})
    assert r.status_code == 409
    assert _error(r)["code"] == "conflict"
    assert Case.objects.get(number=n).state == "registered"


def test_wrong_state_is_a_409(api) -> None:
    n = case_in(api, "registered")
    r = api("handler_a").act(n, "acknowledge")
    assert r.status_code == 404  # not even visible to the county yet
    r = api("leader").act(n, "approve")
    assert r.status_code == 409
    assert _error(r)["code"] == "invalid_transition"


@pytest.mark.parametrize(
    "query",
    [
        {"state": "sleeping"},
        {"limit": 0},
        {"limit": 100000},
        {"overdue": "perhaps"},
        {"cursor": "abc"},
        {"unit": "atlantis"},
        {"q": "x" * 1000},
    ],
)
def test_bad_list_filters_are_422(api, query) -> None:
    r = api("agent").get("/cases", **query)
    assert r.status_code == 422, r.content
    _error(r)


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/calendar/day", {"date": "2026-13-01"}),
        ("/calendar/day", {}),
        ("/calendar/deadline", {"start": "yesterday", "amount": 1, "unit": "working_days"}),
        ("/calendar/deadline", {"start": "2026-02-13T09:00:00+08:00", "amount": -1, "unit": "working_days"}),
        ("/calendar/deadline", {"start": "2026-02-13T09:00:00+08:00", "amount": 1, "unit": "fortnights"}),
    ],
)
def test_bad_calendar_queries_are_422(api, path, query) -> None:
    r = api("agent").get(path, **query)
    assert r.status_code == 422, r.content
    _error(r)


def test_unknown_api_paths_and_methods_are_json(api) -> None:
    r = api("agent").get("/nothing-here")
    assert r.status_code == 404
    _error(r)
    r = api("agent").client.delete("/api/v1/cases", headers=api("agent").headers)
    assert r.status_code == 405
    _error(r)


def test_the_api_root_is_a_json_404(api) -> None:
    r = api("agent").client.get("/api/v1/")
    assert r.status_code == 404
    assert _error(r)["code"] == "not_found"
