"""What `huiyin outbox retry` tells the operator: an unknown id is an error and nothing else."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from huiyin.notify.models import Message, Status, Webhook
from huiyin.notify.services import enqueue

from .conftest import configure


def failed_message() -> Message:
    configure("email", enabled=False)
    Webhook.objects.create(url="http://127.0.0.1:9/x", secret="s")
    enqueue("case.closed", case_number="N", context={}, recipients=[], dedupe="c")
    Message.objects.update(status=Status.FAILED)
    return Message.objects.get()


def test_retrying_an_unknown_message_is_an_error_without_a_requeued_line(db: Any) -> None:
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("outbox", "retry", "999999", stdout=out)
    assert out.getvalue() == ""  # no "requeued 0 message(s)" first
    assert str(raised.value) == "no such message: 999999"


def test_retrying_a_failed_message_requeues_it(db: Any) -> None:
    message = failed_message()
    out = io.StringIO()
    call_command("outbox", "retry", str(message.pk), stdout=out)
    assert out.getvalue() == "requeued 1 message(s)\n"
    message.refresh_from_db()
    assert message.status == Status.PENDING and message.attempts == 0


def test_retrying_a_failed_and_an_unknown_message_requeues_one_and_names_the_other(db: Any) -> None:
    message = failed_message()
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("outbox", "retry", str(message.pk), "999999", stdout=out)
    assert str(raised.value) == "no such message: 999999"
    assert out.getvalue() == "requeued 1 message(s)\n"
    message.refresh_from_db()
    assert message.status == Status.PENDING


def test_retrying_a_message_that_is_not_failed_says_so(db: Any) -> None:
    message = failed_message()
    Message.objects.update(status=Status.PENDING)
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("outbox", "retry", str(message.pk), "999999", stdout=out)
    assert str(raised.value) == f"no such message: 999999; not failed or dead: {message.pk}"
    assert out.getvalue() == ""
