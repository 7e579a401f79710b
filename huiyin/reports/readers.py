"""Who reads a report that no person asked for (the schedule, the command line)."""

from __future__ import annotations

from huiyin.org.access import Grant
from huiyin.org.models import Role, Unit, User


def organisation_reader(unit: Unit | None = None) -> User:
    """A read-only reader of a whole tree (the unit's, or every organisation's): an unsaved user
    whose only grants are the auditor's role over those units, so the reports read exactly the
    cases `cases.access.cases_for` gives a person with that role. Never saved, never logs in."""
    reader = User(username="huiyin-reports", display_name="回音")
    tops = [unit] if unit is not None else list(Unit.objects.filter(parent__isnull=True).order_by("path"))
    reader._huiyin_grants = tuple(Grant(Role.AUDITOR, u) for u in tops)  # type: ignore[attr-defined]
    return reader
