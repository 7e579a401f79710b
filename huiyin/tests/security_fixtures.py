"""Fixtures of the security tests (issue 11), imported by the test modules that use them
(`from huiyin.tests.security_fixtures import web_client  # noqa: F401`).

The personas are the demo organisation's (huiyin/conftest.py): what each may see is said there.
`a_report` is a report (举报) registered by the agent and dispatched to county_a, whose reporter
(REPORTER, REPORTER_PHONE) an earlier complaint of the same person also names; `other_unit_case`
is a complaint dispatched to county_a (handler_b must get 404 on it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from huiyin.cases.tests.helpers import case_in

# The suite's receivers (webhooks, group robots, SMS gateways, the e-mail server) listen on loopback:
# allowed, as an operator allows an intranet gateway, for this process and the workers the tests
# start (test_outbound.py checks the refusals with nothing allowed).
LOOPBACK = ["127.0.0.1", "::1", "localhost"]
os.environ.setdefault("HUIYIN_OUTBOUND_ALLOW", ",".join(LOOPBACK))


@pytest.fixture(autouse=True)
def _loopback_receivers_allowed(settings: Any) -> Iterator[None]:
    settings.OUTBOUND_ALLOW = LOOPBACK
    yield


REPORTER = "举报人甲"
REPORTER_PHONE = "13912345678"
REPORTER_ID = "530102199001011234"


@pytest.fixture
def web_client(org: Any) -> Callable[[str], tuple[Client, Any]]:
    """`web_client(username)` → (a test client signed in through the login form, the user)."""

    def as_(username: str) -> tuple[Client, Any]:
        client = Client()
        r = client.post("/login/", {"username": username, "password": "pw-for-tests"})
        assert r.status_code == 302, r.content[:300]
        return client, getattr(org, username)

    return as_


def make_earlier_complaint(api: Any) -> str:
    return case_in(api, "closed", subject="卷烟配送慢", complainant={"name": REPORTER, "phone": REPORTER_PHONE,
                                                                    "id_number": REPORTER_ID})


def make_a_report(api: Any) -> str:
    return case_in(api, "dispatched", kind="report", subject="举报县局A某专卖员违规", description="举报内容",
                   complainant={"name": REPORTER, "phone": REPORTER_PHONE, "id_number": REPORTER_ID})


def make_other_unit_case(api: Any) -> str:
    return case_in(api, "dispatched", subject="县局A的投诉", complainant={"name": "王五", "phone": "13700001111"})


@pytest.fixture
def earlier_complaint(api: Any) -> str:
    """The reporter's earlier complaint (closed), handled by county_a: its handler sees it."""
    return make_earlier_complaint(api)


@pytest.fixture
def a_report(api: Any, earlier_complaint: str) -> str:
    return make_a_report(api)


@pytest.fixture
def other_unit_case(api: Any) -> str:
    return make_other_unit_case(api)


def approved_export(requester: Client, approver: Client, **params: Any) -> Any:
    """The export of the case list under `params` for a requester whose export waits for approval
    (the tobacco preset: 未经批准不得外借): asked with a reason (202), approved by `approver` on the
    export requests page, then fetched once with `export_request=ID`."""
    r = requester.get("/cases/export.xlsx", {**params, "reason": "测试导出"})
    if r.status_code == 200:
        return r  # the requester may approve: no request needed
    assert r.status_code == 202, r.content[:300]
    request_id = r.json()["export_request"]
    assert approver.post(f"/privacy/exports/{request_id}/decide", {"decision": "approve"}).status_code == 302
    return requester.get("/cases/export.xlsx", {**params, "export_request": request_id})


@pytest.fixture
def staff(org: Any) -> Callable[[str], Client]:
    """`staff(username)`: a test client signed in as that persona (force_login, like web/tests' `web`)."""
    cache: dict[str, Client] = {}

    def as_(username: str) -> Client:
        if username not in cache:
            cache[username] = Client()
            cache[username].force_login(getattr(org, username))
        return cache[username]

    return as_
