"""The retention job in the worker (`huiyin worker`): closed cases whose retention period is
over are anonymised (`services.anonymise_due`), a batch per call, as often as the worker passes
— but once a sweep has found nothing more to do, it rests for RETENTION_REST_SECONDS: periods
are counted in days, and the query would otherwise run every second. `huiyin privacy anonymise`
does the same by hand or from cron."""

from __future__ import annotations

import time

from . import services

RETENTION_REST_SECONDS = 3600
BATCH = 200
_rest_until = 0.0


def retention_sweep() -> int:
    """One batch of the retention job; returns how many cases it anonymised (0: nothing left)."""
    global _rest_until
    if time.monotonic() < _rest_until:
        return 0
    done = int(services.anonymise_due(limit=BATCH)["cases"])
    if done < BATCH:
        _rest_until = time.monotonic() + RETENTION_REST_SECONDS
    return done


def wake() -> None:
    """Make the next pass sweep at once (tests; after a policy's retention changed)."""
    global _rest_until
    _rest_until = 0.0
