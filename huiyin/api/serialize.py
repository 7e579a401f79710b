"""JSON shapes of the API. Times are ISO 8601 in Beijing time (+08:00)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from huiyin.cases.models import Attachment, Case, CaseLink, Event, Kind, Timer
from huiyin.cases.workflow import allowed_actions
from huiyin.org.access import roles_over
from huiyin.org.models import Role, User

IDENTITY_ROLES = {Role.AGENT, Role.DISPATCHER, Role.LEADER, Role.SUPERVISOR}


def iso(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value is not None else None


def money(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def mask_phone(phone: str) -> str:
    if len(phone) >= 7:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * len(phone)


def may_see_identity(user: User, case: Case) -> bool:
    """Whistle-blowers' identity (举报) is shown only to the centre's roles (DESIGN §8);
    the handling unit works on the matter, not on who reported it."""
    if case.kind != Kind.REPORT:
        return bool((roles_over(user, case.owner_unit) | roles_over(user, case.unit)) - {Role.AUDITOR})
    return bool(roles_over(user, case.owner_unit) & IDENTITY_ROLES)


def timer_json(t: Timer, now: datetime) -> dict[str, Any]:
    return {
        "timer": t.code,
        "round": t.round,
        "due_at": iso(t.due_at),
        "state": t.state,
        "provisional": t.provisional,
        "started_at": iso(t.started_at),
        "stopped_at": iso(t.stopped_at),
        "remaining_seconds": int((t.due_at - now).total_seconds()) if t.stopped_at is None else None,
        "breach_seconds": t.breach_seconds
        if t.stopped_at is not None
        else (max(0, int((now - t.due_at).total_seconds())) if t.breached_at else None),
        "basis": t.basis,
        "amount": t.amount,
        "unit": t.unit,
    }


def current_timers(case: Case) -> list[Timer]:
    """The latest timer of each stage (older rounds stay in the database for reports)."""
    latest: dict[str, Timer] = {}
    for t in case.timers.filter(co_unit__isnull=True).order_by("id"):
        latest[t.code] = t
    return sorted(latest.values(), key=lambda t: t.started_at)


def case_summary(case: Case) -> dict[str, Any]:
    return {
        "number": case.number,
        "kind": case.kind,
        "channel": case.channel,
        "state": case.state,
        "round": case.round,
        "severity": case.severity,
        "class": case.case_class,
        "subject": case.subject,
        "unit": case.unit.code if case.unit_id else None,
        "owner_unit": case.owner_unit.code,
        "complainant": {"name": case.complainant_name if case.kind != Kind.REPORT else "",
                        "phone": mask_phone(case.complainant_phone) if case.kind != Kind.REPORT else ""},
        "received_at": iso(case.received_at),
        "version": case.version,
    }


def case_json(case: Case, user: User) -> dict[str, Any]:
    now = timezone.now()
    identity = may_see_identity(user, case)
    links = [
        theirs for mine, theirs in (
            (a, b) if a == case.number else (b, a)
            for a, b in CaseLink.objects.filter(Q(case=case) | Q(to=case)).values_list("case__number", "to__number")
        )
    ]
    return {
        "number": case.number,
        "kind": case.kind,
        "channel": case.channel,
        "state": case.state,
        "round": case.round,
        "version": case.version,
        "unit": case.unit.code if case.unit_id else None,
        "proposed_unit": case.proposed_unit.code if case.proposed_unit_id else None,
        "proposed_co_units": case.proposed_co_units,
        "owner_unit": case.owner_unit.code,
        "severity": case.severity,
        "class": case.case_class,
        "tags": case.tags,
        "repeat_of": case.repeat_of.number if case.repeat_of_id else None,
        "region": case.region,
        "requires_approval": case.requires_approval,
        "reply_level": case.reply_level,
        "subject": case.subject,
        "description": case.description,
        "demands": case.demands,
        "product": case.product,
        "occurred_at": iso(case.occurred_at),
        "amount": money(case.amount),
        "people_count": case.people_count,
        "flags": case.flags,
        "category": case.category.code if case.category_id else None,
        "complainant": {
            "name": case.complainant_name if identity else "",
            "phone": case.complainant_phone if identity else mask_phone(case.complainant_phone) if case.kind != Kind.REPORT else "",
            "email": case.complainant_email if identity else "",
            "address": case.complainant_address if identity else "",
            "account": case.complainant_account if identity else "",
            "customer_class": case.customer_class,
            "anonymous": case.anonymous,
            "confidential": not identity,
        },
        "received_at": iso(case.received_at),
        "registered_by": case.registered_by.username,
        "upstream_ref": case.upstream_ref,
        "upstream_due_at": iso(case.upstream_due_at),
        "instructions": case.instructions,
        "validity": case.validity,
        "invalid_code": case.invalid_code or None,
        "invalid_reason": case.invalid_reason,
        "liability": case.liability,
        "investigation": {
            "cause": case.cause,
            "course": case.course,
            "responsible_person": case.responsible_person,
            "conclusion": case.conclusion,
            "countermeasures": case.countermeasures,
        },
        "reply": case.reply,
        "compensation": {"amount": money(case.compensation_amount), "form": case.compensation_form,
                         "status": case.compensation_status or None}
        if case.compensation_amount is not None
        else None,
        "satisfaction": case.satisfaction or None,
        "callback_attempts": case.callback_attempts,
        "urge_count": case.urge_count,
        "supervised": case.supervised,
        "escalated": case.escalated,
        "merged_into": case.merged_into.number if case.merged_into_id else None,
        "links": sorted(set(links)),
        "close_reason": case.close_reason or None,
        "closed_at": iso(case.closed_at),
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
        "deadlines": [timer_json(t, now) for t in current_timers(case)],
        "co_units": co_units_json(case, now),
        "return_disputed": case.return_disputed,
        "allowed_actions": allowed_actions(user, case),
    }


def event_json(e: Event) -> dict[str, Any]:
    return {
        "id": e.pk,
        "action": e.action,
        "actor": e.actor.username if e.actor_id else None,
        "at": iso(e.at),
        "from_state": e.from_state or None,
        "to_state": e.to_state or None,
        "changes": e.changes,
        "comment": e.comment,
        "source": e.source,
    }


def attachment_json(a: Attachment) -> dict[str, Any]:
    return {
        "token": a.token,
        "name": a.name,
        "content_type": a.content_type,
        "size": a.size,
        "sha256": a.sha256,
        "uploaded_by": a.uploaded_by.username,
        "uploaded_at": iso(a.uploaded_at),
    }


def co_units_json(case: Case, now: datetime) -> list[dict[str, Any]]:
    """The co-handling units (协办) of the current round with their own deadlines."""
    rows = list(case.co_handlings.filter(round=case.round, active=True).select_related("unit").order_by("id"))
    if not rows:
        return []
    timers: dict[tuple[int, str], Timer] = {}
    for t in case.timers.filter(co_unit__isnull=False, round=case.round).order_by("id"):
        timers[(t.co_unit_id, t.code)] = t  # type: ignore[index]
    return [
        {
            "unit": co.unit.code,
            "acknowledged_at": iso(co.acknowledged_at),
            "submitted_at": iso(co.submitted_at),
            "result": co.result,
            "deadlines": [timer_json(timers[(co.unit_id, code)], now) for code in ("acknowledge", "resolve")
                          if (co.unit_id, code) in timers],
        }
        for co in rows
    ]
