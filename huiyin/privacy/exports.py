"""Exports of case records (DESIGN §8, issue 11 item 11): a reason every time, the audit log, and
— where the policy says so (`privacy.export.approval`, the tobacco preset's 一.11 投诉记录要集中管理,
未经批准不得外借) — a leader's approval before the file leaves.

The flow, at `/cases/export.xlsx` with the list's filters:
1. without `reason=…` the page asks for one;
2. with a reason, a user who may approve (or under a policy that needs no approval) gets the file
   at once; anyone else gets 202 and `{"export_request": ID}` (the page says it waits);
3. an approver approves (`POST /api/v1/export-requests/{ID}/approve`, or the export requests page);
4. the requester fetches the same address plus `&export_request=ID`: the file of the filters and
   reason as requested, once, within a day of the approval.
Every file served and every request decided is an audit entry naming who, what and why.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from huiyin.cases.access import role_names
from huiyin.cases.errors import Conflict, Forbidden
from huiyin.org.audit import audit
from huiyin.org.models import User
from huiyin.policies.config import PolicyConfig
from huiyin.policies.models import Policy
from huiyin.policies.services import active_policy, config_for

from .models import ExportRequest, ExportStatus

VALID_FOR = timedelta(days=1)  # an approved export is fetched within a day, once
REASON_MAX: int = ExportRequest._meta.get_field("reason").max_length or 0  # the reason an export keeps


def _config() -> PolicyConfig | None:
    try:
        return config_for(active_policy().pk)
    except Policy.DoesNotExist:
        return None


def approvers() -> tuple[str, ...]:
    cfg = _config()
    return cfg.privacy.export_approvers if cfg is not None else ()


def may_approve(user: User) -> bool:
    """Whether `user` holds a role the policy names as an export's approver."""
    cfg = _config()
    if cfg is None or not cfg.privacy.export_approvers:
        return False
    return bool(role_names(user, cfg) & set(cfg.privacy.export_approvers))


def approval_needed(user: User) -> bool:
    """The policy wants an approval, and `user` cannot give it."""
    return bool(approvers()) and not may_approve(user)


def export_request_create(user: User, *, query: str, reason: str) -> ExportRequest:
    req = ExportRequest.objects.create(requester=user, query=query[:1000], reason=reason[:REASON_MAX])
    audit("export_requested", actor=user, target=f"export_request:{req.pk}", details={"query": req.query,
                                                                                        "reason": req.reason})
    return req


def _decide(req: ExportRequest, *, actor: User, status: str) -> ExportRequest:
    if not may_approve(actor):
        raise Forbidden("Only the roles the policy names approve exports of case records.")
    now = timezone.now()
    done = ExportRequest.objects.filter(pk=req.pk, status=ExportStatus.REQUESTED).update(
        status=status, decided_by=actor, decided_at=now)
    if not done:
        raise Conflict("The export request was already decided.")
    req.refresh_from_db()
    audit(f"export_{status}", actor=actor, target=f"export_request:{req.pk}",
          details={"requester": req.requester.username, "query": req.query, "reason": req.reason})
    return req


def export_request_approve(req: ExportRequest, *, actor: User) -> ExportRequest:
    """Approve; 403 for a user who may not, 409 for a request already decided. The requester's
    own approval counts too when they hold the role (then no request is made at all)."""
    return _decide(req, actor=actor, status=ExportStatus.APPROVED)


def export_request_refuse(req: ExportRequest, *, actor: User) -> ExportRequest:
    return _decide(req, actor=actor, status=ExportStatus.REFUSED)


def redeemable(user: User, pk: object) -> tuple[ExportRequest | None, str]:
    """The user's approved request `pk` that may be served now, or (None, why not): "missing"
    (not theirs or no such request), "waiting", "refused", "used", "expired"."""
    try:
        number = int(str(pk))
    except ValueError:
        return None, "missing"
    if not 0 < number < 2**63:
        return None, "missing"
    req = ExportRequest.objects.filter(pk=number, requester=user).first()
    if req is None:
        return None, "missing"
    if req.status == ExportStatus.REQUESTED:
        return None, "waiting"
    if req.status == ExportStatus.REFUSED:
        return None, "refused"
    if req.status == ExportStatus.USED or req.used_at is not None:
        return None, "used"
    if req.decided_at is None or timezone.now() - req.decided_at > VALID_FOR:
        return None, "expired"
    return req, ""


def redeem(req: ExportRequest, *, rows: int) -> bool:
    """Mark the request used (once: a second concurrent fetch gets False)."""
    return bool(ExportRequest.objects.filter(pk=req.pk, status=ExportStatus.APPROVED, used_at__isnull=True)
                .update(status=ExportStatus.USED, used_at=timezone.now(), rows=rows))


def visible_requests(user: User) -> QuerySet[ExportRequest]:
    """An approver's view: every request; anyone else: their own."""
    qs = ExportRequest.objects.select_related("requester", "decided_by").order_by("-id")
    return qs if may_approve(user) else qs.filter(requester=user)


def exported(user: User, *, query: str, reason: str, rows: int, truncated: bool,
             request: ExportRequest | None) -> None:
    """The audit entry of a file served: who, under which filters, why, how many rows."""
    details: dict[str, object] = {"query": query, "reason": reason, "rows": rows, "truncated": truncated}
    if request is not None:
        details["export_request"] = request.pk
    audit("export", actor=user, target="cases.xlsx", details=details)
