"""The scheduled retraining of the suggestion models, in the worker (`huiyin worker`).

Training takes minutes, so it never runs inside the worker's pass: `retrain_sweep` only checks,
at most every CHECK_SECONDS, whether a retraining is due (`suggest.due_targets`: the interval
`TEXT_RETRAIN_DAYS` has passed and at least `TEXT_RETRAIN_MIN_NEW` cases were closed since the
last model), claims the one retraining slot (`claim`) and starts `huiyin text retrain --due --run
ID` as a separate, niced process. That process trains the due targets, stores each as a new
version (put in use only when its held-back quality is not worse, `suggest.retrain`) and marks
the run finished (`finish`). At most one retraining runs at a time, whichever worker or operator
starts it: a run is a `RetrainRun` row with `running` set, which a partial unique index admits
once. A run whose process died without a word is given up after STALE_AFTER (or at once, when
the worker that started it sees its process exit).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess  # nosec B404 - starts our own command, with fixed arguments
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import suggest
from .models import RetrainRun

log = logging.getLogger(__name__)

CHECK_SECONDS = 600  # how often the worker asks whether a retraining is due
STALE_AFTER = timedelta(hours=6)  # a run not finished by then is taken for dead
RETRY_FAILED_AFTER = timedelta(hours=6)  # a failed run is retried after this, not at the next check
NICE = 10  # the training process gives way to intake and the web on a busy machine

# The first check comes CHECK_SECONDS after the worker starts: a worker (re)started for other work,
# or by the bench, does not begin with minutes of training.
_rest_until: float | None = None
_child: tuple[int, subprocess.Popen[bytes]] | None = None  # (run id, process) this worker started


def claim(trigger: str) -> RetrainRun | None:
    """Take the one retraining slot, or None when a run holds it. A run older than STALE_AFTER
    that never finished is closed as failed first (its process died)."""
    now = timezone.now()
    RetrainRun.objects.filter(running=True, started_at__lt=now - STALE_AFTER).update(
        running=False, ok=False, finished_at=now, outcome="given up: no word from its process")
    try:
        with transaction.atomic():
            return RetrainRun.objects.create(started_at=now, running=True, trigger=trigger,
                                             host=socket.gethostname()[:255], pid=os.getpid())
    except IntegrityError:
        return None


def finish(run_id: int, *, ok: bool, outcome: str) -> None:
    RetrainRun.objects.filter(pk=run_id, running=True).update(
        running=False, ok=ok, finished_at=timezone.now(), outcome=outcome[:10000])


def blocked(now: datetime | None = None) -> str | None:
    """Why no retraining may start now (a run under way, one done within the interval, one
    failed recently), or None."""
    now = now or timezone.now()
    if RetrainRun.objects.filter(running=True).exists():
        return "a retraining is under way"
    if RetrainRun.objects.filter(ok=True, started_at__gt=now - suggest.retrain_every()).exists():
        return "retrained within the interval"
    if RetrainRun.objects.filter(ok=False, started_at__gt=now - RETRY_FAILED_AFTER).exists():
        return "the last retraining failed recently"
    return None


def command(run: RetrainRun) -> list[str]:
    """The retraining process's command line: this interpreter, our manage.py, fixed arguments."""
    return [sys.executable, "-m", "huiyin.manage", "text", "retrain", "--due", "--run", str(run.pk),
            "--nice", str(NICE)]


def _launch(run: RetrainRun) -> subprocess.Popen[bytes]:
    logfile = Path(settings.VAR_DIR) / "text-retrain.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command(run), stdin=subprocess.DEVNULL, stdout=out,  # noqa: S603  # nosec B603
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)


def _reap() -> None:
    """Collect the process this worker started once it has exited; a run it left open (a crash
    before `finish`) is closed as failed."""
    global _child
    if _child is None:
        return
    run_id, proc = _child
    code = proc.poll()
    if code is None:
        return
    _child = None
    finish(run_id, ok=False, outcome=f"the retraining process exited with code {code} before finishing")


def retrain_sweep() -> int:
    """The worker's job: 1 when it started a retraining, else 0 (not due, resting, or one runs)."""
    global _rest_until, _child
    _reap()
    if _rest_until is None:
        _rest_until = time.monotonic() + CHECK_SECONDS
    if time.monotonic() < _rest_until:
        return 0
    _rest_until = time.monotonic() + CHECK_SECONDS
    if suggest.retrain_every() <= timedelta(0) or _child is not None or blocked():
        return 0
    targets = suggest.due_targets()
    if not targets:
        return 0
    run = claim("schedule")
    if run is None:
        return 0
    try:
        _child = (run.pk, _launch(run))
    except OSError as exc:
        finish(run.pk, ok=False, outcome=f"could not start the retraining: {exc}")
        return 0
    log.info("retraining %s in process %s (run %s)", ", ".join(targets), _child[1].pid, run.pk)
    return 1


def wake() -> None:
    """Make the next pass check at once (tests; after changing the settings)."""
    global _rest_until
    _rest_until = 0.0


def wait_for_child(timeout: float | None = None) -> int | None:
    """Wait for the process this worker started (tests; a worker shutting down); its exit code."""
    if _child is None:
        return None
    code = _child[1].wait(timeout)
    _reap()
    return code
