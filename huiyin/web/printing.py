"""The printed record of a case (A4): the preset's record form where the policy has one
(`forms: record:` — a title per kind, the signature lines, the clause it follows), else a plain
case record with the usual signature lines."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from huiyin.cases.models import Case
from huiyin.policies.services import config_for

from . import labels


def default_signatures() -> list[str]:
    return [_("Received by"), _("Handled by (unit)"), _("Reviewed by"), _("Leader's instruction")]


def print_layout(case: Case) -> dict[str, Any]:
    """{"title", "signatures", "basis"} of the case's printed record."""
    record: dict[str, Any] = {}
    if case.policy_id:
        forms = config_for(case.policy_id).raw.get("forms") or {}
        record = forms.get("record") or {}
    title = record.get("title")
    if isinstance(title, dict):
        title = title.get(case.kind) or title.get("default")
    if not isinstance(title, str) or not title:
        title = _("%(kind)s record") % {"kind": labels.label("kind", case.kind)}
    signatures = record.get("signatures")
    if not isinstance(signatures, list) or not all(isinstance(s, str) for s in signatures):
        signatures = default_signatures()
    basis = record.get("basis") if isinstance(record.get("basis"), str) else ""
    return {"title": title, "signatures": signatures, "basis": basis, "preset": bool(record)}
