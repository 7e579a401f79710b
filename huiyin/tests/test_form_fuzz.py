"""The pages' forms and filters fuzzed (issue 11 item 13): every form the staff pages render — the
list's filters, intake, the lookup, the case's action forms, approvals, the inbox, the privacy
pages, the account page — submitted with hostile values in every field (control characters, NUL,
times at the calendar's edges and beyond, numbers beyond 64 bits, very long text, markup) by the
user who saw it, and by a user of another unit. Nothing answers 5xx; a form naming a case of
another unit answers that unit's outsider 404, whatever it carries.

The forms are read from the rendered pages, so a new form or field is fuzzed without editing this test.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huiyin.tests.security_fixtures import (  # noqa: F401
    REPORTER_PHONE,
    a_report,
    earlier_complaint,
    other_unit_case,
    web_client,
)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
EXAMPLES = 4
SKIP = ("/logout", "/signout-everywhere", "/login")  # end the session or sign in: tested elsewhere

hostile = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=12),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b",
            "\x1b[31m",
            "\x0b\x0c",
            "\r\n",
            "=1+2",
            "@SUM(A1)",
            "-1",
            "0",
            "9" * 30,
            "-" + "9" * 30,
            "1e400",
            "NaN",
            "0001-01-01",
            "9999-12-31",
            "0000-00-00",
            "2026-02-30",
            "9999-12-31T23:59",
            "0001-01-01T00:00",
            "2026-01-01T00:00+23:59",
            "2026-01-01T00:00-99:00",
            "10000-01-01",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "../../etc/passwd",
            "长" * 5000,
            REPORTER_PHONE,
            "13912345678\x00",
        ]
    ),
)


class Forms(HTMLParser):
    """The forms of a page: (method, action, field names), file inputs left out."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page
        self.forms: list[tuple[str, str, list[str]]] = []
        self.current: tuple[str, str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.current = ((a.get("method") or "get").upper(), a.get("action") or self.page, [])
            self.forms.append(self.current)
        elif (
            tag in ("input", "select", "textarea", "button")
            and self.current
            and a.get("name")
            and a.get("type") != "file"
            and a["name"] not in self.current[2]
        ):
            self.current[2].append(a["name"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.current = None


def forms_of(client: Client, page: str) -> list[tuple[str, str, list[str]]]:
    r = client.get(page)
    assert r.status_code == 200, (page, r.status_code)
    parser = Forms(page.split("?")[0])
    parser.feed(r.content.decode())
    return parser.forms


def test_every_form_of_the_pages_survives_hostile_values(web_client, a_report, other_unit_case) -> None:  # noqa: F811
    dispatcher, _ = web_client("dispatcher")
    handler_a, _ = web_client("handler_a")
    outsider, _ = web_client("handler_b")
    pages = [
        "/",
        "/cases/",
        "/intake/",
        "/approvals/",
        "/inbox/",
        "/dashboard/",
        "/board/",
        "/privacy/exports/",
        "/account/security/",
        f"/cases/{other_unit_case}/",
        f"/cases/{a_report}/",
    ]
    found: dict[tuple[str, str], tuple[list[str], list[Client]]] = {}
    for client in (dispatcher, handler_a):
        for page in pages:
            for method, action, fields in forms_of(client, page):
                if any(s in action for s in SKIP) or not action.startswith("/"):
                    continue
                known = found.setdefault((method, action), (fields, []))
                known[1].append(client)
    assert len(found) >= 8, sorted(found)
    assert any("/act/" in action for _, action in found), "the case page's action forms are fuzzed"
    answered: set[int] = set()

    def fuzz(method: str, action: str, fields: list[str], clients: list[Client]) -> None:
        outside = other_unit_case in action

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(values=st.fixed_dictionaries({}, optional=dict.fromkeys(fields, hostile)))
        def submit(values: dict[str, str]) -> None:
            for client in (*clients, outsider):
                send = client.get if method == "GET" else client.post
                r = send(action, values)
                answered.add(r.status_code)
                assert r.status_code < 500, (method, action, values, r.status_code)
                if client is outsider and outside:
                    assert r.status_code == 404, (method, action, values, r.status_code)

        submit()

    for (method, action), (fields, clients) in sorted(found.items(), key=lambda item: item[0]):
        fuzz(method, action, fields, clients)

    assert answered & {200, 302}, "some submissions got through the door"
