"""Who is told what about a case: the routing from workflow events to people (DESIGN §6).

Called inside the workflow's transaction; `notify.enqueue` only writes outbox rows there,
so a notification exists exactly when the change that caused it committed.
Routes come from the policy (`notifications.routes`), falling back to DEFAULT_ROUTES:
for each event, which roles, reached over which unit of the case:
`owner` (the registering centre's line), `unit` (the handling unit, lead and co-units),
`registrar` (the agent who took the case: 首问负责制).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from huiyin.notify.services import Notice, enqueue, enqueue_many
from huiyin.org.models import Membership, Unit
from huiyin.policies.services import config_for

from .models import Case, CoHandling

DEFAULT_ROUTES: dict[str, list[dict[str, Any]]] = {
    "case.created": [],
    "case.approval_needed": [{"roles": ["leader"], "over": "owner"}],
    "case.dispatched": [{"roles": ["first_responsible", "handler"], "over": "unit"}],
    "case.acknowledged": [{"over": "registrar"}],
    "case.reminder": [{"roles": ["handler", "first_responsible"], "over": "unit"}],
    "case.breached": [{"roles": ["handler", "first_responsible"], "over": "unit"},
                      {"roles": ["supervisor"], "over": "owner"}],
    "case.escalated": [{"roles": ["supervisor", "leader"], "over": "owner"},
                       {"roles": ["first_responsible"], "over": "unit"}],
    "case.urged": [{"roles": ["handler", "first_responsible"], "over": "unit"}],
    "case.result_submitted": [{"roles": ["dispatcher"], "over": "owner"}],
    "case.callback_due": [{"over": "registrar"}, {"roles": ["dispatcher"], "over": "owner"}],
    "case.extension_requested": [{"roles": ["leader"], "over": "owner"}],
    "case.major_opened": [{"roles": ["leader", "supervisor"], "over": "owner"}],
    "case.closed": [{"over": "registrar"}],
}
URGENT = {"case.breached", "case.escalated", "case.major_opened"}


def _units(case: Case, over: str, co_units: list[Unit] | None = None) -> list[Unit]:
    if over == "owner":
        return [case.owner_unit]
    if over == "unit":
        units = [case.unit] if case.unit_id and case.unit else []
        if co_units is None:
            co_units = [co.unit for co in CoHandling.objects.filter(case=case, round=case.round, active=True)
                        .select_related("unit")]
        return units + co_units
    return []


def users_with_roles_over(roles: Iterable[str], units: Iterable[Unit]) -> set[int]:
    """Users holding one of `roles` in one of the units or an ancestor of it."""
    ancestor_ids: set[int] = set()
    for unit in units:
        ancestor_ids.update(int(p) for p in unit.path.strip("/").split("/") if p)
    if not ancestor_ids:
        return set()
    return set(
        Membership.objects.filter(unit_id__in=ancestor_ids, role__in=list(roles), user__is_active=True)
        .values_list("user_id", flat=True)
    )


def recipients(case: Case, event: str, co_units: list[Unit] | None = None) -> set[int]:
    routes = config_for(case.policy_id).raw.get("notifications", {}).get("routes", {})
    ids: set[int] = set()
    for route in routes.get(event, DEFAULT_ROUTES.get(event, [])):
        over = route.get("over", "owner")
        if over == "registrar":
            ids.add(case.registered_by_id)
        else:
            ids |= users_with_roles_over(route.get("roles", []), _units(case, over, co_units))
    return ids


def notify_batch(items: list[tuple[Case, str, str, dict[str, Any]]]) -> int:
    """Many (case, event, dedupe, extra context) at once, for the scheduler: recipients are
    worked out once per distinct (policy, event, units) and the rows written in bulk."""
    if not items:
        return 0
    co: dict[int, list[Unit]] = {}
    case_ids = [c.pk for c, _, _, _ in items]
    for h in CoHandling.objects.filter(case_id__in=case_ids, active=True).select_related("unit", "case"):
        if h.round == h.case.round:
            co.setdefault(h.case_id, []).append(h.unit)
    cache: dict[tuple[Any, ...], tuple[int, ...]] = {}
    notices = []
    for case, event, dedupe, extra in items:
        units = co.get(case.pk, [])
        key = (case.policy_id, event, case.owner_unit_id, case.unit_id, tuple(u.pk for u in units),
               case.registered_by_id)
        if key not in cache:
            cache[key] = tuple(sorted(recipients(case, event, units)))
        ctx = dict(extra)
        if ctx.get("deadline") is not None:
            ctx["deadline"] = timezone.localtime(ctx["deadline"]).strftime("%Y-%m-%d %H:%M")
        notices.append(Notice(event, case.number, context(case, **ctx), cache[key], dedupe, event in URGENT))
    return enqueue_many(notices)


def context(case: Case, **extra: Any) -> dict[str, Any]:
    unit = case.unit.name if case.unit_id and case.unit else ""
    return {"subject": case.subject, "unit": unit, "severity": case.get_severity_display(),
            "kind": case.get_kind_display(), "state": case.get_state_display(), **extra}


def notify_event(case: Case, event: str, *, dedupe: str, actor: str = "", note: str = "",
                 deadline: Any = None) -> int:
    """Tell everyone the policy routes `event` to; `dedupe` names this occurrence."""
    extra: dict[str, Any] = {"actor": actor, "note": note}
    if deadline is not None:
        extra["deadline"] = timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M")
    return enqueue(event, case_number=case.number, context=context(case, **extra),
                   recipients=sorted(recipients(case, event)), urgent=event in URGENT, dedupe=dedupe)


def notify_roles(case: Case, roles: Iterable[str], event: str, *, reason: str) -> int:
    """A rule's `notify` effect: the roles over the registering centre's line and the unit."""
    units = [case.owner_unit, *_units(case, "unit")]
    ids = users_with_roles_over(roles, units)
    return enqueue(event, case_number=case.number, context=context(case, note=reason), recipients=sorted(ids),
                   urgent=event in URGENT, dedupe=f"{event}:{case.number}:rule:{reason}")


def events_for_action(action: str, from_state: str, case: Case) -> list[str]:
    """The notification events a workflow action produces, given where the case went."""
    to = case.state
    out: list[str] = []
    if to == "pending_approval" and from_state != "pending_approval":
        out.append("case.approval_needed")
    if to == "plan_approval":
        out.append("case.approval_needed")
    if to == "dispatched" and from_state != "dispatched":
        out.append("case.dispatched")
    if action == "escalate":
        out.append("case.escalated")
    if action == "acknowledge":
        out.append("case.acknowledged")
    if to == "result_submitted" and from_state != "result_submitted":
        out.append("case.result_submitted")
    if action == "review" and to == "pending_callback":
        out.append("case.callback_due")
    if action == "request_extension":
        out.append("case.extension_requested")
    if action == "compensate" and case.compensation_status == "requested":
        out.append("case.approval_needed")
    if action == "urge":
        out.append("case.urged")
    if to == "closed" and from_state != "closed":
        out.append("case.closed")
    return out
