"""Following the timeline by event id, for the jobs that act on what happened to cases.

An id is handed out when a row is inserted, not when its transaction commits: an event may become
visible after one with a higher id. So each follower reads the new events at once (`<name>_seen`)
and reads them again once they are older than `SETTLE` (`<name>_settled`), when every transaction
that could still have inserted a lower id has long ended. What a follower does with a case must
therefore be idempotent (the facts are recomputed, a penalty is unique per case and rule).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from huiyin.cases.models import Event

from .models import Cursor

SETTLE = timedelta(seconds=120)
SCAN = 5000  # events read per step
BATCH = 500  # cases handled per step


def position(name: str) -> int:
    return Cursor.objects.get_or_create(name=name)[0].position


def move(name: str, to: int) -> None:
    Cursor.objects.get_or_create(name=name)
    Cursor.objects.filter(name=name, position__lt=to).update(position=to, updated_at=timezone.now())


def first_cases(events: list[tuple[int, int]], batch: int = BATCH) -> tuple[list[int], int]:
    """The cases of the first events, up to `batch` cases, and the id of the last event before
    the first one of a case left out (every event up to it is covered)."""
    ids: dict[int, None] = {}
    last = 0
    for event_id, case_id in events:
        if case_id not in ids:
            if len(ids) >= batch:
                break
            ids[case_id] = None
        last = event_id
    return list(ids), last


def follow(name: str, where: Q, handle: Callable[[Iterable[int]], int], *, now: datetime | None = None,
           batch: int = BATCH) -> int:
    """One step: hand the cases of new events matching `where` to `handle`, else those of events
    now settled; returns how many cases were handed over (0: nothing left to do)."""
    now = now or timezone.now()
    seen = position(f"{name}_seen")
    fresh = list(Event.objects.filter(where, id__gt=seen).order_by("id").values_list("id", "case_id")[:SCAN])
    if fresh:
        ids, last = first_cases(fresh, batch)
        handle(ids)
        move(f"{name}_seen", last)
        return len(ids)
    settled = position(f"{name}_settled")
    old = list(Event.objects.filter(where, id__gt=settled, id__lte=seen, at__lt=now - SETTLE).order_by("id")
               .values_list("id", "case_id")[:SCAN])
    if not old:
        return 0
    ids, last = first_cases(old, batch)
    handle(ids)
    move(f"{name}_settled", last)
    return len(ids)


def start_at(name: str, event_id: int) -> None:
    """Begin following after `event_id` (a first run that has already covered what came before)."""
    move(f"{name}_seen", event_id)
    move(f"{name}_settled", event_id)
