"""The printed record of a case (A4), what the case page's print button prints: the policy's own
record form where it has one (`documents.record_form`, e.g. tobacco's 客户投诉受理监督记录表: its
title and its rows in the preset's order, the same layout as the formal record form of
huiyin.documents, in the reader's language), else a plain case record (number, subject, parties,
results) — each followed by the timeline and the signature lines. `forms: record:` (a title per
kind, the signature lines, the clause it follows) overrides the title, signatures and basis.
Both follow the case page's identity rule (`cases.access.complainant_view`)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from huiyin.cases.models import Case, Event, Timer
from huiyin.documents.render import has_record_form, record_form_printout
from huiyin.org.models import User
from huiyin.policies.services import config_for

from . import labels


def default_signatures() -> list[str]:
    return [_("Received by"), _("Handled by (unit)"), _("Reviewed by"), _("Leader's instruction")]


def print_layout(case: Case, viewer: User, *, events: list[Event] | None = None,
                 timers: list[Timer] | None = None) -> dict[str, Any]:
    """{"title", "signatures", "basis", "preset", "form"} of the case's printed record; `form`:
    the policy's record form ({"title", "table"}) or None for the plain record. `events` (the
    whole timeline, oldest first) and `timers` (`current_timers`): when the page has read them."""
    record: dict[str, Any] = {}
    documents: dict[str, Any] = {}
    if case.policy_id:
        raw = config_for(case.policy_id).raw
        record = (raw.get("forms") or {}).get("record") or {}
        documents = (raw.get("documents") or {}).get("record_form") or {}
    title = record.get("title")
    if isinstance(title, dict):
        title = title.get(case.kind) or title.get("default")
    signatures = record.get("signatures")
    if not isinstance(signatures, list) or not all(isinstance(s, str) for s in signatures):
        signatures = None
    basis = record.get("basis") if isinstance(record.get("basis"), str) else ""
    form = None
    if has_record_form(case):
        form = record_form_printout(case, viewer=viewer, signatures=signatures, events=events, timers=timers)
        if not isinstance(title, str) or not title:
            title = form["title"]
        basis = basis or (documents.get("basis") if isinstance(documents.get("basis"), str) else "")
    if not isinstance(title, str) or not title:
        title = _("%(kind)s record") % {"kind": labels.label("kind", case.kind)}
    return {"title": title, "signatures": signatures or default_signatures(), "basis": basis,
            "preset": bool(record) or form is not None, "form": form}
