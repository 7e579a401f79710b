"""deliver_batch: claims, retries with back-off, dead letters, leases; e-mail, file SMS and
webhooks against real local servers."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from huiyin.notify.channels.webhook import signature
from huiyin.notify.delivery import backoff, claim, deliver_batch
from huiyin.notify.models import Attempt, Message, Status, Webhook
from huiyin.notify.services import enqueue, message_retry

from .conftest import People, configure
from .fakes import WebhookReceiver
from .servers import LocalHTTPServer, SMTPReceiver, free_port

SECRET = "whsec-0123456789abcdef"


def later(seconds: float) -> Any:
    return timezone.now() + timedelta(seconds=seconds)


def only_webhooks() -> None:
    configure("email", enabled=False)
    configure("sms", enabled=False)


def closed(number: str = "HY20260213-000001", **context: Any) -> int:
    return enqueue("case.closed", case_number=number, context={"unit": "县局A", **context},
                   recipients=[], dedupe=f"closed:{number}")


@pytest.fixture
def receiver(db: Any) -> Any:
    only_webhooks()
    fake = WebhookReceiver(SECRET)
    with LocalHTTPServer(fake) as server:
        Webhook.objects.create(url=server.url + "/hooks/huiyin", secret=SECRET)
        yield fake


def test_a_webhook_answering_500_then_200_gets_the_same_delivery_id_twice(receiver: WebhookReceiver) -> None:
    receiver.script = [500]
    assert closed() == 1
    assert deliver_batch("w1") == 1
    msg = Message.objects.get()
    assert msg.status == Status.FAILED and "HTTP 500" in msg.last_error
    assert msg.next_attempt_at > timezone.now() + timedelta(seconds=25)
    assert deliver_batch("w1") == 0  # not due yet
    assert deliver_batch("w1", now=later(31)) == 1
    msg.refresh_from_db()
    assert msg.status == Status.SENT and msg.attempts == 2 and msg.sent_at is not None
    assert receiver.deliveries == [str(msg.delivery_id)] * 2
    assert list(Attempt.objects.order_by("id").values_list("outcome", flat=True)) == ["error", "ok"]
    body = receiver.bodies[0]
    assert body == {
        "delivery_id": str(msg.delivery_id), "event": "case.closed", "case_number": "HY20260213-000001",
        "time": timezone.localtime(msg.created_at).isoformat(), "data": body["data"],
    }
    assert body["time"].endswith("+08:00")
    assert body["data"]["unit"] == "县局A" and body["data"]["event_label"] == "工单办结"
    assert receiver.bad_signatures == 0


def test_the_signature_is_lowercase_hex_hmac_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"k", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert signature("k", "1700000000", b'{"a":1}') == expected == expected.lower()


@pytest.mark.parametrize(("status", "outcome"), [(400, Status.DEAD), (404, Status.DEAD), (410, Status.DEAD),
                                                 (408, Status.FAILED), (429, Status.FAILED), (503, Status.FAILED)])
def test_4xx_is_permanent_but_408_429_and_5xx_are_retried(receiver: WebhookReceiver, status: int,
                                                           outcome: str) -> None:
    receiver.script = [status]
    closed()
    deliver_batch("w1")
    msg = Message.objects.get()
    assert msg.status == outcome
    assert Attempt.objects.get().permanent is (outcome == Status.DEAD)


def test_a_wrong_secret_is_refused_by_the_receiver_and_goes_dead(receiver: WebhookReceiver) -> None:
    Webhook.objects.update(secret="not-the-receivers-secret")
    closed()
    deliver_batch("w1")
    assert Message.objects.get().status == Status.DEAD
    assert receiver.bad_signatures == 1


def test_a_timeout_is_retried_with_the_same_delivery_id(db: Any, settings: Any) -> None:
    only_webhooks()
    settings.NOTIFY_HTTP_TIMEOUT = 0.3
    slow = WebhookReceiver(SECRET, delay=1.0)
    with LocalHTTPServer(slow) as server:
        Webhook.objects.create(url=server.url, secret=SECRET)
        closed()
        deliver_batch("w1")
        msg = Message.objects.get()
        assert msg.status == Status.FAILED and "timed out" in msg.last_error
        slow.delay = 0
        deliver_batch("w1", now=later(31))
    msg.refresh_from_db()
    assert msg.status == Status.SENT
    assert set(slow.deliveries) == {str(msg.delivery_id)}


def test_a_refused_connection_is_retried_then_dead_after_the_last_attempt(db: Any, settings: Any) -> None:
    only_webhooks()
    settings.NOTIFY_MAX_ATTEMPTS = 3
    Webhook.objects.create(url=f"http://127.0.0.1:{free_port()}/gone", secret=SECRET)
    closed()
    now = timezone.now()
    waits = []
    for _ in range(3):
        assert deliver_batch("w1", now=now) == 1
        msg = Message.objects.get()
        waits.append((msg.next_attempt_at - now).total_seconds())
        now = msg.next_attempt_at
    assert msg.status == Status.DEAD and msg.attempts == 3
    assert "connection failed" in msg.last_error
    assert [round(w) for w in waits[:2]] == [30, 60]
    assert Attempt.objects.filter(outcome="error").count() == 3
    assert deliver_batch("w1", now=now + timedelta(days=1)) == 0


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(30).total_seconds() == 3600


def test_a_removed_webhook_makes_its_messages_dead(receiver: WebhookReceiver) -> None:
    closed()
    Webhook.objects.all().delete()
    deliver_batch("w1")
    assert Message.objects.get().last_error == "webhook removed"


def test_dead_letters_are_requeued_by_the_retry_command(receiver: WebhookReceiver) -> None:
    receiver.script = [400, 400]
    closed("N1")
    closed("N2")
    deliver_batch("w1")
    dead = list(Message.objects.order_by("id"))
    assert [m.status for m in dead] == [Status.DEAD, Status.DEAD]
    call_command("outbox", "retry", str(dead[0].pk), stdout=io.StringIO())
    assert Message.objects.get(pk=dead[0].pk).status == Status.PENDING
    call_command("outbox", "retry", "--all-dead", stdout=io.StringIO())
    deliver_batch("w1")
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SENT}
    assert message_retry(dead[0].pk) is False  # sent messages are not retried


def test_two_workers_never_claim_the_same_message_until_the_lease_expires(receiver: WebhookReceiver) -> None:
    for n in range(5):
        closed(f"N{n}")
    now = timezone.now()
    first = claim("w1", 3, now, lease=60)
    second = claim("w2", 10, now, lease=60)
    assert len(first) == 3 and len(second) == 2
    assert not {m.pk for m in first} & {m.pk for m in second}
    assert claim("w3", 10, now) == []
    # w1 died; after its lease another worker takes its messages over.
    taken = claim("w3", 10, now + timedelta(seconds=61), lease=60)
    assert {m.pk for m in taken} == {m.pk for m in first} | {m.pk for m in second}


def test_a_message_that_keeps_killing_its_worker_ends_dead(receiver: WebhookReceiver, settings: Any) -> None:
    settings.NOTIFY_MAX_ATTEMPTS = 2
    closed()
    now = timezone.now()
    claim("w1", 10, now, lease=1)  # w1 dies while sending
    claim("w2", 10, now + timedelta(seconds=2), lease=1)  # so does w2
    receiver.script = [500]
    deliver_batch("w3", now=now + timedelta(seconds=4))
    msg = Message.objects.get()
    assert msg.attempts == 3 and msg.status == Status.DEAD


def test_email_reaches_a_local_smtp_server(people: People, settings: Any) -> None:
    configure("sms", enabled=False)
    settings.DEFAULT_FROM_EMAIL = "huiyin@example.test"
    with SMTPReceiver(refuse={"bob@example.test"}) as smtp:
        settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                                        "OPTIONS": {"host": "127.0.0.1", "port": smtp.port, "timeout": 5}}}
        enqueue("case.urged", case_number="HY20260213-000007", context={"note": "请今日内回复"},
                recipients=[people.alice.pk, people.bob.pk], dedupe="u1")
        assert deliver_batch("w1") == 2
    alice = Message.objects.get(recipient=people.alice)
    assert alice.status == Status.SENT
    [mail] = smtp.messages
    assert mail["To"] == "alice@example.test"
    assert mail["From"] == "huiyin@example.test"
    assert mail["Message-ID"] == f"<{alice.delivery_id}@huiyin>"
    assert mail["X-Huiyin-Delivery"] == str(alice.delivery_id)
    from email.header import decode_header, make_header
    assert str(make_header(decode_header(mail["Subject"]))) == "【回音】工单催办 HY20260213-000007"
    assert "说明：请今日内回复" in mail.get_payload(decode=True).decode("utf-8")
    bob = Message.objects.get(recipient=people.bob)
    assert bob.status == Status.DEAD and "550" in bob.last_error


def test_email_to_an_unreachable_server_is_retried(people: People, settings: Any) -> None:
    configure("sms", enabled=False)
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                                    "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 2}}}
    enqueue("case.urged", case_number="N", context={}, recipients=[people.alice.pk], dedupe="u1")
    deliver_batch("w1")
    assert Message.objects.get().status == Status.FAILED


def test_file_sms_gateway_appends_one_line_per_message(people: People, sms_file: Path) -> None:
    configure("email", enabled=False)
    enqueue("case.reminder", case_number="HY20260213-000003", context={"deadline": "今天17:30"},
            recipients=[people.alice.pk], dedupe="r1")
    deliver_batch("w1")
    msg = Message.objects.get()
    assert msg.status == Status.SENT
    [line] = [json.loads(x) for x in sms_file.read_text(encoding="utf-8").splitlines()]
    assert line["phone"] == "13800138000" and line["delivery_id"] == str(msg.delivery_id)
    assert line["text"] == "工单HY20260213-000003即将到期，请抓紧办理，时限今天17:30。"
    assert line["params"] == {"case_number": "HY20260213-000003", "event_label": "办理时限提醒"}


def test_a_turned_off_transport_makes_waiting_messages_dead(people: People, sms_file: Path) -> None:
    configure("email", enabled=False)
    enqueue("case.reminder", case_number="N", context={}, recipients=[people.alice.pk], dedupe="r1")
    configure("sms", enabled=False)
    deliver_batch("w1")
    assert Message.objects.get().status == Status.DEAD


def test_deliver_outbox_once(receiver: WebhookReceiver) -> None:
    for n in range(3):
        closed(f"N{n}")
    call_command("deliver_outbox", "--once", "--worker-id", "cmd", stdout=io.StringIO())
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SENT}
    assert len(receiver.deliveries) == 3
