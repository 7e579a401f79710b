"""Who is told what about a case: the routing from workflow events to people (DESIGN §6).

Called inside the workflow's transaction; `notify.enqueue` only writes rows there (a notice
with the context, inbox items, outbox messages; nothing is rendered), so a notification
exists exactly when the change that caused it committed. The context is plain data built
here (`context`): notify renders its texts from it later and never reads a case.
Routes come from the policy (`notifications.routes`), falling back to DEFAULT_ROUTES:
for each event, which roles, reached over which unit of the case:
`owner` (the registering centre's line), `unit` (the handling unit, lead and co-units),
`registrar` (the agent who took the case: 首问负责制), `awaiting` (the approver an approval
chain waits for, at each level); only `when` the case's severity, kind, channel, flags or the
hour match; over the `transport` the route chooses; to whoever is on `duty` (DutyShift).
Nobody is told of their own action.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language

from huiyin import kept
from huiyin.db import pk_in
from huiyin.notify.services import PREFERENCES, Occurrence, enqueue, enqueue_many
from huiyin.org.models import DutyShift, Membership, Unit
from huiyin.policies.config import PolicyConfig
from huiyin.policies.services import config_for
from huiyin.sla.calendar import in_business_hours

from .models import Case, CoHandling

DEFAULT_ROUTES: dict[str, list[dict[str, Any]]] = {
    "case.created": [],
    # the approver the chain waits for at each level; the leader when it waits for no one
    "case.approval_needed": [{"roles": ["leader"], "over": "awaiting"}],
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


# --- routing: which people, over which transports ---------------------------------------------


@dataclass(frozen=True)
class About:
    """What routing looks at of a case, as plain values: built from a `Case` (`about`) or from
    the rows `notify_batch` reads."""

    policy_id: int
    severity: str
    kind: str
    channel: str
    flags: frozenset[str]
    owner_unit_id: int
    unit_id: int | None
    co_unit_ids: tuple[int, ...]
    registered_by_id: int | None
    awaiting: str


def about(case: Case, co_units: list[Unit] | None = None) -> About:
    if co_units is None:
        co_ids = tuple(unit for (unit,) in kept.rows(("notifications.co_units",), lambda values: CoHandling.objects.filter(
            case_id=values[0], round=values[1], active=True).values_list("unit_id"), [case.pk, case.round])) \
            if case.unit_id else ()
    else:
        co_ids = tuple(u.pk for u in co_units)
    return About(case.policy_id, case.severity, case.kind, case.channel, frozenset(case.flags or ()),
                 case.owner_unit_id, case.unit_id, co_ids, case.registered_by_id, case.awaiting or "")


def _routes(policy_id: int, event: str) -> list[dict[str, Any]]:
    routes = config_for(policy_id).raw.get("notifications", {}).get("routes", {})
    return routes.get(event, DEFAULT_ROUTES.get(event, []))


def _applies(when: dict[str, Any] | None, c: About, cfg: PolicyConfig, now: datetime) -> bool:
    """A route's `when`: every key given must hold (severities, kinds, channels: one of; flags:
    any of; hours: `in` or `out` of the policy's business hours on the working-day calendar)."""
    if not when:
        return True
    for key, fact in _WHEN_FACTS.items():
        if key in when:
            value = getattr(c, fact)
            if not (value.intersection(when[key]) if key == "flags" else value in when[key]):
                return False
    return "hours" not in when or in_business_hours(now, cfg.business_hours) == (when["hours"] == "in")


# The facts of `About` a route's `when` looks at (`_applies`), by key; "hours" looks at the clock.
_WHEN_FACTS = {"severities": "severity", "kinds": "kind", "channels": "channel", "flags": "flags"}


class Memberships:
    """Who holds which role in the units' lines (each unit and its ancestors), read once for
    many cases, and who is on duty there (值班, read when a route asks)."""

    def __init__(self, units: dict[int, str]) -> None:
        """`units`: id → materialised path of every unit the routes may look over. The
        memberships are read when a route first asks who holds a role (an event routed to
        nobody by role, such as `case.created` by default, reads none)."""
        self.ancestors = {pk: [int(p) for p in path.strip("/").split("/") if p] for pk, path in units.items()}
        self.lines = {a for ids in self.ancestors.values() for a in ids}
        self._held: dict[tuple[int, str], set[int]] | None = None
        self._codes: dict[int, str] = {}
        self._duty: dict[datetime, set[tuple[int, int]]] = {}

    def _read(self) -> dict[tuple[int, str], set[int]]:
        if self._held is None:
            self._held = {}
            # on every event routed by role: SQL kept per process and number of units (`kept`)
            for user_id, unit_id, role, code in kept.rows(("notifications.memberships",), lambda values: (
                    Membership.objects.filter(unit_id__in=list(values), user__is_active=True)
                    .values_list("user_id", "unit_id", "role", "unit__code")), sorted(self.lines)):
                self._held.setdefault((unit_id, role), set()).add(user_id)
                self._codes[unit_id] = code
        return self._held

    @property
    def held(self) -> dict[tuple[int, str], set[int]]:
        """(unit id, role) → ids of the active users holding the role there."""
        return self._read()

    @property
    def codes(self) -> dict[int, str]:
        """unit id → code, of the units of the lines where someone holds a role."""
        self._read()
        return self._codes

    @classmethod
    def of(cls, unit_ids: Iterable[int | None]) -> Memberships:
        ids = {u for u in unit_ids if u}
        return cls(dict(kept.rows(("notifications.unit_paths",), lambda values: Unit.objects.filter(
            pk__in=list(values)).values_list("pk", "path"), sorted(ids))) if ids else {})

    def on_duty(self, now: datetime) -> set[tuple[int, int]]:
        if now not in self._duty:
            self._duty[now] = set(DutyShift.objects.filter(
                unit_id__in=self.lines, starts_at__lte=now, ends_at__gt=now).values_list("unit_id", "user_id"))
        return self._duty[now]

    def over(self, roles: Iterable[str], unit_ids: Iterable[int | None], cfg: PolicyConfig, *,
             duty: bool = False, now: datetime | None = None) -> set[int]:
        """The users holding one of `roles` (built-in, or a policy role: a built-in role held in
        a named unit) in one of the units or an ancestor. With `duty`, those of them on duty
        now for the unit where they hold it — or all of them when nobody is."""
        found: set[tuple[int, int]] = set()
        held = self.held
        for name in roles:
            policy_role = cfg.roles.get(name)
            base = policy_role.role if policy_role else name
            only = policy_role.unit if policy_role else ""
            for unit_id in unit_ids:
                for ancestor in self.ancestors.get(unit_id or 0, ()):
                    if only and self.codes.get(ancestor) != only:
                        continue
                    found.update((ancestor, u) for u in held.get((ancestor, base), ()))
        if duty and now is not None and (on := found & self.on_duty(now)):
            found = on
        return {u for _, u in found}


def targets(c: About, event: str, who: Memberships, now: datetime) -> dict[int, list[str] | None]:
    """The people the policy routes `event` to for a case, each with the transports a route
    chose for them (None: their own preferences). Routes, in the policy's `notifications.routes`
    (docs/policies.md): `roles`, `over` (owner | unit | registrar | awaiting), `when`,
    `transport`, `duty`."""
    cfg = config_for(c.policy_id)
    out: dict[int, set[str]] = {}
    for route in _routes(c.policy_id, event):
        if not _applies(route.get("when"), c, cfg, now):
            continue
        over = route.get("over", "owner")
        roles = route.get("roles", [])
        duty = bool(route.get("duty"))
        if over == "registrar":
            ids = {c.registered_by_id} if c.registered_by_id else set()
        elif over == "awaiting":
            # the approver the chain waits for, over the registering line and the handling unit
            # (where `access.holds` looks); the route's roles when it waits for nobody
            ids = who.over([c.awaiting] if c.awaiting else roles, [c.owner_unit_id, c.unit_id], cfg,
                           duty=duty, now=now)
        elif over == "unit":
            ids = who.over(roles, [c.unit_id, *c.co_unit_ids], cfg, duty=duty, now=now)
        else:
            ids = who.over(roles, [c.owner_unit_id], cfg, duty=duty, now=now)
        mine = set(route.get("transport") or [PREFERENCES])
        for user_id in ids:
            out[user_id] = out.get(user_id, set()) | mine
    # None where a person hears over their own preferences only
    return {u: (None if t == {PREFERENCES} else sorted(t)) for u, t in out.items()}


def recipients(case: Case, event: str, co_units: list[Unit] | None = None) -> set[int]:
    """The ids of the people the policy routes `event` to for the case, now."""
    c = about(case, co_units)
    return set(targets(c, event, Memberships.of([c.owner_unit_id, c.unit_id, *c.co_unit_ids]), timezone.now()))


def _chosen(found: dict[int, list[str] | None]) -> dict[str, list[str]]:
    return {str(u): t for u, t in found.items() if t is not None}


@dataclass(frozen=True)
class Due:
    """One notice of the scheduler for `notify_batch`: which case, which event, the dedupe key
    of the occurrence and the extra context (note, deadline)."""

    case_id: int
    event: str
    dedupe: str
    extra: dict[str, Any]
    # The timer the notice is about: an obligation's reminder or breach goes to the role the
    # obligation is assigned to (`obligations[].role`), not to the event's routes.
    timer: str = ""


# What `notify_batch` reads of a case: routing and context, as plain values.
_ROW_FIELDS = ("id", "number", "subject", "severity", "kind", "channel", "flags", "state", "policy_id", "round",
               "registered_by_id", "owner_unit_id", "unit_id", "awaiting")


def notify_batch(items: Sequence[Due]) -> int:
    """The scheduler's notices (breaches, reminders) for many cases at once: the cases are read
    as plain rows, the recipients worked out once per distinct routing facts from one read of
    the memberships, and the notices written in bulk (`notify.enqueue_many`; the worker writes
    their inbox items and messages). Returns how many notices were written."""
    return enqueue_many(occurrences(items))


def occurrences(items: Sequence[Due]) -> list[Occurrence]:
    """`notify_batch`'s reading half: the occurrences of the items, recipients and context
    worked out, nothing written (the sweeps do it before their write transaction)."""
    if not items:
        return []
    case_ids = list({i.case_id for i in items})
    rows = {r["id"]: r for r in Case.objects.filter(pk_in(Case, case_ids)).values(*_ROW_FIELDS)}
    co: dict[int, list[int]] = {}
    for case_id, unit_id, round_no in CoHandling.objects.filter(pk_in(CoHandling, case_ids, column="case"),
                                                                active=True).values_list("case_id", "unit_id", "round"):
        if round_no == rows[case_id]["round"]:
            co.setdefault(case_id, []).append(unit_id)
    unit_ids = {r[k] for r in rows.values() for k in ("owner_unit_id", "unit_id") if r[k]} | {
        u for units in co.values() for u in units}
    units = {pk: (path, name) for pk, path, name in Unit.objects.filter(pk__in=unit_ids).values_list("pk", "path", "name")}
    who = Memberships({pk: path for pk, (path, _) in units.items()})
    cache: dict[tuple[Any, ...], dict[int, list[str] | None]] = {}
    facts: dict[tuple[int, str], tuple[str, ...]] = {}
    language, tz, now = get_language(), timezone.get_current_timezone(), timezone.now()
    out: list[Occurrence] = []
    shown: dict[Any, str] = {}  # deadlines as the texts show them (many timers fall due together)
    for item in items:
        r = rows[item.case_id]
        c = About(r["policy_id"], r["severity"], r["kind"], r["channel"], frozenset(r["flags"] or ()),
                  r["owner_unit_id"], r["unit_id"], tuple(co.get(item.case_id, ())), r["registered_by_id"],
                  r["awaiting"] or "")
        # The same people for every case that agrees on what routing looks at (only the facts
        # the event's routes read: not the registrar when no route goes over the registrar …).
        duty = config_for(c.policy_id).obligation(item.timer) if item.timer else None
        if duty:
            key: tuple[Any, ...] = (item.event, c.policy_id, duty.role, c.owner_unit_id, c.unit_id)
        else:
            looked_at = facts.get((c.policy_id, item.event))
            if looked_at is None:
                looked_at = facts[(c.policy_id, item.event)] = _facts_routed_on(_routes(c.policy_id, item.event))
            key = (item.event, c.policy_id, None, *(getattr(c, f) for f in looked_at))
        if key not in cache:
            cache[key] = ({u: None for u in who.over([duty.role], [c.owner_unit_id, c.unit_id],
                                                     config_for(c.policy_id))}
                          if duty else targets(c, item.event, who, now))
        found = cache[key]
        ctx = dict(item.extra)
        if (moment := ctx.get("deadline")) is not None:
            if moment not in shown:
                shown[moment] = _when(moment, tz)
            ctx["deadline"] = shown[moment]
        context_ = {"subject": r["subject"], "unit": units[r["unit_id"]][1] if r["unit_id"] else "",
                    "severity": _label(language, "severity", r["severity"]),
                    "kind": _label(language, "kind", r["kind"]), "state": _label(language, "state", r["state"]),
                    **ctx}
        out.append(Occurrence(item.event, r["number"], context_, tuple(sorted(found)), item.dedupe,
                              item.event in URGENT, _chosen(found) or None))
    return out


# The facts of `About` a route's `over` looks at (`targets`); its `when`'s: `_WHEN_FACTS`.
_OVER_FACTS = {"registrar": ("registered_by_id",), "awaiting": ("awaiting", "owner_unit_id", "unit_id"),
               "unit": ("unit_id", "co_unit_ids"), "owner": ("owner_unit_id",)}


def _facts_routed_on(routes: list[dict[str, Any]]) -> tuple[str, ...]:
    """The names of the `About` facts that decide who `routes` reach (the hour is the batch's):
    two cases agreeing on them have the same recipients."""
    names: set[str] = set()
    for route in routes:
        names.update(_OVER_FACTS.get(route.get("over", "owner"), _OVER_FACTS["owner"]))
        names.update(_WHEN_FACTS[k] for k in (route.get("when") or {}) if k in _WHEN_FACTS)
    return tuple(sorted(names))


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
                 deadline: Any = None, actor_id: int | None = None, changed: str = "",
                 machines_later: bool = False) -> int:
    """Tell everyone the policy routes `event` to; `dedupe` names this occurrence. The person who
    acted (`actor_id`) is not told of their own action; `changed` says what it changed.
    `machines_later`: see `notify.enqueue` (the intake's announcements)."""
    extra: dict[str, Any] = {"actor": actor, "note": note}
    if changed:
        extra["changed"] = changed
    if deadline is not None:
        extra["deadline"] = _when(deadline)
    c = about(case)
    found = targets(c, event, _memberships(case, c), timezone.now())
    found.pop(actor_id or 0, None)
    return enqueue(event, case_number=case.number, context=context(case, **extra),
                   recipients=sorted(found), urgent=event in URGENT, dedupe=dedupe, transports=_chosen(found) or None,
                   machines_later=machines_later)


def _memberships(case: Case, c: About) -> Memberships:
    """`Memberships.of` the case's units, without reading the units again when the case holds
    them already (a new case: its owner unit, read with the registrar's grants)."""
    loaded = case._state.fields_cache
    owner, unit = loaded.get("owner_unit"), loaded.get("unit")
    if (not c.co_unit_ids and owner is not None and owner.pk == c.owner_unit_id
            and (c.unit_id is None or (unit is not None and unit.pk == c.unit_id))):
        return Memberships({u.pk: u.path for u in (owner, unit) if u is not None})
    return Memberships.of([c.owner_unit_id, c.unit_id, *c.co_unit_ids])


def notify_roles(case: Case, roles: Iterable[str], event: str, *, reason: str) -> int:
    """A rule's `notify` effect: the roles (built-in or the policy's) over the registering
    centre's line and the handling units."""
    c = about(case)
    who = Memberships.of([c.owner_unit_id, c.unit_id, *c.co_unit_ids])
    ids = who.over(roles, [c.owner_unit_id, c.unit_id, *c.co_unit_ids], config_for(case.policy_id))
    return enqueue(event, case_number=case.number, context=context(case, note=reason), recipients=sorted(ids),
                   urgent=event in URGENT, dedupe=f"{event}:{case.number}:rule:{reason}")


# Bookkeeping that a reader of a notice does not need to be told about.
_UNTOLD = frozenset({"version", "approval_level", "reply_level", "awaiting", "next_due_at", "next_remind_at",
                     "updated_at", "search_text"})


def changed_text(changes: dict[str, list[Any]], *, limit: int = 6) -> str:
    """What an action changed, as a notice says it: "状态：待批示 → 已派单；承办单位：— → 县局A"
    (labels for choices, names for units; bookkeeping and time stamps left out)."""
    language = get_language()
    named: list[tuple[models.Field, list[Any]]] = []
    for name, pair in changes.items():
        if name in _UNTOLD or not isinstance(pair, list) or len(pair) != 2:
            continue
        try:
            column = Case._meta.get_field(name)
        except FieldDoesNotExist:  # a note of the step (e.g. the approval level), not a field
            continue
        if not isinstance(column, models.Field) or isinstance(column, models.DateTimeField):
            continue
        if str(column.verbose_name) == name.replace("_", " "):
            continue  # a field without a name for people is bookkeeping
        named.append((column, pair))
    codes = {v for column, pair in named if column.is_relation and column.related_model is Unit for v in pair if v}
    units = dict(Unit.objects.filter(code__in=codes).values_list("code", "name")) if codes else {}
    parts = []
    for column, pair in named[:limit]:
        old, new = (units.get(v, v) if column.related_model is Unit else v for v in pair)
        parts.append(f"{column.verbose_name}：{_shown(language, column, old)} → {_shown(language, column, new)}")
    return "；".join(parts)


def _shown(language: str | None, column: models.Field, value: Any) -> str:
    if value in (None, "", []):
        return "—"
    if column.choices and isinstance(value, str):
        return _label(language, column.name, value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)[:60]
    return str(value)[:60]


def events_for_action(action: str, from_state: str, case: Case) -> list[str]:
    """The notification events a workflow action produces, given where the case went."""
    to = case.state
    out: list[str] = []
    if to == "pending_approval" and from_state != "pending_approval":
        out.append("case.approval_needed")
    if to == "plan_approval" and from_state != "plan_approval":
        out.append("case.approval_needed")
    if to == "result_submitted" and from_state != "result_submitted" and case.awaiting:
        out.append("case.approval_needed")  # the reply's first approver (答复审核)
    if action in ("approve", "approve_plan", "approve_reply") and to == from_state and case.awaiting:
        out.append("case.approval_needed")  # the chain climbed a level: its next approver
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
