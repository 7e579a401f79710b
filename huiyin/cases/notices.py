"""Formal documents of a case (DESIGN §12): when each may be issued, its number, the notices a
policy makes a step of the case, and sending a notice to the complainant the way they chose.

A document is *issued* once per handling cycle: it gets its number (`示范市局〔2026〕受告字第00001号`)
the first time it is printed or sent, and keeps it. What it says is rendered from the case when
it is read (`huiyin.documents`: HTML and PDF). Issuing writes rows in the caller's transaction;
sending a notice only enqueues outbox rows (`notify.enqueue`), never network I/O.

Called by the workflow (a notice the regulation requires is issued and sent in the same
transaction as the decision it announces: `workflow` → `notices_after`) and by the documents
API (a staff member prints a document).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from huiyin.notify.services import enqueue
from huiyin.org.models import Unit, User
from huiyin.policies.services import config_for

from .models import Case as CaseModel
from .models import CaseDocument, CaseSequence, DocumentKind, NotifyVia, State, Validity

K = DocumentKind

# The word of each document in its number (受告字, 不受告字 …) and its sequence's prefix
# (CaseSequence rows of 1 January of the year count a document kind's numbers).
NUMBER_WORD = {
    K.ACCEPTANCE_NOTICE: "受告", K.REJECTION_NOTICE: "不受告", K.TRANSFER_LETTER: "转办", K.REPLY: "答复",
    K.CALLBACK_RECORD: "回访", K.RECORD_FORM: "记录", K.WALK_IN_RECORD: "来访",
}
SEQUENCE_PREFIX = {
    K.ACCEPTANCE_NOTICE: "DA", K.REJECTION_NOTICE: "DR", K.TRANSFER_LETTER: "DT", K.REPLY: "DY",
    K.CALLBACK_RECORD: "DC", K.RECORD_FORM: "DF", K.WALK_IN_RECORD: "DW",
}
# The documents addressed to the complainant (shown on the portal, sent as they chose).
COMPLAINANT_DOCUMENTS = (K.ACCEPTANCE_NOTICE, K.REJECTION_NOTICE, K.REPLY)
ACCEPTED_STATES = (State.DISPATCHED, State.ACCEPTED, State.SUSPENDED, State.PLAN_APPROVAL, State.RESULT_SUBMITTED,
                   State.PENDING_CALLBACK, State.PENDING_APPROVAL, State.RETURNED, State.CLOSED)


def not_available(case: CaseModel, kind: str) -> str | None:
    """Why `kind` cannot be issued for the case now (→ 409), or None."""
    if kind == K.ACCEPTANCE_NOTICE:
        return None if case.validity == Validity.VALID else "The case has not been accepted (受理) yet."
    if kind == K.REJECTION_NOTICE:
        return None if case.state == State.INVALID or case.close_reason == "transferred" else \
            "The case was not refused (不予受理) nor transferred out."
    if kind == K.TRANSFER_LETTER:
        return None if case.transfer_authority or case.unit_id else "The case was not transferred to anyone yet."
    if kind == K.REPLY:
        return None if case.reply else "The case has no reply yet."
    if kind == K.CALLBACK_RECORD:
        return None if case.satisfaction or case.callback_attempts else "The complainant was not called back yet."
    if kind == K.WALK_IN_RECORD:
        return None if case.channel == "walk_in" else "Only a walk-in (来访) case has a visit record."
    if kind == K.RECORD_FORM:
        return None
    return f"Unknown document {kind!r}."


def organisation(case: CaseModel) -> Unit:
    """The organisation whose name heads the case's documents: the top of the registering
    unit's tree (示范市局)."""
    root_id = int(case.owner_unit.path.strip("/").split("/")[0])
    return case.owner_unit if case.owner_unit.pk == root_id else Unit.objects.get(pk=root_id)


def _next_number(kind: str, at: datetime) -> int:
    """The next number of a document kind in the year, inside the caller's transaction (one upsert
    on the year's CaseSequence row, as case numbers are handed out)."""
    day = timezone.localdate(at).replace(month=1, day=1)
    table = connection.ops.quote_name(CaseSequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (prefix, day, last) VALUES (%s, %s, 1) "  # noqa: S608  # nosec B608 (names are ours)
            f"ON CONFLICT (prefix, day) DO UPDATE SET last = {table}.last + 1 RETURNING last",
            [SEQUENCE_PREFIX[DocumentKind(kind)], connection.ops.adapt_datefield_value(day)],
        )
        (last,) = cursor.fetchone()
    return int(last)


def document_issue(case: CaseModel, kind: str, *, actor: User | None, at: datetime | None = None
                   ) -> tuple[CaseDocument, bool]:
    """The case's document `kind` of its current cycle, numbered the first time (created=True).
    Runs in the caller's transaction; the unique (case, kind, cycle) row keeps one number per
    document even when two people print it at once."""
    existing = CaseDocument.objects.filter(case=case, kind=kind, cycle=case.cycle).first()
    if existing is not None:
        return existing, False
    at = at or timezone.now()
    org = organisation(case)
    number = f"{org.name}〔{timezone.localdate(at).year}〕{NUMBER_WORD[DocumentKind(kind)]}字第{_next_number(kind, at):05d}号"
    doc = CaseDocument.objects.create(case=case, kind=kind, cycle=case.cycle, number=number, issued_at=at,
                                      issued_by=actor)
    return doc, True


def default_via(case: CaseModel) -> str:
    """How a notice reaches the complainant when they did not say: e-mail, else SMS, else the
    portal (a report's reporter, or nobody to write to, reads it there)."""
    if case.notify_via:
        return case.notify_via
    if case.anonymous or case.kind == "report":
        return NotifyVia.PORTAL
    if case.complainant_email:
        return NotifyVia.EMAIL
    if case.complainant_phone:
        return NotifyVia.SMS
    return NotifyVia.PORTAL


def summary(case: CaseModel, kind: str) -> str:
    """One line of what the notice says, for the e-mail and SMS (the full text is on the portal)."""
    if kind == K.ACCEPTANCE_NOTICE:
        return "您的诉求已受理" + (f"，由{case.unit.name}办理" if case.unit_id and case.unit else "")
    if kind == K.REJECTION_NOTICE:
        if case.transfer_authority:
            return f"您的诉求不属本单位职责范围，请向{case.transfer_authority}反映"
        return "您的诉求不予受理" + (f"：{case.invalid_reason}" if case.invalid_reason else "")
    if kind == K.REPLY:
        return "您的诉求已办理完毕，答复意见请查看全文"
    return ""


def notice_send(case: CaseModel, doc: CaseDocument, *, via: str | None = None) -> str:
    """Send an issued notice to the complainant the way they chose: an e-mail or an SMS (outbox
    rows, in the caller's transaction), the portal (it is listed there already), or post (the
    registering agent is told to print and post it). Returns the way used."""
    via = via or default_via(case)
    kind = DocumentKind(doc.kind)
    context = {
        "org": organisation(case).name, "document": str(kind.label), "document_number": doc.number,
        "kind": case.get_kind_display(), "summary": summary(case, doc.kind),
        "portal_url": settings.PORTAL_URL,
    }
    addresses: list[tuple[str, str]] = []
    recipients: list[int] = []
    if via == NotifyVia.EMAIL and case.complainant_email:
        addresses.append(("email", case.complainant_email))
    elif via == NotifyVia.SMS and case.complainant_phone:
        addresses.append(("sms", case.complainant_phone))
    elif via == NotifyVia.POST:
        recipients.append(case.registered_by_id)
    if addresses or recipients:
        enqueue("complainant.notice", case_number=case.number, context=context, recipients=recipients,
                addresses=addresses, dedupe=f"complainant.notice:{doc.number}")
    doc.sent_via, doc.sent_at = via, timezone.now()
    doc.save(update_fields=["sent_via", "sent_at"])
    return via


def notices_due(case: CaseModel, action: str, from_state: str) -> list[str]:
    """The notices the case's policy requires (`documents.notices`) that `action` has just made
    due: 受理告知书 when the case is accepted, 不予受理告知书 when it is refused or transferred
    out, 答复意见书 when the result is accepted (or answered on the spot)."""
    required = config_for(case.policy_id).notices_required(kind=case.kind, channel=case.channel)
    if not required:
        return []
    due: list[str] = []
    if case.validity == Validity.VALID and action in ("dispatch", "resolve_on_spot", "approve"):
        due.append(K.ACCEPTANCE_NOTICE)
    if case.state == State.INVALID or case.close_reason == "transferred":
        due.append(K.REJECTION_NOTICE)
    if (action == "review" and case.state in (State.PENDING_CALLBACK, State.CLOSED)) or action == "resolve_on_spot":
        due.append(K.REPLY)
    return [d for d in due if d in required]
