"""`huiyin worker`: the background loop — breaches, reminders, scheduled rules, provisional
deadlines, and delivery of the notification outbox.

Each pass runs every job until it has nothing left to do, then waits `--interval`
seconds; the first pass, and one every six hours, also refreshes SQLite's planner statistics;
every pass checkpoints SQLite's WAL (`db.checkpoint`), and on SQLite a thread of the worker does
every second besides (`db.keep_wal_short`), so that no web request waits for one at a peak.
Every job claims its rows with a conditional UPDATE, so several workers
on several nodes may run at once. Every write transaction is short (a batch of timers, one
case, one message), so the worker never holds SQLite's write lock for long; the scheduled
rules remember what this worker already examined (`jobs.RulesMemory`), so an idle pass
reads next to nothing.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from huiyin.cases.jobs import RulesMemory, run_pass
from huiyin.db import CHECKPOINT_EVERY_S, checkpoint, keep_wal_short, refresh_statistics
from huiyin.notify.delivery import default_worker_id, deliver_batch

log = logging.getLogger("huiyin.worker")

# How often the worker refreshes SQLite's planner statistics (huiyin.db.refresh_statistics): at its
# first pass, then this often. Enough for plans to follow the data as it grows.
STATISTICS_EVERY_S = 6 * 3600
# --checkpoint-every's bounds: more often would spin on checkpoints, less often lets a busy hour's
# WAL reach the requests' own threshold (db.keep_wal_short).
MIN_CHECKPOINT_EVERY_S, MAX_CHECKPOINT_EVERY_S = 0.1, 60.0


class Command(BaseCommand):
    help = "Run the background worker (timer breaches, scheduled jobs)."
    statistics_due = 0.0  # time.monotonic() of the next statistics refresh: the first pass does one

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--interval", type=float, default=15.0, help="Seconds between passes.")
        parser.add_argument("--once", action="store_true", help="Run one pass and exit.")
        parser.add_argument("--checkpoint-every", type=float, default=CHECKPOINT_EVERY_S,
                            help="SQLite: seconds between checkpoints of the WAL, beside the passes (0: only "
                                 "at the end of each pass).")

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        self.worker_id = default_worker_id()
        self.memory = RulesMemory()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        every = opts["checkpoint_every"]
        if not (every == 0 or MIN_CHECKPOINT_EVERY_S <= every <= MAX_CHECKPOINT_EVERY_S):  # NaN fails too
            raise CommandError(f"--checkpoint-every: 0 (off) or {MIN_CHECKPOINT_EVERY_S:g}–"
                               f"{MAX_CHECKPOINT_EVERY_S:g} seconds, not {every:g}")
        log.info("worker started")
        keeper = None
        if connection.vendor == "sqlite" and not opts["once"] and every > 0:
            keeper = threading.Thread(target=keep_wal_short, args=(stop,), name="huiyin-checkpoint", daemon=True,
                                      kwargs={"every": every})
            keeper.start()
        while not stop.is_set():
            try:
                self.run_pass()
            except Exception:  # a bad pass must not kill the worker; it is logged and retried
                log.exception("worker pass failed")
            if opts["once"]:
                break
            stop.wait(opts["interval"])
        if keeper is not None:
            keeper.join(timeout=30)
        log.info("worker stopped")

    def run_pass(self) -> None:
        done = run_pass(self.memory)
        delivered = 0
        while (n := deliver_batch(self.worker_id, 100)) > 0:
            delivered += n
            if n < 100:
                break
        done["deliver_outbox"] = delivered
        if time.monotonic() >= self.statistics_due:
            done["planner_statistics"] = refresh_statistics()
            self.statistics_due = time.monotonic() + STATISTICS_EVERY_S
        checkpoint()  # SQLite's WAL into the database file, so that the web requests need not (db.checkpoint)
        if any(done.values()):
            log.info("worker pass: %s", ", ".join(f"{k}={v}" for k, v in done.items() if v))
