"""Background jobs over cases, one step at a time and safe on several nodes at once.

Each job claims rows with a conditional UPDATE and acts only where its UPDATE changed
a row, so two workers never record the same breach twice.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from .models import Event, Timer, TimerState


def sweep_breaches(now: datetime | None = None, *, limit: int = 500) -> int:
    """Mark running timers past their due time as breached, each with a timeline event.

    Returns how many this call marked (0 when there is nothing to do)."""
    now = now or timezone.now()
    candidates = list(
        Timer.objects.filter(state=TimerState.RUNNING, due_at__lt=now)
        .order_by("due_at")
        .values_list("id", "case_id", "code", "due_at", "round")[:limit]
    )
    marked = 0
    for timer_id, case_id, code, due_at, round_no in candidates:
        with transaction.atomic():
            changed = Timer.objects.filter(pk=timer_id, state=TimerState.RUNNING, due_at__lt=now).update(
                state=TimerState.BREACHED, breached_at=due_at
            )
            if changed != 1:
                continue  # another worker got there first, or the stage finished
            Event.objects.create(
                case_id=case_id, action="breach", actor=None, at=now, source="worker",
                changes={"timer": [None, code], "round": [None, round_no],
                         "due_at": [None, timezone.localtime(due_at).isoformat()]},
            )
            marked += 1
    return marked
