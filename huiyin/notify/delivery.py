"""Delivering the outbox: claim due messages, send each, record the attempt.

At-least-once, safe with several workers on several nodes:

0. fan out the notices the scheduler left to the worker (`services.fan_out_pending`: their
   inbox items and messages, a batch per transaction);
1. select up to `limit` ids of due messages — waiting (pending/failed) whose
   `next_attempt_at` has come, or `sending` whose lease has expired (a worker died);
2. claim them with one conditional UPDATE that repeats those conditions and sets
   `status=sending, claimed_by=<worker>, claimed_until=<lease end>` — a row another
   worker claimed in between no longer matches — then read back the rows this claim won;
3. render the texts of the messages that have none yet from their notices (`texts.py`: the
   event's template as it is now, the context stored when the event was queued);
4. send each one; before a send, if the batch has used a third of its lease, renew the
   lease of the rest (a slow batch must not be stolen while it is still working);
5. record an `Attempt` and set the outcome with an UPDATE conditional on our claim
   (`status=sending, claimed_by=<worker>`): sent; or failed with a next attempt after
   30 s × 2^(n-1), capped; or dead after `NOTIFY_MAX_ATTEMPTS` or on a permanent error.
   The text rendered in step 3 is saved with the outcome, so the row shows what was sent
   and a retry sends the same text.

A worker killed between sending and recording leaves the row `sending` until its lease
ends; another worker then sends it again with the same `delivery_id`, which receivers use
to drop the duplicate. The claim counts the attempt, so a message that kills its worker
every time still ends dead instead of looping for ever.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from huiyin.db import give_way

from . import channels
from .channels import DeliveryError
from .models import WAITING, Attempt, Message, Status
from .services import fan_out_pending
from .texts import render_messages

log = logging.getLogger("huiyin.notify.delivery")


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def max_attempts() -> int:
    return int(_setting("NOTIFY_MAX_ATTEMPTS", 12))


def lease_seconds() -> float:
    return _setting("NOTIFY_LEASE_SECONDS", 120)


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 30 s, 60 s, 120 s … capped at 1 h."""
    base = _setting("NOTIFY_RETRY_BASE_SECONDS", 30)
    cap = _setting("NOTIFY_RETRY_MAX_SECONDS", 3600)
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _due(now: datetime) -> Q:
    return Q(status__in=WAITING, next_attempt_at__lte=now) | Q(status=Status.SENDING, claimed_until__lt=now)


def claim(worker_id: str, limit: int, now: datetime, lease: float | None = None) -> list[Message]:
    """Claim up to `limit` due messages for `worker_id`; return the ones this call won."""
    waiting = list(
        Message.objects.filter(status__in=WAITING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit]
    )
    expired: list[int] = []
    if len(waiting) < limit:
        expired = list(
            Message.objects.filter(status=Status.SENDING, claimed_until__lt=now)
            .order_by("claimed_until", "id").values_list("id", flat=True)[: limit - len(waiting)]
        )
    ids = waiting + expired
    if not ids:
        return []
    until = now + timedelta(seconds=lease or lease_seconds())
    changed = Message.objects.filter(_due(now), pk__in=ids).update(
        status=Status.SENDING, claimed_by=worker_id, claimed_until=until, attempts=F("attempts") + 1,
    )
    if changed == 0:
        return []  # another worker claimed all of them first
    return list(
        Message.objects.filter(pk__in=ids, status=Status.SENDING, claimed_by=worker_id, claimed_until=until)
        .select_related("notice", "recipient").order_by("id")
    )


def _renew(worker_id: str, ids: list[int], lease: float) -> None:
    Message.objects.filter(pk__in=ids, status=Status.SENDING, claimed_by=worker_id).update(
        claimed_until=timezone.now() + timedelta(seconds=lease)
    )


def _record(message: Message, worker_id: str, error: DeliveryError | None, duration_ms: int,
            clock: datetime, *, rendered: bool) -> None:
    now = max(timezone.now(), clock)
    mine = Message.objects.filter(pk=message.pk, status=Status.SENDING, claimed_by=worker_id)
    # The text rendered for this (first) attempt is kept: what was sent, and what a retry sends.
    text: dict[str, Any] = {"subject": message.subject, "body": message.body, "render_error": message.render_error,
                            "extra": message.extra} if rendered else {}
    with transaction.atomic():
        Attempt.objects.create(
            message_id=message.pk, at=now, transport=message.transport, worker=worker_id[:100],
            outcome=Attempt.Outcome.OK if error is None else Attempt.Outcome.ERROR,
            permanent=bool(error and error.permanent), error=str(error or "")[:4000], duration_ms=duration_ms,
        )
        if error is None:
            mine.update(status=Status.SENT, sent_at=now, claimed_by="", claimed_until=None, **text)
        elif error.permanent or message.attempts >= max_attempts():
            mine.update(status=Status.DEAD, last_error=str(error)[:4000], claimed_by="", claimed_until=None, **text)
        else:
            mine.update(status=Status.FAILED, last_error=str(error)[:4000], claimed_by="", claimed_until=None,
                        next_attempt_at=now + backoff(message.attempts), **text)


def deliver_batch(worker_id: str, limit: int = 100, *, now: datetime | None = None,
                  lease: float | None = None) -> int:
    """Claim and deliver up to `limit` due messages; return how many this call attempted
    (0 when nothing was due). `now` lets tests and jobs look at a later moment; `lease`
    overrides NOTIFY_LEASE_SECONDS (how long a claim holds before others may take over)."""
    worker_id = worker_id[:100]
    lease = lease or lease_seconds()
    while True:
        started = time.monotonic()
        if fan_out_pending() == 0:
            break
        give_way(started)  # let requests waiting for SQLite's write lock have it
    clock = now or timezone.now()
    batch = claim(worker_id, limit, clock, lease)
    if not batch:
        return 0
    rendered = {m.pk for m in render_messages(batch)}
    started = time.monotonic()
    renew_after = lease / 3
    for index, message in enumerate(batch):
        if time.monotonic() - started > renew_after:
            _renew(worker_id, [m.pk for m in batch[index:]], lease)
            started = time.monotonic()
        t0 = time.monotonic()
        error: DeliveryError | None = None
        try:
            channels.send(message)
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # a bug in a transport: retried, and logged with its traceback
            log.exception("transport %s crashed on message %s", message.transport, message.pk)
            error = DeliveryError(f"{type(exc).__name__}: {exc}")
        duration_ms = int((time.monotonic() - t0) * 1000)
        if error is not None:
            log.warning("message %s (%s) failed: %s%s", message.pk, message.transport, error,
                        " (permanent)" if error.permanent else "")
        started_record = time.monotonic()
        _record(message, worker_id, error, duration_ms, clock, rendered=message.pk in rendered)
        give_way(started_record)
    return len(batch)
