"""The knowledge base's work in the worker (`huiyin worker`): owners are told once when an
article of theirs expires (`services.notify_expired`). Expiry is by the day, so after a sweep
the job rests for REST_SECONDS rather than asking again every second."""

from __future__ import annotations

import time

from . import services

REST_SECONDS = 3600
_rest_until = 0.0


def expiry_sweep() -> int:
    """Tell the owners of newly expired articles; returns how many were told (0: none left)."""
    global _rest_until
    if time.monotonic() < _rest_until:
        return 0
    _rest_until = time.monotonic() + REST_SECONDS
    return services.notify_expired()
