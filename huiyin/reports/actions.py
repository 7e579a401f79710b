"""Corrective and preventive actions (纠正预防措施, DESIGN §11): a typical complaint traced to its
root cause — one action linked to one or many cases, with an owner, a due date on the
working-day calendar, evidence and a verification by another person. Overdue actions are
announced once to their owner and the unit's supervisors, and listed like cases (most urgent
first, overdue in red).

Linking an action to a case appends a `capa` event to the case's timeline (through the workflow).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from huiyin.cases import workflow
from huiyin.cases.access import case_for
from huiyin.cases.errors import BadInput, Forbidden, InvalidTransition
from huiyin.cases.models import Case
from huiyin.notify.services import enqueue
from huiyin.org.access import roles_over, subtree_ids, users_with_roles_over, visible_unit, visible_unit_ids
from huiyin.org.models import Role, Unit, User
from huiyin.sla import calendar as cal

from .models import ActionState, CorrectiveAction

OWNERS_OF = (Role.SUPERVISOR, Role.LEADER, Role.DISPATCHER)  # who opens an action for a unit
VERIFIERS = (Role.SUPERVISOR, Role.LEADER)


def actions_for(user: User) -> QuerySet[CorrectiveAction]:
    """The actions of the units in the user's subtrees and the user's own, most urgent first."""
    return (CorrectiveAction.objects.filter(Q(unit_id__in=visible_unit_ids(user)) | Q(owner=user))
            .select_related("unit", "owner").order_by("due_at", "id"))


def action_for(user: User, pk: int) -> CorrectiveAction | None:
    return actions_for(user).filter(pk=pk).first()


def is_overdue(action: CorrectiveAction, now: datetime | None = None) -> bool:
    return action.state == ActionState.OPEN and action.due_at < (now or timezone.now())


def open_action(*, by: User, title: str, root_cause: str, plan: str, unit_code: str, owner_username: str,
                due_days: int, case_numbers: list[str]) -> CorrectiveAction:
    """Open an action for `unit`, owned by `owner`, due in `due_days` working days, linked to the
    cases (each visible to `by`); each case's timeline records it."""
    fields: dict[str, str] = {}
    if not title.strip():
        fields["title"] = "required"
    if not root_cause.strip():
        fields["root_cause"] = "required"
    if not 1 <= due_days <= 250:
        fields["due_days"] = "between 1 and 250 working days"
    unit = visible_unit(by, unit_code) if unit_code else None
    if unit is None:
        fields["unit"] = "unknown unit code"
    owner = User.objects.filter(username=owner_username, is_active=True).first() if owner_username else None
    if owner is None:
        fields["owner"] = "unknown user"
    cases: list[Case] = []
    for number in dict.fromkeys(n.strip() for n in case_numbers if n.strip()):
        case = case_for(by, number)
        if case is None:
            fields["cases"] = f"unknown case {number}"
            break
        cases.append(case)
    if not cases and "cases" not in fields:
        fields["cases"] = "link at least one case"
    if fields:
        raise BadInput("Some fields are invalid: " + ", ".join(sorted(fields)), fields=fields)
    assert unit is not None and owner is not None
    if not roles_over(by, unit) & set(OWNERS_OF):
        raise Forbidden("A supervisor, leader or dispatcher over the unit opens corrective actions.")
    if not owner.memberships.filter(unit_id__in=subtree_ids({unit.path})).exists():
        raise BadInput("The owner works in another unit.", fields={"owner": "not in the unit"})
    now = timezone.now()
    due = cal.deadline_add(now, due_days, cal.TimeUnit.WORKING_DAYS)
    with transaction.atomic():
        action = CorrectiveAction.objects.create(
            title=title.strip()[:200], root_cause=root_cause.strip(), plan=plan.strip(), unit=unit, owner=owner,
            created_by=by, created_at=now, due_at=due.due_at, due_days=due_days, due_provisional=due.provisional,
        )
        action.cases.set(cases)
        for case in cases:
            with workflow.change(case, "capa", actor=by, source="web") as step:
                step.note("corrective_action", {"id": action.pk, "title": action.title,
                                                "due_at": timezone.localtime(action.due_at).isoformat()})
    return action


def submit(action: CorrectiveAction, *, by: User, evidence: str) -> CorrectiveAction:
    """The owner reports it done, with the evidence (what was changed, where it can be seen)."""
    if by.pk != action.owner_id:
        raise Forbidden("Only the action's owner submits its evidence.")
    if not evidence.strip():
        raise BadInput("Describe the evidence.", fields={"evidence": "required"})
    changed = CorrectiveAction.objects.filter(pk=action.pk, state=ActionState.OPEN).update(
        state=ActionState.SUBMITTED, evidence=evidence.strip(), submitted_at=timezone.now())
    if not changed:
        raise InvalidTransition("The action is not open.")
    action.refresh_from_db()
    return action


def verify(action: CorrectiveAction, *, by: User, accept: bool, note: str = "") -> CorrectiveAction:
    """Another person (a supervisor or leader over the unit, never the owner) checks the evidence:
    accepted, the action is verified; not, it is open again with the reason."""
    if by.pk == action.owner_id:
        raise Forbidden("The owner cannot verify their own action.")
    if not roles_over(by, action.unit) & set(VERIFIERS):
        raise Forbidden("A supervisor or leader over the unit verifies corrective actions.")
    if not accept and not note.strip():
        raise BadInput("Say what is missing.", fields={"note": "required"})
    update: dict[str, Any] = {"verify_note": note.strip()}
    if accept:
        update |= {"state": ActionState.VERIFIED, "verified_by": by, "verified_at": timezone.now()}
    else:
        update |= {"state": ActionState.OPEN}
    changed = CorrectiveAction.objects.filter(pk=action.pk, state=ActionState.SUBMITTED).update(**update)
    if not changed:
        raise InvalidTransition("The action waits for no verification.")
    action.refresh_from_db()
    return action


def remind_overdue(now: datetime | None = None, *, limit: int = 100) -> int:
    """Announce each open action that is past due, once (claimed by a conditional UPDATE)."""
    now = now or timezone.now()
    due = list(CorrectiveAction.objects.filter(state=ActionState.OPEN, reminded_at__isnull=True, due_at__lt=now)
               .values_list("pk", flat=True)[:limit])
    told = 0
    for pk in due:
        with transaction.atomic():
            if not CorrectiveAction.objects.filter(pk=pk, reminded_at__isnull=True).update(reminded_at=now):
                continue  # another worker took it
            action = CorrectiveAction.objects.select_related("unit", "owner").get(pk=pk)
            ids = {action.owner_id} | users_with_roles_over([Role.SUPERVISOR], [action.unit])
            enqueue("action.overdue", case_number="", recipients=ids, dedupe=f"action.overdue:{pk}",
                    context={"subject": action.title, "unit": action.unit.name,
                             "deadline": timezone.localtime(action.due_at).strftime("%Y-%m-%d %H:%M"),
                             "note": f"责任人:{action.owner.display_name or action.owner.username}",
                             "url": f"/reports/actions/{pk}/"})
            told += 1
    return told


def units_for_new(user: User) -> list[Unit]:
    ids = set(visible_unit_ids(user))
    return [u for u in Unit.objects.filter(id__in=ids, active=True).order_by("path")
            if roles_over(user, u) & set(OWNERS_OF)]
