"""`huiyin deliver_outbox`: deliver the notification outbox, one batch at a time.

Loops until SIGTERM/SIGINT (finishing the current message), or runs one pass with
`--once`. Safe to run on several nodes at once; `huiyin worker` calls the same
`deliver_batch` in its own loop.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from huiyin.notify.delivery import default_worker_id, deliver_batch

log = logging.getLogger("huiyin.notify.delivery")


class Command(BaseCommand):
    help = "Deliver queued notifications (e-mail, SMS, robots, webhooks) with retries."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Deliver what is due now, then exit.")
        parser.add_argument("--worker-id", default="", help="Name of this worker (default host:pid).")
        parser.add_argument("--batch", type=int, default=100, help="Messages claimed per batch.")
        parser.add_argument("--interval", type=float, default=2.0, help="Seconds to wait when idle.")
        parser.add_argument("--lease", type=float, default=None,
                            help="Seconds a claim holds before another worker may take over "
                                 "(default NOTIFY_LEASE_SECONDS, 120).")

    def handle(self, *args: Any, **opts: Any) -> None:
        worker_id = opts["worker_id"] or default_worker_id()
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            signal.signal(signal.SIGINT, lambda *_: stop.set())
        total = 0
        log.info("outbox worker %s started", worker_id)
        while not stop.is_set():
            try:
                n = deliver_batch(worker_id, opts["batch"], lease=opts["lease"])
            except Exception:  # a failed pass (database restarting …) must not end the worker
                log.exception("outbox batch failed")
                n = 0
                if opts["once"]:
                    raise
            total += n
            if opts["once"] and n < opts["batch"]:
                break
            if n == 0:
                stop.wait(opts["interval"])
        if opts["verbosity"] >= 1:
            self.stdout.write(f"delivered or attempted {total} message(s)")
