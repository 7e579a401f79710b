"""Formal documents rendered from templates (DESIGN §12): 受理告知书, 不予受理告知书, 转办函,
答复意见书, 回访记录, the preset's record form (记录表) and a walk-in's visit record (来访登记表) —
as HTML (print from the browser) and as PDF (WeasyPrint: Pango and HarfBuzz shape the Chinese
with the installed CJK fonts, fonts-noto-cjk).

The same template makes both. What a reader may see follows the identity rule of
`cases.access` (a report's reporter stays hidden from who may not see them); the complainant
reading their own notice on the portal (`viewer=None`) sees their own name.
"""

from __future__ import annotations

import functools
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import pgettext, pgettext_lazy

from huiyin.cases.access import complainant_view
from huiyin.cases.models import Case, CaseDocument, DocumentKind, Event, Satisfaction, Timer
from huiyin.cases.notices import organisation
from huiyin.cases.selectors import current_timers
from huiyin.org.models import User
from huiyin.policies.services import config_for

# What each row of a record form prints (`documents.record_form.fields`): Chinese on the formal
# document (rendered in zh-Hans, render_html), the reader's language on the case page's printout.
RECORD_LABELS = {
    "number": pgettext_lazy("record form", "Case number"), "received": pgettext_lazy("record form", "Received at"),
    "channel": pgettext_lazy("record form", "Channel"), "complainant": pgettext_lazy("record form", "Complainant"),
    "contact": pgettext_lazy("record form", "Contact"),
    "account": pgettext_lazy("record form", "Customer number / account"),
    "subject": pgettext_lazy("record form", "Subject"), "description": pgettext_lazy("record form", "Complaint"),
    "demands": pgettext_lazy("record form", "Demands"), "category": pgettext_lazy("record form", "Category"),
    "severity": pgettext_lazy("record form", "Severity"), "unit": pgettext_lazy("record form", "Handling unit"),
    "instructions": pgettext_lazy("record form", "Dispatch note / leader's instruction"),
    "acknowledged": pgettext_lazy("record form", "Acknowledged at"),
    "investigation": pgettext_lazy("record form", "Investigation and handling"),
    "reply": pgettext_lazy("record form", "Reply"), "compensation": pgettext_lazy("record form", "Compensation"),
    "satisfaction": pgettext_lazy("record form", "Customer satisfaction"),
    "callback": pgettext_lazy("record form", "Callback"), "supervision": pgettext_lazy("record form", "Supervision"),
    "closed": pgettext_lazy("record form", "Closed at"), "signatures": pgettext_lazy("record form", "Signatures"),
}
ACCEPTED = ("dispatch", "resolve_on_spot")  # the case was taken on (受理)
DECIDED = ("mark_invalid", "transfer_out")  # it was not handled here (不予受理, 转办)
# The language of the formal documents: the organisation's, whatever the reader's page is in.
DOCUMENT_LANGUAGE = "zh-hans"


def _chinese() -> bool:
    return (translation.get_language() or "").startswith("zh")


def _when(value: Any, fmt: str | None = None) -> str:
    if not value:
        return ""
    return timezone.localtime(value).strftime(fmt or ("%Y年%m月%d日 %H:%M" if _chinese() else "%Y-%m-%d %H:%M"))


def _day(value: Any) -> str:
    return _when(value, "%Y年%m月%d日" if _chinese() else "%Y-%m-%d")


def _callbacks(events: list[Event]) -> list[dict[str, str]]:
    rows = []
    for e in events:
        value = (e.changes.get("satisfaction") or [None, ""])[1] or (
            Satisfaction.UNREACHABLE if "callback_attempts" in e.changes else "")
        rows.append({
            "at": _when(e.at), "by": pgettext("record form", "the complainant (website)") if e.source == "portal" else (
                e.actor.display_name or e.actor.username if e.actor else ""),
            "satisfaction": str(Satisfaction(value).label) if value in Satisfaction.values else "",
            "notes": (e.changes.get("notes") or [None, ""])[1] or e.comment,
        })
    return rows


def _due(timers: dict[str, Timer], code: str) -> str:
    t = timers.get(code)
    return _when(t.due_at) if t else ""


def _supervision(case: Case) -> str:
    parts = []
    if case.round > 1:
        parts.append(pgettext("record form", "dispatch round %(n)d") % {"n": case.round})
    if case.supervised:
        parts.append(pgettext("record form", "supervised"))
    if case.urge_count:
        parts.append(pgettext("record form", "urged %(n)d times") % {"n": case.urge_count})
    if case.escalated:
        parts.append(pgettext("record form", "escalated"))
    return pgettext("record form", ", ").join(parts)


def document_context(case: Case, kind: str, doc: CaseDocument | None, *, viewer: User | None,
                     events: list[Event] | None = None, timers: list[Timer] | None = None) -> dict[str, Any]:
    """What the templates print. `viewer` None: the complainant, reading their own notice;
    `doc` None: the case page's printout of the record form (not an issued document).
    `events` (the case's whole timeline, oldest first) and `timers` (`current_timers`): when the
    caller has read them already (the case page)."""
    if viewer is None:
        person = {"name": case.complainant_name, "phone": case.complainant_phone, "email": case.complainant_email,
                  "address": case.complainant_address, "account": "", "anonymous": case.anonymous,
                  "confidential": False}
    else:
        person = complainant_view(viewer, case)
    hidden = person["confidential"] and case.kind == "report"
    cfg = config_for(case.policy_id)
    title, fields = cfg.record_form(case.kind)
    # The events the document names, in one query: the first dispatch (or answer on the spot),
    # the last decision not to handle, the callbacks.
    named = [*ACCEPTED, *DECIDED, "callback"]
    if events is None:
        events = list(case.events.filter(action__in=named).select_related("actor").order_by("id"))
    else:
        events = [e for e in events if e.action in named]
    accepted = next((e.at for e in events if e.action in ACCEPTED), None)
    decided = next((e.at for e in reversed(events) if e.action in DECIDED), None)
    # the latest timer of each stage of the current cycle (`cases.selectors.current_timers`)
    by_code = {t.code: t for t in (current_timers(case) if timers is None else timers)}
    acknowledged = case.acknowledged_at
    return {
        "case": case, "doc": doc, "kind": kind, "org": organisation(case).name,
        "title": title if kind == DocumentKind.RECORD_FORM else str(DocumentKind(kind).label),
        "issued": _day(doc.issued_at if doc is not None else timezone.now()), "person": person, "hidden": hidden,
        "addressee": "" if hidden or case.anonymous else (person["name"] or ""),
        "received": _when(case.received_at), "received_day": _day(case.received_at),
        "channel": case.get_channel_display(), "kind_label": case.get_kind_display(),
        "unit": case.unit.name if case.unit_id and case.unit else "",
        "accepted_day": _day(accepted), "decided_day": _day(decided or case.closed_at),
        "resolve_due": _due(by_code, "resolve") or _due(by_code, "end_to_end"),
        "closed": _when(case.closed_at), "acknowledged": _when(acknowledged),
        "invalid_reason": case.invalid_reason or (case.get_invalid_code_display() if case.invalid_code else ""),
        "authority": case.transfer_authority,
        "callbacks": _callbacks([e for e in events if e.action == "callback"]) if kind in (DocumentKind.CALLBACK_RECORD, DocumentKind.RECORD_FORM) else [],
        "satisfaction": case.get_satisfaction_display() if case.satisfaction else "",
        "category": case.category.name if case.category_id and case.category else "",
        "severity": case.get_severity_display(),
        "supervision": _supervision(case),
        "compensation": pgettext("record form", "%(amount)s yuan %(form)s") % {
            "amount": case.compensation_amount, "form": case.compensation_form} if case.compensation_amount else "",
        "fields": [(f, RECORD_LABELS[f]) for f in fields if f in RECORD_LABELS],
        "internal": viewer is not None,
    }


def render_html(case: Case, kind: str, doc: CaseDocument, *, viewer: User | None) -> str:
    with translation.override(DOCUMENT_LANGUAGE):
        return render_to_string(f"documents/{kind}.html", document_context(case, kind, doc, viewer=viewer))


def has_record_form(case: Case) -> bool:
    """Whether the case's policy has its own record form (`documents.record_form`)."""
    return bool((config_for(case.policy_id).raw.get("documents") or {}).get("record_form")) if case.policy_id else False


def record_form_printout(case: Case, *, viewer: User, signatures: list[str] | None = None,
                         events: list[Event] | None = None, timers: list[Timer] | None = None) -> dict[str, Any]:
    """The policy's record form as the case page prints it (issue 15, item 7): its title and its
    rows (the same layout as the formal record form, in the reader's language), with what the
    identity rule lets `viewer` see (`cases.access.complainant_view`, as on the case page).
    Nothing is issued or numbered. `signatures`: signature lines in place of the form's own."""
    context = document_context(case, DocumentKind.RECORD_FORM, None, viewer=viewer, events=events, timers=timers)
    context["signatures"] = signatures or []
    table = render_to_string("documents/_record_form_table.html", context)  # escaped by the template: a SafeString
    return {"title": context["title"], "table": table, "org": context["org"],
            "signed": any(f == "signatures" for f, _label in context["fields"])}


def render_pdf(html: str) -> bytes:
    """The PDF of a rendered document (A4; the fonts come from fontconfig: fonts-noto-cjk).

    The same HTML makes the same PDF, and an issued document's HTML stays the same (its date is
    the day of issue), so each process keeps the last few PDFs by their HTML: a document opened
    again (printed twice, fetched again from the portal) is not laid out again (~0.5 s each). The
    HTML already holds only what its reader may see (`document_context`), so a kept PDF is only
    ever handed to a reader whose own rendering gave the very same HTML."""
    return _pdf_of(html)


@functools.lru_cache(maxsize=16)  # ~16 × (30 KB of HTML + 100-300 KB of PDF) a process at most
def _pdf_of(html: str) -> bytes:
    from weasyprint import HTML

    pdf: bytes = HTML(string=html, base_url=None, url_fetcher=_fetcher()).write_pdf()
    return pdf


@functools.cache
def _fetcher() -> Any:
    """The URL fetcher of every PDF: it fetches nothing. A document is self-contained (its styles
    are in the page, its fonts come from fontconfig), so a URL in one can only be a mistake or an
    attack (file:///etc/…, an address inside the network); WeasyPrint leaves the resource out
    and logs a warning. Made once per process: WeasyPrint's default fetcher is made per document
    and loads the system's CA certificates each time (~50 ms, 15 % of a record form's PDF)."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols=(), allow_redirects=False, fail_on_errors=False)


def callback_events(case: Case) -> list[Event]:
    return list(case.events.filter(action="callback").order_by("id"))
