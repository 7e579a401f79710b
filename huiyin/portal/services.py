"""The portal's services: submitting a case as a member of the public, finding it again by its
number and query code, what the complainant may see of it, and the complainant's own steps.

The complainant is no user. A case submitted here is registered by the portal's service account
(`portal_user`: an agent of the intake unit that cannot sign in) through the same intake as the
staff's (`cases.services.case_register`, channel `web`), never urging another case; the
complainant's steps go through `cases.workflow`'s complainant section.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from pydantic import Field, field_validator

from huiyin.cases import inputs, services, workflow
from huiyin.cases.attachments import attachment_add, sniff
from huiyin.cases.errors import BadInput, CaseError
from huiyin.cases.models import Case, CaseDocument, DocumentKind, Event, Kind, State
from huiyin.cases.notices import COMPLAINANT_DOCUMENTS
from huiyin.cases.phones import check_phone
from huiyin.org.models import Membership, Role, Unit, User
from huiyin.policies.config import PUBLIC_KINDS
from huiyin.policies.services import active_policy, config_for

from .codes import code_hash, code_new, matches, normalise
from .models import PortalAccess

SERVICE_USERNAME = "portal"
# Control characters other than tab and newline have no business in a complaint's text.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

logger = logging.getLogger(__name__)


def _clean(value: str) -> str:
    if CONTROL.search(value):
        raise ValueError("contains control characters")
    return value.replace("\r\n", "\n")


Line = Annotated[str, Field(max_length=200)]


class PortalComplainantIn(inputs.Strict):
    """Who submits: the staff intake's complainant, without what only staff record (customer
    class, account and ID numbers)."""

    name: Annotated[str, Field(max_length=100)] = ""
    phone: Annotated[str, Field(max_length=32)] = ""
    email: Annotated[str, Field(max_length=254)] = ""
    address: Annotated[str, Field(max_length=300)] = ""
    anonymous: bool = False
    notify_via: Literal["", "portal", "email", "sms", "post"] = ""

    _check_phone = field_validator("phone")(check_phone)
    _check_text = field_validator("name", "address")(_clean)

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str) -> str:
        if value and not inputs.EMAIL.match(value):
            raise ValueError("not an e-mail address like name@example.com")
        return value


class PortalCaseIn(inputs.Strict):
    """A case as a member of the public submits it (`POST /api/v1/portal/cases`): the staff
    intake's fields without the internal ones; the channel is always `web`."""

    kind: Literal["complaint", "consultation", "suggestion", "report", "praise"]
    subject: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=5000)] = ""
    demands: Annotated[str, Field(max_length=2000)] = ""
    complainant: PortalComplainantIn | None = None
    privacy_notice_version: Annotated[str, Field(min_length=1, max_length=20)]
    occurred_at: datetime | None = None
    product: Line = ""

    _check_text = field_validator("subject", "description", "demands", "product")(_clean)
    _check_tz = field_validator("occurred_at")(inputs._aware)


class SatisfactionIn(inputs.Strict):
    satisfaction: Literal["very_satisfied", "satisfied", "neutral", "unsatisfied"]
    comment: Annotated[str, Field(max_length=2000)] = ""

    _check_text = field_validator("comment")(_clean)


class ReopenIn(inputs.Strict):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]

    _check_text = field_validator("reason")(_clean)


class InformationIn(inputs.Strict):
    text: Annotated[str, Field(min_length=1, max_length=5000)]

    _check_text = field_validator("text")(_clean)


# --- the service account ------------------------------------------------------------------------


class PortalUnavailable(CaseError):
    """The portal cannot take in cases: no unit registers them (a setting for the operator to
    fix, nothing the complainant did). → 503"""

    status = 503
    code = "portal_unavailable"


def intake_unit() -> Unit:
    """The unit that registers the portal's cases: settings.PORTAL_INTAKE_UNIT, else the first unit
    (in tree order) where someone is an agent. Neither → PortalUnavailable, and the log says which
    setting to fix (the page and the API tell the complainant only that the portal cannot take it)."""
    if settings.PORTAL_INTAKE_UNIT:
        unit = Unit.objects.filter(code=settings.PORTAL_INTAKE_UNIT, active=True).first()
        if unit is None:
            raise _unavailable(f"HUIYIN_PORTAL_UNIT names no active unit: {settings.PORTAL_INTAKE_UNIT!r}.")
        return unit
    found = (Membership.objects.filter(role=Role.AGENT, unit__active=True).exclude(user__username=SERVICE_USERNAME)
             .select_related("unit").order_by("unit__path").first())
    if found is None:
        raise _unavailable("No unit takes in cases yet: give someone the agent role, or set HUIYIN_PORTAL_UNIT.")
    return found.unit


def _unavailable(why: str) -> PortalUnavailable:
    logger.error("portal: no unit takes in its cases: %s", why)  # the operator's settings, no personal data
    return PortalUnavailable(why)


# The service accounts this process last found, with the grants cached on them, for a minute:
# (username, unit) → (user, until). Each use still checks, in one query, that the account is that
# unit's agent (a membership changed, a rolled-back test), instead of reading the account, its
# membership and then its grants again for every submission.
_KNOWN: dict[tuple[str, int], tuple[User, float]] = {}
KNOWN_SECONDS = 60.0


def service_user(username: str, display_name: str, unit: Unit) -> User:
    """A service account that registers a channel's cases: an agent of `unit` that cannot sign in
    (inactive, no password), created the first time."""
    known, until = _KNOWN.get((username, unit.pk), (None, 0.0))
    if known is not None and time.monotonic() < until and Membership.objects.filter(
            user_id=known.pk, user__username=username, role=Role.AGENT, unit=unit).exists():
        return known
    user = _service_user(username, display_name, unit)
    _KNOWN[(username, unit.pk)] = (user, time.monotonic() + KNOWN_SECONDS)
    return user


def _service_user(username: str, display_name: str, unit: Unit) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, display_name=display_name, is_active=False)
        user.set_unusable_password()
        user.save()
    if not Membership.objects.filter(user=user, role=Role.AGENT, unit=unit).exists():
        Membership.objects.filter(user=user, role=Role.AGENT).delete()
        Membership.objects.create(user=user, role=Role.AGENT, unit=unit)
        user = User.objects.get(pk=user.pk)  # drop the grants cached on the instance
    return user


def portal_user() -> User:
    return service_user(SERVICE_USERNAME, "网上受理", intake_unit())


# --- submitting -------------------------------------------------------------------------------------


def open_kinds() -> list[str]:
    """The kinds the active policy opens to the public (`portal.kinds`)."""
    return [k for k in config_for(active_policy().pk).portal_kinds if k in PUBLIC_KINDS]


def check_files(files: list[UploadedFile]) -> None:
    """Refuse the whole submission before anything is stored when a file would be refused."""
    if len(files) > settings.PORTAL_MAX_FILES:
        raise BadInput(f"At most {settings.PORTAL_MAX_FILES} files.", fields={"files": "too many files"})
    for f in files:
        size = f.size or 0
        if size == 0 or size > settings.ATTACHMENT_MAX_BYTES:
            raise BadInput(f"{f.name}: empty or too large.", fields={"files": "empty or too large"})
        f.seek(0)
        kind = sniff(f.read(2048))
        f.seek(0)
        if kind is None or kind not in settings.ATTACHMENT_TYPES:
            raise BadInput(f"{f.name}: this type of file is not accepted.", fields={"files": "type not allowed"})


def case_submit(data: Any, *, ip: str | None, files: list[UploadedFile] | None = None) -> tuple[Case, str]:
    """Register a case from the public: (the case, its query code — the only time it exists in
    clear). The query code's hash and the privacy notice's version are stored in the intake's
    own transaction. Raises BadInput (422) for anything wrong, before anything is stored."""
    p: PortalCaseIn = inputs.parse(PortalCaseIn, data)
    if p.privacy_notice_version != settings.PRIVACY_NOTICE_VERSION:
        raise BadInput("Read and accept the current privacy notice first.",
                       fields={"privacy_notice_version": f"the current version is {settings.PRIVACY_NOTICE_VERSION}"})
    if p.kind not in open_kinds():
        raise BadInput(f"The portal does not take {p.kind} cases.", fields={"kind": "not open to the public"})
    person = p.complainant or PortalComplainantIn(anonymous=True)
    if p.kind != Kind.REPORT.value and (person.anonymous or not person.name or not (person.phone or person.email)):
        raise BadInput("Give your name and a phone number or an e-mail address (only a report may be anonymous).",
                       fields={"complainant": "name and a phone or e-mail are required"})
    files = list(files or [])
    check_files(files)
    body = {
        "kind": p.kind, "channel": "web", "subject": p.subject, "description": p.description, "demands": p.demands,
        "product": p.product, "occurred_at": p.occurred_at.isoformat() if p.occurred_at else None,
        "privacy_notice": p.privacy_notice_version,
        "complainant": {"name": person.name, "phone": person.phone, "email": person.email,
                        "address": person.address, "anonymous": person.anonymous or not (person.name or person.phone
                                                                                         or person.email),
                        "notify_via": person.notify_via},
    }
    if body["occurred_at"] is None:
        del body["occurred_at"]
    code = code_new()
    actor = portal_user()

    def keep_code(case: Case) -> None:
        PortalAccess.objects.create(case=case, code_hash=code_hash(code),
                                    privacy_notice_version=p.privacy_notice_version)

    case, _ = services.case_register(body, actor=actor, source="portal", ip=ip, urge_open=False, also=keep_code)
    for f in files:
        attachment_add(case, f, actor=actor, source="portal")
    return case, code


# --- finding a case -----------------------------------------------------------------------------------


def case_by_number(number: str, code: str) -> Case | None:
    """The case `number` if `code` is its query code; None otherwise — a missing case and a wrong
    code are indistinguishable (the same answer, the same work)."""
    if not isinstance(number, str) or len(number) > 20:
        number = ""
    row = (PortalAccess.objects.filter(case__number=number).select_related("case", "case__unit", "case__owner_unit")
           .first()) if number else None
    if not matches(code, row.code_hash if row else None):
        return None
    assert row is not None
    return row.case


def case_by_code(code: str) -> Case | None:
    """The case whose query code this is (an anonymous reporter keeps only the code)."""
    if not normalise(code):
        return None
    row = PortalAccess.objects.filter(code_hash=code_hash(code)).select_related("case", "case__unit").first()
    return row.case if row else None


def code_reissue(case: Case) -> str:
    """A new query code for the case (the complainant lost it, or a letter's sender wants one);
    the old code stops working. Staff only (the documents API checks who asks)."""
    code = code_new()
    with transaction.atomic():
        row = PortalAccess.objects.select_for_update().filter(case=case).first()
        if row is None:
            PortalAccess.objects.create(case=case, code_hash=code_hash(code))
        else:
            row.code_hash, row.reissued_at = code_hash(code), timezone.now()
            row.save(update_fields=["code_hash", "reissued_at"])
    return code


# --- what the complainant sees ------------------------------------------------------------------------

# The deadlines that concern the complainant, by clock, as the portal names them; the internal
# stages (acknowledge, feedback, decision, appeal, obligations) are never shown.
PUBLIC_CLOCKS = {
    "dispatch": "受理时限", "first_contact": "联系您的时限", "resolve": "答复时限", "end_to_end": "办结时限",
    "callback": "回访时限",
}
STATUS_TEXT = {
    State.REGISTERED: "已收到，正在审核", State.PENDING_APPROVAL: "已受理，正在安排办理",
    State.DISPATCHED: "已转交承办单位", State.ACCEPTED: "承办单位正在办理", State.SUSPENDED: "调查取证中，时限暂停计算",
    State.RETURNED: "正在重新安排承办单位", State.PLAN_APPROVAL: "承办单位正在办理",
    State.RESULT_SUBMITTED: "办理结果正在审核", State.PENDING_CALLBACK: "已答复，等待您的评价",
    State.CLOSED: "已办结", State.INVALID: "不予受理",
}


def _milestone(e: Event) -> str | None:
    """What one timeline event says to the complainant — no person, no note, no instruction, no
    approval comment; most events say nothing."""
    a, to = e.action, e.to_state
    if a == "register":
        return "已登记"
    if to == State.DISPATCHED and a in ("dispatch", "approve", "decide_return"):
        return "已转交承办单位办理"
    if a in ("redispatch", "escalate"):
        return "重新安排办理"
    if a == "acknowledge":
        return "承办单位已签收"
    if a == "suspend":
        return "调查取证，时限暂停"
    if a == "resume":
        return "恢复办理"
    if a == "review" and to in (State.PENDING_CALLBACK, State.CLOSED):
        return "已答复"
    if a == "resolve_on_spot":
        return "已当场答复"
    if a == "callback" and e.changes.get("satisfaction"):
        return "满意度已记录" if e.source != "portal" else "您评价了办理结果"
    if a == "rate":
        return "您评价了办理结果"
    if a == "mark_invalid":
        return "不予受理"
    if a == "transfer_out":
        return "已告知有权处理的部门"
    if to == State.CLOSED:
        return "已办结"
    if a == "reopen":
        return "重新办理"
    if a == "reopen_request":
        return "您申请重新办理"
    if a == "information":
        return "您补充了情况"
    if a == "notice":
        kind = (e.changes.get("document") or [None, {}])[1].get("kind", "")
        return f"出具《{DocumentKind(kind).label}》" if kind in DocumentKind.values else None
    if a == "urge":
        return "已催办"
    if a == "withdraw":
        return "已撤回"
    return None


def iso(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value is not None else None


def tracking_view(case: Case) -> dict[str, Any]:
    """Everything the complainant may see of their case: its state, the deadlines that concern
    them, the reply, the formal notices and the milestones — never a person, an internal note, an
    instruction, an approval comment, a unit's internals or another case."""
    now = timezone.now()
    answered = case.state in (State.PENDING_CALLBACK, State.CLOSED, State.INVALID)
    deadlines = []
    latest: dict[str, Any] = {}
    for t in case.timers.filter(co_unit__isnull=True, cycle=case.cycle, code__in=list(PUBLIC_CLOCKS)).order_by("id"):
        latest[t.code] = t
    for code, t in latest.items():
        deadlines.append({
            "clock": code, "label": PUBLIC_CLOCKS[code], "due_at": iso(t.due_at),
            "state": t.state if t.stopped_at is None else ("breached" if t.breached_at or t.state == "breached"
                                                           else "met" if t.state == "met" else t.state),
            "open": t.stopped_at is None,
        })
    documents = [
        {"kind": d.kind, "title": str(DocumentKind(d.kind).label), "number": d.number, "issued_at": iso(d.issued_at)}
        for d in CaseDocument.objects.filter(case=case, kind__in=COMPLAINANT_DOCUMENTS).order_by("id")
    ]
    progress: list[dict[str, Any]] = []
    for e in case.events.order_by("id").only("action", "to_state", "changes", "at", "source"):
        label = _milestone(e)
        if label and not (progress and progress[-1]["label"] == label and progress[-1]["at"] == iso(e.at)):
            progress.append({"at": iso(e.at), "label": label})
    reopen_until = workflow.reopen_window_ends(case)
    may_rate = (case.state == State.PENDING_CALLBACK and case.satisfaction in ("", "unreachable")) or (
        case.state in (State.CLOSED, State.INVALID) and not case.merged_into_id
        and case.satisfaction in ("", "unreachable"))
    return {
        "number": case.number,
        "kind": case.kind,
        "state": case.state,
        "status": STATUS_TEXT.get(State(case.state), ""),
        "received_at": iso(case.received_at),
        "subject": case.subject,
        "description": case.description,
        "demands": case.demands,
        "unit": case.unit.name if case.unit_id and case.unit else None,
        "deadlines": deadlines,
        "reply": case.reply if answered and case.reply else None,
        "competent_authority": case.transfer_authority or None,
        "documents": documents,
        "progress": progress,
        "satisfaction": case.satisfaction if case.satisfaction and case.satisfaction != "unreachable" else None,
        "closed_at": iso(case.closed_at),
        "may_rate": may_rate,
        "may_add_information": case.state not in (State.CLOSED, State.INVALID),
        "may_reopen": reopen_until is not None and now <= reopen_until and case.reopen_requested_at is None,
        "reopen_until": iso(reopen_until) if reopen_until and now <= reopen_until else None,
        "reopen_requested": case.reopen_requested_at is not None,
    }


# --- the complainant's steps ----------------------------------------------------------------------


def rate(case: Case, data: Any, *, ip: str | None) -> Case:
    p: SatisfactionIn = inputs.parse(SatisfactionIn, data)
    return workflow.complainant_rate(case, p.satisfaction, comment=p.comment, ip=ip)


def reopen_request(case: Case, data: Any, *, ip: str | None) -> Case:
    p: ReopenIn = inputs.parse(ReopenIn, data)
    return workflow.complainant_request_reopen(case, p.reason, ip=ip)


def information_add(case: Case, data: Any, *, ip: str | None, files: list[UploadedFile] | None = None) -> Case:
    p: InformationIn = inputs.parse(InformationIn, data)
    files = list(files or [])
    check_files(files)
    updated = workflow.complainant_add_information(case, p.text, ip=ip)
    for f in files:
        attachment_add(updated, f, actor=portal_user(), source="portal")
    return updated


__all__ = ["CaseError", "PortalUnavailable", "case_by_code", "case_by_number", "case_submit", "code_reissue",
           "information_add", "rate", "reopen_request", "tracking_view"]
