"""Personal data over its life (PIPL; DESIGN §8; issue 11 item 12).

Retention: the policy (`privacy.retention`) gives each group of fields a purpose and a period
counted from the case's closing; `anonymise_due` erases the groups whose period is over, case by
case through the workflow (`workflow.anonymise`: one `anonymise` event each, identity values never
recorded), keeping what reports count (kind, category, units, dates, deadlines, satisfaction), and
writes one audit entry per run. Run by `huiyin privacy anonymise` (daily; see docs/security.md).

Data-subject requests (个人信息保护法 第四十四至四十七条 — access, copy, correction, deletion): a
queue of `SubjectRequest`s, each due `privacy.requests` after receipt on the working-day calendar
(30 calendar days by default, moved to the next working day when it ends on a holiday); the
person's cases are found through the keyed hashes of the phone, ID number or e-mail they give.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from huiyin.cases import identity, workflow
from huiyin.cases.models import FINAL_STATES, Case
from huiyin.cases.phones import PHONE_HINT, is_chinese_phone
from huiyin.cases.selectors import iso
from huiyin.org.audit import audit
from huiyin.org.models import User
from huiyin.policies.models import Policy
from huiyin.policies.services import active_policy, config_for
from huiyin.sla import calendar as cal

from .models import SubjectKind, SubjectRequest, SubjectStatus

# --- retention -----------------------------------------------------------------------------------


def due_groups(case: Case, now: datetime) -> tuple[list[str], bool]:
    """The retention groups of `case` whose period is over and that are not erased yet, and whether
    erasing them leaves nothing for later (every group with a period done)."""
    if case.closed_at is None or case.state not in FINAL_STATES:
        return [], False
    retention = config_for(case.policy_id).privacy.retention
    timed = {g: r.days for g, r in retention.items() if r.days}
    done = set(case.anonymised_groups or [])
    due = [g for g, days in sorted(timed.items()) if g not in done and case.closed_at + timedelta(days=days) <= now]
    complete = bool(timed) and set(timed) <= done | set(due)
    return due, complete


def retention_candidates(now: datetime, *, limit: int) -> list[Case]:
    """Closed cases not yet fully anonymised whose shortest retention period is over, oldest
    closing first (the `case_retention_due` index)."""
    found: list[Case] = []
    for policy in Policy.objects.all():
        days = [r.days for r in config_for(policy.pk).privacy.retention.values() if r.days]
        if not days:
            continue
        found += list(Case.objects.filter(policy=policy, anonymised_at__isnull=True, closed_at__isnull=False,
                                          closed_at__lte=now - timedelta(days=min(days)),
                                          state__in=list(FINAL_STATES)).order_by("closed_at")[:limit])
    found.sort(key=lambda c: c.closed_at or now)
    return found[:limit]


def anonymise_due(*, now: datetime | None = None, limit: int = 200, dry_run: bool = False) -> dict[str, Any]:
    """One pass of the retention job: up to `limit` cases. Safe to run on several nodes at once
    (each case is changed under its row lock; a second pass finds nothing left to erase)."""
    now = now or timezone.now()
    erased: dict[str, int] = {}
    numbers: list[str] = []
    for case in retention_candidates(now, limit=limit):
        groups, complete = due_groups(case, now)
        if not groups and not complete:
            continue
        if not dry_run:
            fresh = workflow.anonymise(case, groups=groups, at=now, complete=complete, source="retention",
                                       note="retention period over")
            groups = [g for g in groups if g in fresh.anonymised_groups]
        numbers.append(case.number)
        for g in groups:
            erased[g] = erased.get(g, 0) + 1
    result: dict[str, Any] = {"cases": len(numbers), "groups": erased, "dry_run": dry_run}
    if numbers and not dry_run:
        audit("retention_anonymised", target=f"{len(numbers)} cases",
              details={**result, "first": numbers[0], "last": numbers[-1]})
    return result


# --- data-subject requests ------------------------------------------------------------------------


def request_due(received_at: datetime) -> cal.Deadline:
    cfg = config_for(active_policy().pk).privacy
    unit = cfg.request_unit
    return cal.deadline_add(received_at, cfg.request_amount, unit, roll_to_workday=unit == "calendar_days")


def subject_request_problem(*, kind: str, phone: str = "", id_number: str = "", email: str = "") -> str | None:
    """Why a data-subject request cannot be registered as given, or None. The person's cases are
    found by the keyed hash of what they give, so a phone number that is not one would find none."""
    if kind not in SubjectKind.values:
        return f"unknown request kind {kind!r}"
    if not (phone or id_number or email):
        return "a phone number, an ID number or an e-mail address is needed to find the person's cases"
    if phone and not is_chinese_phone(phone):
        return f"the phone is not {PHONE_HINT}"
    return None


def subject_request_create(*, kind: str, actor: User, name: str = "", phone: str = "", id_number: str = "",
                           email: str = "", details: str = "", received_at: datetime | None = None) -> SubjectRequest:
    """Registers the request (→ ValueError with `subject_request_problem`'s reason)."""
    problem = subject_request_problem(kind=kind, phone=phone, id_number=id_number, email=email)
    if problem is not None:
        raise ValueError(problem)
    received_at = received_at or timezone.now()
    due = request_due(received_at)
    req = SubjectRequest(kind=kind, name=name, phone=phone, id_number=id_number, email=email, details=details,
                         received_at=received_at, due_at=due.due_at, provisional=due.provisional,
                         registered_by=actor)
    req.phone_hash = identity.stored_hash("complainant_phone", phone)
    req.id_number_hash = identity.stored_hash("complainant_id_number", id_number)
    req.email_hash = identity.stored_hash("complainant_email", email)
    req.name_hash = identity.stored_hash("complainant_name", name)
    req.save()
    audit("subject_request", actor=actor, target=f"subject_request:{req.pk}", details={"kind": kind})
    return req


def subject_cases(req: SubjectRequest) -> QuerySet[Case]:
    """The person's cases: any of the phone, ID number or e-mail they gave (under any key)."""
    q = Q(pk__in=[])
    for field, value in (("complainant_phone", req.phone), ("complainant_id_number", req.id_number),
                         ("complainant_email", req.email)):
        if value:
            q |= identity.matches(field, value)
    return Case.objects.filter(q).order_by("id")


PERSONAL = ("complainant_name", "complainant_phone", "complainant_email", "complainant_address",
            "complainant_account", "complainant_id_number")


def subject_copy(req: SubjectRequest, *, actor: User) -> dict[str, Any]:
    """查阅/复制: what Huiyin holds about the person, case by case (their identity as recorded,
    what they asked, the answer given), as plain data for a copy."""
    cases = []
    for c in subject_cases(req):
        cases.append({
            "number": c.number, "kind": c.kind, "received_at": iso(c.received_at), "state": c.state,
            "closed_at": iso(c.closed_at), **{f.removeprefix("complainant_"): getattr(c, f) for f in PERSONAL},
            "representatives": c.representatives, "subject": c.subject, "description": c.description,
            "demands": c.demands, "reply": c.reply, "privacy_notice": c.privacy_notice,
            "anonymised": c.anonymised_groups,
        })
    audit("subject_copy", actor=actor, target=f"subject_request:{req.pk}", details={"cases": len(cases)})
    return {"request": req.pk, "kind": req.kind, "generated_at": iso(timezone.now()), "cases": cases}


def subject_correct(req: SubjectRequest, *, actor: User, values: dict[str, str]) -> list[str]:
    """更正: set the identity fields named in `values` on each of the person's cases."""
    done = []
    for c in subject_cases(req):
        workflow.correct_identity(c, actor=actor, values=values, note=f"subject request {req.pk}")
        done.append(c.number)
    audit("subject_correct", actor=actor, target=f"subject_request:{req.pk}",
          details={"cases": done, "fields": sorted(values)})
    return done


def subject_erase(req: SubjectRequest, *, actor: User) -> tuple[list[str], list[str]]:
    """删除: erase the identity and the files of the person's closed cases; open cases are listed
    (they are erased once closed, by asking again or by retention). Returns (erased, still open)."""
    erased, still_open = [], []
    now = timezone.now()
    for c in subject_cases(req):
        if c.is_open:
            still_open.append(c.number)
            continue
        workflow.anonymise(c, groups=["identity", "attachments"], at=now, complete=False, actor=actor,
                           note=f"subject request {req.pk}")
        erased.append(c.number)
    audit("subject_erase", actor=actor, target=f"subject_request:{req.pk}",
          details={"erased": erased, "open": still_open})
    return erased, still_open


def subject_close(req: SubjectRequest, *, actor: User, outcome: str, refused: bool = False) -> SubjectRequest:
    req.status = SubjectStatus.REFUSED if refused else SubjectStatus.DONE
    req.handled_by, req.handled_at, req.outcome = actor, timezone.now(), outcome[:5000]
    req.save(update_fields=["status", "handled_by", "handled_at", "outcome"])
    audit("subject_request_closed", actor=actor, target=f"subject_request:{req.pk}", details={"status": req.status})
    return req


def open_requests() -> QuerySet[SubjectRequest]:
    """The queue: open requests, the one due first on top."""
    return SubjectRequest.objects.filter(status=SubjectStatus.OPEN).order_by("due_at")
