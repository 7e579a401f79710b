"""From a workflow action to a signed webhook on a local server and to the handler's inbox."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from huiyin.cases.tests.helpers import case_in
from huiyin.notify.tests.fakes import WebhookReceiver
from huiyin.notify.tests.servers import LocalHTTPServer

pytestmark = pytest.mark.django_db


def test_a_dispatch_reaches_a_webhook_and_the_county_inbox(api) -> None:
    receiver = WebhookReceiver("s3cret", script=[500])  # the first delivery fails, and is retried
    with LocalHTTPServer(receiver) as server:
        call_command("webhook", "add", server.url, "--secret", "s3cret",
                     "--events", "case.dispatched,case.approval_needed")
        n = case_in(api, "dispatched")
        call_command("worker", "--once")
        assert receiver.bad_signatures == 0
        events = sorted(b["event"] for b in receiver.bodies)
        assert events == ["case.approval_needed", "case.dispatched"]
        assert {b["case_number"] for b in receiver.bodies} == {n}
        timeline = api("dispatcher").get(f"/cases/{n}/timeline").json()
        statuses = {(d["event"], d["transport"]): d["status"] for d in timeline["deliveries"]}
        assert "failed" in statuses.values()  # the 500 waits for its retry

        from datetime import timedelta

        from django.utils import timezone

        from huiyin.notify.delivery import deliver_batch

        assert deliver_batch("test-worker", now=timezone.now() + timedelta(hours=1)) >= 1
        assert len(receiver.deliveries) == 3
        assert len(set(receiver.deliveries)) == 2  # the retry carried the same delivery id

    inbox = api("handler_a").get("/notifications").json()
    dispatched = [i for i in inbox["items"] if i["event"] == "case.dispatched"]
    assert [i["case_number"] for i in dispatched] == [n]
    assert inbox["unread"] >= 1
    item = dispatched[0]
    assert api("handler_a").post(f"/notifications/{item['id']}/read").status_code == 200
    assert api("handler_b").post(f"/notifications/{item['id']}/read").status_code == 404
    assert api("handler_b").get("/notifications").json()["items"] == []


def test_a_new_case_reaches_its_webhook_from_the_workers_fan_out(api) -> None:
    """The intake writes the announcement of a new case that no person is told of as one pending
    notice, reading no webhook; the worker's next batch fans it out to the webhooks that want it
    then (a webhook added before that hears of it too) and delivers them, signed."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from huiyin.conftest import new_case
    from huiyin.notify.models import Message, Notice

    quiet = new_case(api)["number"]  # nobody listens yet: the worker fans it out to nothing
    call_command("worker", "--once")
    assert Notice.objects.get(case_number=quiet).fanned_out_at is not None
    receiver = WebhookReceiver("s3cret")
    with LocalHTTPServer(receiver) as server:
        call_command("webhook", "add", server.url, "--secret", "s3cret", "--events", "case.created")
        with CaptureQueriesContext(connection) as seen:
            number = new_case(api)["number"]
        assert not [q for q in seen.captured_queries if "notify_webhook" in q["sql"]]
        assert not Message.objects.filter(case_number=number).exists()
        assert Notice.objects.get(case_number=number, event="case.created").fanned_out_at is None
        call_command("worker", "--once")
        assert receiver.bad_signatures == 0
        assert [(b["event"], b["case_number"]) for b in receiver.bodies] == [("case.created", number)]
    assert not Message.objects.filter(case_number=quiet).exists()
