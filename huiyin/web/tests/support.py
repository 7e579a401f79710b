"""Helpers of the staff pages' tests (no fixtures here: see browser.py for the browser ones)."""

from __future__ import annotations

from typing import Any

from huiyin.cases.models import Case, Timer, TimerState


def sync_deadline(number: str) -> Case:
    """After a test moved a case's timers by hand: the row's current deadline as cases.deadlines
    keeps it (the earliest counting deadline of the main stages and its reminder time)."""
    case = Case.objects.get(number=number)
    row: Any = (
        Timer.objects.filter(case=case, stopped_at__isnull=True, co_unit__isnull=True)
        .exclude(state=TimerState.PAUSED).order_by("due_at").values_list("due_at", "remind_at").first()
    )
    case.next_due_at, case.next_remind_at = row if row else (None, None)
    Case.objects.filter(pk=case.pk).update(next_due_at=case.next_due_at, next_remind_at=case.next_remind_at)
    return case
