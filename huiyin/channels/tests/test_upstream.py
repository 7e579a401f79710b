"""Upstream and regulator transfers, the whole round trip against a local fake upstream: the
platform pushes a case with its own reference and deadline (which caps our clocks), we handle
it, and the result goes back in the platform's format — retried after the platform answered 500,
until it acknowledges."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from huiyin.cases.models import Case
from huiyin.cases.tests.helpers import RESULT
from huiyin.channels.models import Transfer, Upstream
from huiyin.channels.upstream import report_upstream
from huiyin.conftest import COMPLAINT, Api, bj
from huiyin.org.models import User

pytestmark = pytest.mark.django_db


class FakeUpstream:
    """A platform's result endpoint: answers from `answers` in turn (then the last one), records
    every request with its headers and body."""

    def __init__(self, answers: list[tuple[int, dict[str, Any]]]) -> None:
        self.answers = list(answers)
        self.received: list[tuple[dict[str, str], bytes]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.received.append((dict(self.headers.items()), body))
                status, answer = fake.answers.pop(0) if len(fake.answers) > 1 else fake.answers[0]
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/results"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    server = FakeUpstream([(500, {"error": "busy"}), (200, {"code": "0", "msg": "ok"})])
    yield server
    server.close()


def add_upstream(fmt: str, url: str) -> tuple[Upstream, Api]:
    out = call_command("upstream", "add", "province", "--name", "省客服中心", "--url", url, "--secret", "s3cret",
                       "--format", fmt, "--unit", "centre")
    assert "upstream-province" in out
    upstream = Upstream.objects.get(code="province")
    return upstream, Api(upstream.user)


def test_a_transferred_case_goes_back_to_its_platform_until_acknowledged(org, api, fake) -> None:
    _upstream, platform = add_upstream("hotline", fake.url)
    with time_machine.travel(bj(2026, 3, 2, 9, 0), tick=False) as clock:
        r = platform.post("/transfers", {**COMPLAINT, "upstream_ref": "SX-2026-000777",
                                         "upstream_due_at": "2026-03-03T12:00:00+08:00"})
        assert r.status_code == 201, r.content
        accepted = r.json()
        # the tobacco preset gives a provincial ticket 3 working days; the platform wants it by noon tomorrow
        assert accepted["resolve_due_at"] is None or accepted["resolve_due_at"] <= "2026-03-03T12:00:00+08:00"
        n = accepted["number"]
        case = Case.objects.get(number=n)
        assert case.channel == "upstream" and case.upstream_ref == "SX-2026-000777"
        # pushed again (the platform's retry): the same case
        again = platform.post("/transfers", {**COMPLAINT, "upstream_ref": "SX-2026-000777",
                                             "upstream_due_at": "2026-03-03T12:00:00+08:00"})
        assert again.status_code == 200 and again.json()["number"] == n
        assert Case.objects.filter(upstream_ref="SX-2026-000777").count() == 1
        api("dispatcher").act(n, "dispatch", {"unit": "county_a"})
        api("leader").act(n, "approve")
        body = api("handler_a").act(n, "acknowledge").json()
        resolve = next(d for d in body["deadlines"] if d["timer"] == "resolve")
        assert resolve["due_at"] == "2026-03-03T12:00:00+08:00" and resolve["capped_by"] == "upstream"
        api("handler_a").act(n, "submit_result", {**RESULT, "reply": "已补送并致歉"})
        api("dispatcher").act(n, "review", {"accept": True})
        api("agent").act(n, "callback", {"satisfaction": "satisfied"})
        api("leader").act(n, "close")
        assert report_upstream() == 2  # written, sent once (500)
        t = Transfer.objects.get(case__number=n)
        assert t.report_state == "pending" and t.report_attempts == 1 and "HTTP 500" in t.report_last_error
        assert report_upstream() == 0  # not due yet: back-off
        clock.shift(timedelta(seconds=31))
        assert report_upstream() == 1
        t.refresh_from_db()
        assert t.report_state == "sent" and t.report_attempts == 2
        assert len(fake.received) == 2
        headers, raw = fake.received[-1]
        sent = json.loads(raw)
        assert sent["ticketId"] == "SX-2026-000777" and sent["localId"] == n and sent["status"] == "办结"
        assert sent["handleResult"] == "已补送并致歉" and sent["handleDept"] == "县局A" and sent["satisfaction"] == "满意"
        expected = hmac.new(b"s3cret", headers["X-Huiyin-Timestamp"].encode() + b"." + raw, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Huiyin-Signature"], expected)
        assert fake.received[0][1] == raw  # the retry sends the same report
        assert report_upstream() == 0  # acknowledged: never again


def test_a_200_without_the_acknowledgement_is_retried_and_a_refusal_gives_up(org, api) -> None:
    server = FakeUpstream([(200, {"code": "E102", "msg": "sign error"}), (404, {})])
    try:
        _upstream, platform = add_upstream("hotline", server.url)
        n = platform.post("/transfers", {**COMPLAINT, "upstream_ref": "R-1",
                                         "upstream_due_at": "2027-12-31T17:00:00+08:00"}).json()["number"]
        api("dispatcher").act(n, "mark_invalid", {"reason": "重复反映"})
        report_upstream()
        t = Transfer.objects.get(case__number=n)
        assert t.report_state == "pending" and "code 'E102'" in t.report_last_error
        with time_machine.travel(timezone.now() + timedelta(seconds=31)):
            report_upstream()
        t.refresh_from_db()
        assert t.report_state == "dead"  # 404: the platform will never take it; an administrator decides
        assert "1 report(s) queued again" in call_command("upstream", "retry", "province")
    finally:
        server.close()


def test_only_a_platform_pushes_and_it_must_give_its_reference_and_deadline(org, api) -> None:
    _upstream, platform = add_upstream("huiyin", "http://127.0.0.1:9/never")
    assert api("agent").post("/transfers", {**COMPLAINT, "upstream_ref": "X"}).status_code == 403
    r = platform.post("/transfers", COMPLAINT)
    assert r.status_code == 422 and "upstream_ref" in r.json()["error"]["fields"]
    r = platform.post("/transfers", {**COMPLAINT, "upstream_ref": "X"})
    assert r.status_code == 422 and "upstream_due_at" in r.json()["error"]["fields"]
    assert Client().post("/api/v1/transfers", "{}", content_type="application/json").status_code == 401
    assert platform.post("/transfers", raw="{").status_code == 422
    # the account's password was printed once; it takes tokens like any integration
    assert User.objects.get(username="upstream-province").has_usable_password()
    assert "province" in call_command("upstream", "list")


@pytest.mark.django_db
def test_an_upstream_without_a_unit_where_the_portal_has_none_is_refused_clearly(org: Any, settings: Any) -> None:
    settings.PORTAL_INTAKE_UNIT = "no_such_unit"
    with pytest.raises(CommandError, match="names no active unit.*--unit"):
        call_command("upstream", "add", "province", "--name", "省客服中心", "--url", "http://127.0.0.1:9/",
                     "--secret", "s3cret")
    assert not Upstream.objects.exists()
