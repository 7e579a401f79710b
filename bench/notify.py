"""Notification benchmarks for `make bench` (issue 4, item 7): `run() -> dict`.

Measures, with one worker in this process against the configured database:

- `enqueue_per_s`: `enqueue` calls per second, each in its own transaction (1 recipient:
  an inbox item and an SMS row);
- `file_sms_per_s`: messages delivered per second to the file SMS gateway;
- `webhook_per_s`: messages delivered per second to a local webhook receiver
  (http.server on 127.0.0.1, signed requests, one connection per request);
- with `backlog` (100,000) messages queued: how fast they are inserted, how long one
  claim of a batch of 100 takes, and how many are delivered per second over `window_s`.

It creates rows (case numbers starting "BENCH-", a user "bench-notify-<pid>", one webhook)
and deletes them at the end. Transport settings are overridden in this process only (the
organisation's rows are not touched). It refuses to run unless the configured database is
one the bench created (bench.guard); `python -m bench --only notify` runs it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PREFIX = "BENCH-"


@contextmanager
def _transports(sms_path: Path) -> Iterator[None]:
    """E-mail and robots off, SMS to a file — in this process's transport cache only."""
    from huiyin.notify.models import Transport, TransportConfig

    forever = time.monotonic() + 10**9
    saved = dict(TransportConfig._cache)
    for t in Transport:
        TransportConfig._cache[t.value] = (forever, False, {})
    TransportConfig._cache[Transport.SMS.value] = (forever, True, {"gateway": "file", "path": str(sms_path)})
    try:
        yield
    finally:
        TransportConfig._cache.clear()
        TransportConfig._cache.update(saved)


@contextmanager
def _receiver() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # else delayed ACKs cost ~40 ms per request

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/bench"
    finally:
        server.shutdown()
        server.server_close()


def _drain(worker: str, expected: int, limit: int = 100) -> float:
    """Deliver until `expected` messages were attempted; return messages per second."""
    from huiyin.notify.delivery import deliver_batch

    done, t0 = 0, time.perf_counter()
    while done < expected:
        n = deliver_batch(worker, limit)
        if n == 0:
            break
        done += n
    return done / (time.perf_counter() - t0)


def _cleanup(user_id: int | None, webhook_id: int | None) -> None:
    from huiyin.notify.models import Attempt, InboxItem, Message, Webhook
    from huiyin.org.models import User

    Attempt.objects.filter(message__case_number__startswith=PREFIX).delete()
    Message.objects.filter(case_number__startswith=PREFIX).delete()
    InboxItem.objects.filter(case_number__startswith=PREFIX).delete()
    if webhook_id is not None:
        Webhook.objects.filter(pk=webhook_id).delete()
    if user_id is not None:
        User.objects.filter(pk=user_id).delete()


def run(*, enqueue_n: int = 1000, deliver_n: int = 1000, backlog: int = 100_000,
        window_s: float = 10.0) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from huiyin.notify.delivery import claim
    from huiyin.notify.models import Message, Status, Transport, Webhook
    from huiyin.notify.services import enqueue
    from huiyin.org.models import User

    from .guard import check_configured

    check_configured()  # it creates and deletes rows
    results: dict[str, Any] = {"database": connection.vendor}
    tmp = Path(tempfile.mkdtemp(prefix="huiyin-notify-bench-"))
    worker = f"bench-{os.getpid()}"
    user_id = webhook_id = None
    try:
        user = User.objects.create(username=f"bench-notify-{os.getpid()}", phone="13800138000",
                                   display_name="压测")
        user_id = user.pk
        with _transports(tmp / "sms.log"):
            t0 = time.perf_counter()
            for i in range(enqueue_n):
                with transaction.atomic():
                    enqueue("case.dispatched", case_number=f"{PREFIX}{i:06d}", context={"unit": "压测单位"},
                            recipients=[user.pk], dedupe=f"bench:{worker}:{i}")
            results["enqueue_per_s"] = round(enqueue_n / (time.perf_counter() - t0), 1)
            results["file_sms_per_s"] = round(_drain(worker, enqueue_n), 1)

            with _receiver() as url:
                hook = Webhook.objects.create(url=url, secret="bench-secret", events=["case.closed"],
                                              description="bench")
                webhook_id = hook.pk
                now = timezone.now()
                Message.objects.bulk_create([
                    Message(event="case.closed", case_number=f"{PREFIX}W{i:06d}", transport=Transport.WEBHOOK,
                            address=str(hook.pk), dedupe_key=f"bench:{worker}:w{i}", created_at=now,
                            next_attempt_at=now, payload={"context": {"n": i}})
                    for i in range(deliver_n)
                ], batch_size=1000)
                results["webhook_per_s"] = round(_drain(worker, deliver_n), 1)

            # 100,000 queued SMS: insert, claim latency, delivery rate over a fixed window.
            now = timezone.now()
            t0 = time.perf_counter()
            for start in range(0, backlog, 5000):
                Message.objects.bulk_create([
                    Message(event="case.reminder", case_number=f"{PREFIX}Q{i:07d}", transport=Transport.SMS,
                            address="13800138000", body="工单即将到期", dedupe_key=f"bench:{worker}:q{i}",
                            delivery_id=uuid.uuid4(), created_at=now, next_attempt_at=now)
                    for i in range(start, min(start + 5000, backlog))
                ], batch_size=1000)
            results["backlog"] = backlog
            results["backlog_insert_per_s"] = round(backlog / (time.perf_counter() - t0), 1)

            t0 = time.perf_counter()
            claimed = claim(worker, 100, timezone.now(), lease=60)
            results["backlog_claim_100_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            Message.objects.filter(pk__in=[m.pk for m in claimed]).update(
                status=Status.PENDING, claimed_by="", claimed_until=None, attempts=0)

            from huiyin.notify.delivery import deliver_batch

            done, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < window_s:
                n = deliver_batch(worker, 100)
                if n == 0:
                    break
                done += n
            elapsed = time.perf_counter() - t0
            results["backlog_delivered"] = done
            results["backlog_deliver_per_s"] = round(done / elapsed, 1)
            results["backlog_left"] = Message.objects.filter(
                case_number__startswith=f"{PREFIX}Q", status=Status.PENDING).count()
    finally:
        t0 = time.perf_counter()
        _cleanup(user_id, webhook_id)
        results["cleanup_s"] = round(time.perf_counter() - t0, 1)
        shutil.rmtree(tmp, ignore_errors=True)
    return results

