"""Schemathesis against /api/v1/openapi.json (issue 11 item 13): every operation, fuzzed with data
its schema allows, answered for two users of different units (handler_a of county_a, handler_b of
county_b) — no 5xx, no status, content type or body the document does not describe.

The paths that name a case are fuzzed three ways: with a random number, with a case of county_a
(`other_unit_case`: handler_b must never get a 2xx on it) and with a report (`a_report`: whose
reporter neither handler may learn — no answer to them names the reporter or the phone).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from huiyin.org.tokens import token_issue
from huiyin.tests.security_fixtures import (  # noqa: F401
    REPORTER,
    REPORTER_ID,
    REPORTER_PHONE,
    a_report,
    earlier_complaint,
    other_unit_case,
)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 4  # per operation with a random case number, half that with each fixture case; × 2 users
SECRETS = (REPORTER, REPORTER_PHONE, REPORTER_ID)


@contextmanager
def in_process() -> Iterator[None]:
    """Requests served by the WSGI application in this process, inside the test's transaction:
    as Django's test client does, a request's end does not close the test's database connection
    (entered after the fixtures: each request of the test client connects that handler again)."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


def test_the_api_answers_two_units_as_documented(org: Any, a_report: str, other_unit_case: str) -> None:  # noqa: F811
    with in_process():
        schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
    users = {"handler_a": org.handler_a, "handler_b": org.handler_b}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40, "the document lists the API's operations"
    seen: dict[str, set[int]] = {}

    def fuzz(strategy: Any, number: str | None, label: str) -> None:
        @settings(
            max_examples=EXAMPLES if number is None else EXAMPLES // 2,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            for name, user in users.items():
                # A fresh token each time: DELETE /auth/token may have revoked the last one.
                headers = {"Authorization": f"Bearer {token_issue(user)}"}
                response = case.call(headers=headers)
                case.validate_response(response, checks=CHECKS, headers=headers)
                seen.setdefault(label, set()).add(response.status_code)
                text = response.content.decode("utf-8", "replace")
                leaked = [s for s in SECRETS if s in text]
                assert not leaked, f"{label} as {name} names the reporter: {leaked}"
                if name == "handler_b" and number == other_unit_case:
                    assert response.status_code >= 400, f"{label}: handler_b reached county_a's case"

        with in_process():
            run()

    for operation in operations:
        numbers: list[str | None] = [None]
        if "{number}" in operation.path:
            numbers += [a_report, other_unit_case]
        for number in numbers:
            fuzz(operation.as_strategy(path_parameters={"number": number} if number else None), number, operation.label)

    assert set(seen) == {op.label for op in operations}
    # The fuzzing reached past the door: most operations answered something else than a refusal.
    assert sum(1 for codes in seen.values() if codes & {200, 201, 202}) >= 10, seen
