"""Derived data of a case kept by apps above `cases` — without `cases` importing them.

The search index (`huiyin.text`) must change in the same transaction as the change that makes it
stale, and the search box (`selectors.text_query`) must use it; but `cases` may not import the
apps built on it (docs/architecture.md). So those apps register here, explicitly, from their
`AppConfig.ready` (decision 0007):

- `WRITERS`: called by the workflow after every change of a case is written (`_write`) and after
  intake (`register`), inside that transaction, with the case and the change's event. A writer
  decides itself whether the event makes its data stale (e.g. only text fields or comments).
- `PREPARERS`: called by the intake (`workflow.register_prepare`) with the new, unsaved case
  before its transaction: a writer may compute there what it will write for the case (e.g. the
  search words), kept on the case, so that its `WRITERS` entry only writes while the transaction
  holds its lock (on SQLite, the one write lock of the database). It must check that what it
  computed still matches the case when it writes.
- `SEARCH`: the full-text search backend (one at most). Without one, the search box falls back to
  a substring match on the subject.
- `SIMILAR`: which cases received in a window are worded like a case (one at most), for the
  count rules' `same: [text]` (群体投诉, `grading.facts_for`). Without one, a case is similar only
  to itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from django.db.models import Q

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from .models import Case, Event

Writer = Callable[["Case", "Event"], None]

WRITERS: list[Writer] = []

Preparer = Callable[["Case"], None]

PREPARERS: list[Preparer] = []


class TextSearch(Protocol):
    """What the search box needs from a full-text index of cases."""

    def matches(self, text: str) -> Q | None:
        """A Q keeping the cases whose indexed text matches `text` (None: nothing to search for,
        e.g. only punctuation)."""

    def ranked_ids(self, text: str, *, limit: int, scope: QuerySet[Case] | None = None) -> list[int] | None:
        """The ids of the newest `limit` matching cases, best first: among `scope` (the reader's
        cases under the list's filters) when given, else over all cases (the caller narrows
        them); None when there is nothing to search for."""


SEARCH: list[TextSearch] = []

Similar = Callable[["Case", datetime, datetime], list[int]]
"""(case, start, end) → ids of the cases received in [start, end] worded like `case` (itself included)."""

SIMILAR: list[Similar] = []


def written(case: Case, event: Event) -> None:
    """Called by the workflow inside the change's transaction."""
    for writer in WRITERS:
        writer(case, event)


def preparing(case: Case) -> None:
    """Called by the intake before its transaction, with the new case (unsaved)."""
    for prepare in PREPARERS:
        prepare(case)


def search() -> TextSearch | None:
    return SEARCH[0] if SEARCH else None


def similar_ids(case: Case, start: datetime, end: datetime) -> list[int] | None:
    """The ids of the cases received in [start, end] worded like `case`; None without a backend."""
    return SIMILAR[0](case, start, end) if SIMILAR else None
