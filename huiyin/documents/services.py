"""Issuing and rendering a case's formal documents for a reader: the staff (API and pages) and
the complainant (the portal)."""

from __future__ import annotations

from django.db import transaction

from huiyin.cases.access import may_attach
from huiyin.cases.errors import CaseError, Forbidden, InvalidTransition
from huiyin.cases.models import Case, CaseDocument, DocumentKind
from huiyin.cases.notices import COMPLAINANT_DOCUMENTS, document_issue, not_available
from huiyin.org.models import User

from .render import render_html, render_pdf

KINDS = tuple(DocumentKind.values)
FORMATS = ("html", "pdf")


# --- who may open which document (issue 12: one rule for the case page's 文书 menu, the pages and
# the API) ----------------------------------------------------------------------------------------
# A staff reader may open the case's document `kind` when the case can have it now (`not_available`)
# and either it was issued in the case's current cycle, or the reader may issue it (everyone working
# on the case but the auditor: `may_attach`). The menu lists exactly those; any other is a 409 (the
# case cannot have it yet) or a 403 (never issued, and the reader only reads: the auditor, a
# co-handling unit's user).


def _issued(case: Case) -> set[str]:
    return set(CaseDocument.objects.filter(case=case, cycle=case.cycle).values_list("kind", flat=True))


def _refusal(case: Case, kind: str, *, issuer: bool, issued: set[str]) -> CaseError | None:
    why = not_available(case, kind)
    if why is not None:
        return InvalidTransition(why)
    if kind not in issued and not issuer:
        return Forbidden("This document was never issued; only those working on the case issue it.")
    return None


def documents_for_staff(user: User, case: Case) -> list[str]:
    """The kinds of document `user` may open for the case now (the case page's 文书 menu)."""
    issuer = may_attach(user, case)
    issued = set() if issuer else _issued(case)
    return [k for k in KINDS if _refusal(case, k, issuer=issuer, issued=issued) is None]


def document_for_staff(user: User, case: Case, kind: str) -> CaseDocument:
    """The case's document `kind`, numbered the first time someone working on the case prints
    it. 409 when it cannot exist yet (a reply before there is one); 403 for a reader who only
    reads (the auditor) asking for one that was never issued (`documents_for_staff`'s rule)."""
    existing = CaseDocument.objects.filter(case=case, kind=kind, cycle=case.cycle).first()
    refusal = _refusal(case, kind, issuer=existing is None and may_attach(user, case),
                       issued={kind} if existing else set())
    if refusal is not None:
        raise refusal
    if existing is not None:
        return existing
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
