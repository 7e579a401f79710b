"""Issuing and rendering a case's formal documents for a reader: the staff (API and pages) and
the complainant (the portal)."""

from __future__ import annotations

from django.db import transaction

from huiyin.cases.access import may_attach
from huiyin.cases.errors import Forbidden, InvalidTransition
from huiyin.cases.models import Case, CaseDocument, DocumentKind
from huiyin.cases.notices import COMPLAINANT_DOCUMENTS, document_issue, not_available
from huiyin.org.models import User

from .render import render_html, render_pdf

KINDS = tuple(DocumentKind.values)
FORMATS = ("html", "pdf")


def document_for_staff(user: User, case: Case, kind: str) -> CaseDocument:
    """The case's document `kind`, numbered the first time someone working on the case prints
    it. 409 when it cannot exist yet (a reply before there is one); 403 for a reader who only
    reads (the auditor) asking for one that was never issued."""
    why = not_available(case, kind)
    if why is not None:
        raise InvalidTransition(why)
    existing = CaseDocument.objects.filter(case=case, kind=kind, cycle=case.cycle).first()
    if existing is not None:
        return existing
    # Issuing writes a number: the same rule as adding a file (everyone on the case but the auditor).
    if not may_attach(user, case):
        raise Forbidden("This document was never issued; only those working on the case issue it.")
    with transaction.atomic():
        doc, _ = document_issue(case, kind, actor=user)
    return doc


def document_for_complainant(case: Case, kind: str) -> CaseDocument | None:
    """A notice the complainant was given (issued and addressed to them), or None."""
    if kind not in COMPLAINANT_DOCUMENTS:
        return None
    return CaseDocument.objects.filter(case=case, kind=kind).order_by("-cycle").first()


def rendered(case: Case, doc: CaseDocument, fmt: str, *, viewer: User | None) -> bytes:
    html = render_html(case, doc.kind, doc, viewer=viewer)
    return render_pdf(html) if fmt == "pdf" else html.encode("utf-8")


def filename(doc: CaseDocument, fmt: str) -> str:
    return f"{doc.case.number}-{doc.kind}.{fmt}"
