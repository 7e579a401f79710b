"""The URL coverage check (huiyin/tests/url_coverage.py, run by huiyin/tests/plugin.py after a run
of the whole suite): what it counts as a pattern, which pattern a request counts for, and that
it reports what was never requested."""

from __future__ import annotations

import pytest
from django.test import Client

from huiyin.api.tests.schema_check import document
from huiyin.cases.workflow import ACTIONS
from huiyin.tests import plugin
from huiyin.tests.url_coverage import EXEMPT, key_of, keys, route_of, untested


@pytest.fixture
def doc():
    return document().doc


def test_it_counts_every_page_and_every_api_operation(doc) -> None:
    every = keys(doc)
    for page in ("/", "/cases/", "/cases/<str:number>/", "/cases/<str:number>/act/<str:action>", "/intake/",
                 "/login/", "/healthz", "/i18n/setlang/", "/api/v1/openapi.json", "/api/v1/docs"):
        assert page in every, page
    for operation in ("POST /api/v1/cases", "GET /api/v1/cases", "GET /api/v1/cases/{number}",
                      "GET /api/v1/cases/{number}/attachments/{token}", "POST /api/v1/notifications/{item_id}/read"):
        assert operation in every, operation
    assert {f"POST /api/v1/cases/{{number}}/actions/{name}" for name in ACTIONS} <= every
    assert not [k for k in every if "/api/" in k and ("{action}" in k or "<action>" in k)]
    assert not [k for k in every if k.startswith("/admin/")]  # Django's own views


def test_a_request_counts_for_its_pattern_or_operation(doc) -> None:
    def key(method: str, path: str) -> str | None:
        route = route_of(path)
        assert route is not None, path
        return key_of(method, path, route, doc)

    assert key("GET", "/cases/TS20260213-000001/") == "/cases/<str:number>/"
    assert key("POST", "/cases/TS20260213-000001/act/dispatch") == "/cases/<str:number>/act/<str:action>"
    assert key("GET", "/api/v1/cases/TS20260213-000001") == "GET /api/v1/cases/{number}"
    assert key("POST", "/api/v1/cases") == "POST /api/v1/cases"
    assert key("POST", "/api/v1/cases/TS20260213-000001/actions/approve") == \
        "POST /api/v1/cases/{number}/actions/approve"
    assert key("POST", "/api/v1/cases/TS20260213-000001/actions/explode") is None  # no such operation
    assert key("DELETE", "/api/v1/cases") is None  # a 405: no operation
    assert key("GET", "/api/v1/openapi.json") == "/api/v1/openapi.json"
    assert route_of("/nothing/here/") is None


def test_it_reports_what_no_test_requested(doc) -> None:
    every = keys(doc)
    assert untested(every, doc) == []
    left = untested(every - {"GET /api/v1/calendar/day", "/board/"}, doc)
    assert left == sorted({"GET /api/v1/calendar/day", "/board/"} - set(EXEMPT))


def test_every_exemption_names_a_pattern_and_says_why(doc) -> None:
    every = keys(doc)
    for key, reason in EXEMPT.items():
        assert key in every, f"EXEMPT names {key!r}, which is no pattern any more"
        assert len(reason.split()) >= 3, f"EXEMPT {key!r}: say why"


def test_the_plugin_records_requests_that_were_answered(api) -> None:
    Client().get("/healthz")
    api("agent").get("/calendar/day", date="2026-02-14")
    assert {"/healthz", "GET /api/v1/calendar/day"} <= plugin._requested


@pytest.mark.django_db
def test_an_error_answer_alone_does_not_count() -> None:
    seen = set(plugin._requested)
    plugin._requested.clear()
    try:
        assert Client().get("/api/v1/calendar/deadline", {"amount": 1}).status_code == 401  # no token
        assert Client().get("/cases/TS20260213-000001/files/nope").status_code == 302  # to the login page
        assert plugin._requested == {"/cases/<str:number>/files/<str:token>"}
    finally:
        plugin._requested.update(seen)
