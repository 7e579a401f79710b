"""Formal documents rendered from templates (DESIGN §12): 受理告知书, 不予受理告知书, 转办函,
答复意见书, 回访记录, the preset's record form (记录表) and a walk-in's visit record (来访登记表) —
as HTML (print from the browser) and as PDF (WeasyPrint: Pango and HarfBuzz shape the Chinese
with the installed CJK fonts, fonts-noto-cjk).

The same template makes both. What a reader may see follows the identity rule of
`cases.access` (a report's reporter stays hidden from who may not see them); the complainant
reading their own notice on the portal (`viewer=None`) sees their own name.
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from huiyin.cases.access import complainant_view
from huiyin.cases.models import Case, CaseDocument, DocumentKind, Event, Satisfaction
from huiyin.cases.notices import organisation
from huiyin.org.models import User
from huiyin.policies.services import config_for

# What each row of a record form prints (`documents.record_form.fields`).
RECORD_LABELS = {
    "number": "工单编号", "received": "受理时间", "channel": "受理渠道", "complainant": "投诉人", "contact": "联系方式",
    "account": "客户编号/账号", "subject": "投诉主题", "description": "投诉内容", "demands": "客户诉求",
    "category": "问题分类", "severity": "严重程度", "unit": "承办单位", "instructions": "派单意见/领导批示",
    "acknowledged": "签收时间", "investigation": "调查处理情况", "reply": "答复意见", "compensation": "赔偿/补偿",
    "satisfaction": "客户满意度", "callback": "回访情况", "supervision": "督办情况", "closed": "办结时间",
    "signatures": "签字",
}


def _when(value: Any, fmt: str = "%Y年%m月%d日 %H:%M") -> str:
    return timezone.localtime(value).strftime(fmt) if value else ""


def _day(value: Any) -> str:
    return _when(value, "%Y年%m月%d日")


def _callbacks(case: Case) -> list[dict[str, str]]:
    rows = []
    for e in case.events.filter(action="callback").select_related("actor").order_by("id"):
        value = (e.changes.get("satisfaction") or [None, ""])[1] or (
            Satisfaction.UNREACHABLE if "callback_attempts" in e.changes else "")
        rows.append({
            "at": _when(e.at), "by": "投诉人（网站）" if e.source == "portal" else (
                e.actor.display_name or e.actor.username if e.actor else ""),
            "satisfaction": str(Satisfaction(value).label) if value in Satisfaction.values else "",
            "notes": (e.changes.get("notes") or [None, ""])[1] or e.comment,
        })
    return rows


def _due(case: Case, code: str) -> str:
    t = case.timers.filter(code=code, cycle=case.cycle, co_unit__isnull=True).order_by("-id").first()
    return _when(t.due_at) if t else ""


def _supervision(case: Case) -> str:
    parts = []
    if case.round > 1:
        parts.append(f"第{case.round}轮派单")
    if case.supervised:
        parts.append("督办")
    if case.urge_count:
        parts.append(f"催办{case.urge_count}次")
    if case.escalated:
        parts.append("已升级")
    return "、".join(parts)


def document_context(case: Case, kind: str, doc: CaseDocument, *, viewer: User | None) -> dict[str, Any]:
    """What the templates print. `viewer` None: the complainant, reading their own notice."""
    if viewer is None:
        person = {"name": case.complainant_name, "phone": case.complainant_phone, "email": case.complainant_email,
                  "address": case.complainant_address, "account": "", "anonymous": case.anonymous,
                  "confidential": False}
    else:
        person = complainant_view(viewer, case)
    hidden = person["confidential"] and case.kind == "report"
    cfg = config_for(case.policy_id)
    title, fields = cfg.record_form(case.kind)
    accepted = case.events.filter(action__in=["dispatch", "resolve_on_spot"]).order_by("id").values_list(
        "at", flat=True).first()
    decided = case.events.filter(action__in=["mark_invalid", "transfer_out"]).order_by("-id").values_list(
        "at", flat=True).first()
    acknowledged = case.acknowledged_at
    return {
        "case": case, "doc": doc, "kind": kind, "org": organisation(case).name,
        "title": title if kind == DocumentKind.RECORD_FORM else str(DocumentKind(kind).label),
        "issued": _day(doc.issued_at), "person": person, "hidden": hidden,
        "addressee": "" if hidden or case.anonymous else (person["name"] or ""),
        "received": _when(case.received_at), "received_day": _day(case.received_at),
        "channel": case.get_channel_display(), "kind_label": case.get_kind_display(),
        "unit": case.unit.name if case.unit_id and case.unit else "",
        "accepted_day": _day(accepted), "decided_day": _day(decided or case.closed_at),
        "resolve_due": _due(case, "resolve") or _due(case, "end_to_end"),
        "closed": _when(case.closed_at), "acknowledged": _when(acknowledged),
        "invalid_reason": case.invalid_reason or (case.get_invalid_code_display() if case.invalid_code else ""),
        "authority": case.transfer_authority,
        "callbacks": _callbacks(case) if kind in (DocumentKind.CALLBACK_RECORD, DocumentKind.RECORD_FORM) else [],
        "satisfaction": case.get_satisfaction_display() if case.satisfaction else "",
        "category": case.category.name if case.category_id and case.category else "",
        "severity": case.get_severity_display(),
        "supervision": _supervision(case),
        "compensation": f"{case.compensation_amount} 元 {case.compensation_form}" if case.compensation_amount else "",
        "fields": [(f, RECORD_LABELS[f]) for f in fields if f in RECORD_LABELS],
        "internal": viewer is not None,
    }


def render_html(case: Case, kind: str, doc: CaseDocument, *, viewer: User | None) -> str:
    return render_to_string(f"documents/{kind}.html", document_context(case, kind, doc, viewer=viewer))


def render_pdf(html: str) -> bytes:
    """The PDF of a rendered document (A4; the fonts come from fontconfig: fonts-noto-cjk)."""
    from weasyprint import HTML

    pdf: bytes = HTML(string=html, base_url=None).write_pdf()
    return pdf


def callback_events(case: Case) -> list[Event]:
    return list(case.events.filter(action="callback").order_by("id"))
