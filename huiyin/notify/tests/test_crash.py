"""The outbox survives SIGKILL: a real `huiyin deliver_outbox` process, killed in the middle
of a batch and restarted, delivers every message, none twice to the same recipient and
transport except the one in flight when it died, which comes again with the same delivery
id so the receiver drops it.

Runs on the database the suite runs on: SQLite, and PostgreSQL when HUIYIN_DATABASE_URL
points at one (`make test` runs both).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from huiyin.notify.models import Message, Status, Webhook
from huiyin.notify.services import enqueue

from .conftest import configure, make_user
from .fakes import WebhookReceiver
from .servers import LocalHTTPServer

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "crash-test-secret-0123"
EVENTS = 25


def database_url() -> str:
    """The URL of the test database, for the worker subprocess."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = quote(s["USER"] or "") + (f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else "")
    return f"postgresql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def start_worker(worker_id: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HUIYIN_DATABASE_URL": database_url(),
           "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"], "HUIYIN_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [sys.executable, "-m", "huiyin.manage", "deliver_outbox", "--worker-id", worker_id,
         "--batch", "10", "--interval", "0.2", "--lease", "2"],
        env=env, cwd=str(Path(settings.BASE_DIR)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_only_by_delivery_id(tmp_path: Path) -> None:
    sms_log = tmp_path / "sms.log"
    configure("email", enabled=False)
    configure("sms", gateway="file", path=str(sms_log))
    handler = make_user("handler", phone="13800138000")
    receiver = WebhookReceiver(SECRET, delay=0.1)  # a slow receiver: the kill lands mid-batch
    with LocalHTTPServer(receiver) as server:
        Webhook.objects.create(url=server.url + "/in", secret=SECRET)
        for n in range(EVENTS):
            enqueue("case.dispatched", case_number=f"HY20260213-{n:06d}", context={"unit": "县局A"},
                    recipients=[handler.pk], dedupe=f"dispatch:{n}")
        total = Message.objects.count()
        assert total == 2 * EVENTS  # one SMS and one webhook per event

        first = start_worker("crash-1")
        try:
            wait_for(lambda: len(receiver.deliveries) >= 4 or first.poll() is not None, 60, "first deliveries")
            assert first.poll() is None, first.stderr.read().decode() if first.stderr else ""
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        orphaned = Message.objects.filter(status=Status.SENDING, claimed_by="crash-1").count()
        assert orphaned > 0, "the kill should have landed in the middle of a batch"
        assert Message.objects.filter(status=Status.SENT).count() < total

        second = start_worker("crash-2")
        try:
            wait_for(lambda: Message.objects.filter(status=Status.SENT).count() == total
                     or second.poll() is not None, 90, "every message sent")
            assert second.poll() is None, second.stderr.read().decode() if second.stderr else ""
        finally:
            second.send_signal(signal.SIGTERM)
            try:
                second.wait(15)
            except subprocess.TimeoutExpired:
                second.kill()

    assert Message.objects.exclude(status=Status.SENT).count() == 0
    webhook_ids = set(map(str, Message.objects.filter(transport="webhook").values_list("delivery_id", flat=True)))
    sms_ids = set(map(str, Message.objects.filter(transport="sms").values_list("delivery_id", flat=True)))
    sms_received = [json.loads(line)["delivery_id"] for line in sms_log.read_text().splitlines()]

    # Every message arrived; the receivers saw exactly one distinct delivery id per message.
    assert set(receiver.deliveries) == webhook_ids
    assert set(sms_received) == sms_ids
    # Only the message in flight at the kill may have arrived twice — with the same id.
    repeats = [(i, n) for i, n in (Counter(receiver.deliveries) + Counter(sms_received)).items() if n > 1]
    assert len(repeats) <= 1 and all(n == 2 for _i, n in repeats), repeats
    assert receiver.bad_signatures == 0
    # The restarted worker took over what the dead one had claimed.
    assert Message.objects.filter(claimed_by="crash-1").count() == 0
