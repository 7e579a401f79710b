"""Who is told what about a case: the routing from workflow events to people (DESIGN §6).

Called inside the workflow's transaction; `notify.enqueue` only writes rows there (a notice
with the context, inbox items, outbox messages; nothing is rendered), so a notification
exists exactly when the change that caused it committed. The context is plain data built
here (`context`): notify renders its texts from it later and never reads a case.
Routes come from the policy (`notifications.routes`), falling back to DEFAULT_ROUTES:
for each event, which roles, reached over which unit of the case:
`owner` (the registering centre's line), `unit` (the handling unit, lead and co-units),
`registrar` (the agent who took the case: 首问负责制).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import get_language

from huiyin.notify.services import Occurrence, enqueue, enqueue_many
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
    # issue 12: the complainant on the portal
    "case.reopen_requested": [{"roles": ["dispatcher", "supervisor"], "over": "owner"}],
    "case.information_added": [{"roles": ["dispatcher"], "over": "owner"},
                               {"roles": ["handler", "first_responsible"], "over": "unit"}],
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


def _routes(policy_id: int, event: str) -> list[dict[str, Any]]:
    routes = config_for(policy_id).raw.get("notifications", {}).get("routes", {})
    return routes.get(event, DEFAULT_ROUTES.get(event, []))


def recipients(case: Case, event: str, co_units: list[Unit] | None = None) -> set[int]:
    ids: set[int] = set()
    for route in _routes(case.policy_id, event):
        over = route.get("over", "owner")
        if over == "registrar":
            ids.add(case.registered_by_id)
        else:
            ids |= users_with_roles_over(route.get("roles", []), _units(case, over, co_units))
    return ids


@dataclass(frozen=True)
class Due:
    """One notice of the scheduler for `notify_batch`: which case, which event, the dedupe key
    of the occurrence and the extra context (note, deadline)."""

    case_id: int
    event: str
    dedupe: str
    extra: dict[str, Any]


# What `notify_batch` reads of a case: routing and context, as plain values.
_ROW_FIELDS = ("id", "number", "subject", "severity", "kind", "state", "policy_id", "round", "registered_by_id",
               "owner_unit_id", "unit_id")


def notify_batch(items: Sequence[Due]) -> int:
    """The scheduler's notices (breaches, reminders) for many cases at once: the cases are read
    as plain rows, the recipients worked out once per distinct (policy, event, units) from one
    read of the memberships, and the notices written in bulk (`notify.enqueue_many`; the worker
    writes their inbox items and messages). Returns how many notices were written."""
    if not items:
        return 0
    case_ids = list({i.case_id for i in items})
    rows = {r["id"]: r for r in Case.objects.filter(pk__in=case_ids).values(*_ROW_FIELDS)}
    co: dict[int, list[int]] = {}
    for case_id, unit_id, round_no in CoHandling.objects.filter(case_id__in=case_ids, active=True).values_list(
            "case_id", "unit_id", "round"):
        if round_no == rows[case_id]["round"]:
            co.setdefault(case_id, []).append(unit_id)
    unit_ids = {r[k] for r in rows.values() for k in ("owner_unit_id", "unit_id") if r[k]} | {
        u for units in co.values() for u in units}
    units = {pk: (path, name) for pk, path, name in Unit.objects.filter(pk__in=unit_ids).values_list("pk", "path", "name")}
    who = _Memberships(units)
    cache: dict[tuple[Any, ...], tuple[int, ...]] = {}
    language, tz = get_language(), timezone.get_current_timezone()
    occurrences = []
    for item in items:
        r = rows[item.case_id]
        co_units = tuple(co.get(item.case_id, ()))
        routes = _routes(r["policy_id"], item.event)
        overs = {route.get("over", "owner") for route in routes}
        # The same recipients for every case that agrees on what the event's routes look at.
        key = (r["policy_id"], item.event, r["owner_unit_id"] if "owner" in overs else None,
               (r["unit_id"], co_units) if "unit" in overs else None,
               r["registered_by_id"] if "registrar" in overs else None)
        if key not in cache:
            ids: set[int] = set()
            for route in routes:
                over = route.get("over", "owner")
                if over == "registrar":
                    ids.add(r["registered_by_id"])
                elif over == "owner":
                    ids |= who.over(route.get("roles", []), [r["owner_unit_id"]])
                elif over == "unit":
                    ids |= who.over(route.get("roles", []), [u for u in (r["unit_id"], *co_units) if u])
            cache[key] = tuple(sorted(ids))
        ctx = dict(item.extra)
        if ctx.get("deadline") is not None:
            ctx["deadline"] = _when(ctx["deadline"], tz)
        context_ = {"subject": r["subject"], "unit": units[r["unit_id"]][1] if r["unit_id"] else "",
                    "severity": _label(language, "severity", r["severity"]),
                    "kind": _label(language, "kind", r["kind"]), "state": _label(language, "state", r["state"]),
                    **ctx}
        occurrences.append(Occurrence(item.event, r["number"], context_, cache[key], item.dedupe,
                                      item.event in URGENT))
    return enqueue_many(occurrences)


class _Memberships:
    """`users_with_roles_over` for a batch: one read of the memberships in the units' lines."""

    def __init__(self, units: dict[int, tuple[str, str]]) -> None:
        self.ancestors = {pk: [int(p) for p in path.strip("/").split("/") if p] for pk, (path, _) in units.items()}
        lines = {a for ids in self.ancestors.values() for a in ids}
        self.held: dict[tuple[int, str], set[int]] = {}
        for user_id, unit_id, role in Membership.objects.filter(unit_id__in=lines, user__is_active=True).values_list(
                "user_id", "unit_id", "role"):
            self.held.setdefault((unit_id, role), set()).add(user_id)

    def over(self, roles: Iterable[str], unit_ids: Iterable[int]) -> set[int]:
        out: set[int] = set()
        for unit_id in unit_ids:
            for ancestor in self.ancestors.get(unit_id, ()):
                for role in roles:
                    out |= self.held.get((ancestor, role), set())
        return out


def _when(moment: Any, tz: Any = None) -> str:
    """A deadline as the texts show it, in Beijing time."""
    return moment.astimezone(tz or timezone.get_current_timezone()).strftime("%Y-%m-%d %H:%M")


def context(case: Case, **extra: Any) -> dict[str, Any]:
    """The plain data notify renders texts from (and sends to webhooks as `data`): the
    case's subject, unit and labels as text — never the complainant (DESIGN §8).
    `notify_batch` builds the same from plain rows."""
    unit = case.unit.name if case.unit_id and case.unit else ""
    language = get_language()
    return {"subject": case.subject, "unit": unit, "severity": _label(language, "severity", case.severity),
            "kind": _label(language, "kind", case.kind), "state": _label(language, "state", case.state), **extra}


@cache
def _label(language: str | None, field: str, value: str) -> str:
    """A choice's label in a language (what `get_FOO_display` gives, without its cost per call:
    the scheduler builds thousands of contexts a pass)."""
    column = Case._meta.get_field(field)
    assert isinstance(column, models.Field)
    return str(dict(column.flatchoices).get(value, value))


def notify_event(case: Case, event: str, *, dedupe: str, actor: str = "", note: str = "",
                 deadline: Any = None) -> int:
    """Tell everyone the policy routes `event` to; `dedupe` names this occurrence."""
    extra: dict[str, Any] = {"actor": actor, "note": note}
    if deadline is not None:
        extra["deadline"] = _when(deadline)
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
