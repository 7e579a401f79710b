"""Applying the active policy's rules to a case (DESIGN §5), once per rule per case.

`policies.rules` decides whether a rule matches; this module builds the case's facts,
answers the counting and history questions from the database, applies the effects and
writes each fired rule on the timeline (action "rule", the rule's name as comment).
Called on intake, after every action, and by the scheduler; always inside a transaction
with the case row locked, and guarded by the unique RuleHit row, so a rule never fires
twice on one case even with several workers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from huiyin.policies.rules import Facts, Rule, matches, raises_severity
from huiyin.policies.services import config_for
from huiyin.sla import calendar as cal

from .models import FINAL_STATES, Case, Category, Event, RuleHit, State, Timer

_category_paths: dict[int, list[str]] = {}


def _category_path(category_id: int | None) -> list[str]:
    if category_id is None:
        return []
    path = _category_paths.get(category_id)
    if path is None:
        path = []
        cat = Category.objects.filter(pk=category_id).first()
        while cat is not None:
            path.append(cat.code)
            cat = cat.parent
        _category_paths[category_id] = path
    return path


def clear_cache() -> None:
    _category_paths.clear()


def customer_q(case: Case) -> Q | None:
    """The same customer: normalised phone, account or ID number (whichever is known)."""
    q = Q()
    if case.complainant_phone:
        q |= Q(complainant_phone=case.complainant_phone)
    if case.complainant_account:
        q |= Q(complainant_account=case.complainant_account)
    if case.complainant_id_number:
        q |= Q(complainant_id_number=case.complainant_id_number)
    return q if q.children else None


def latest_closed_of_customer(case: Case, days: int) -> Case | None:
    q = customer_q(case)
    if q is None:
        return None
    since = case.received_at - timedelta(days=days)
    return (
        Case.objects.filter(q, state=State.CLOSED, closed_at__gte=since, closed_at__lte=case.received_at)
        .exclude(pk=case.pk)
        .exclude(close_reason="merged")
        .order_by("-closed_at")
        .first()
    )


SAME_FIELDS = {
    "category": "category_id", "region": "region", "unit": "unit_id", "owner_unit": "owner_unit_id",
    "kind": "kind", "phone": "complainant_phone", "account": "complainant_account", "subject": "subject",
    "product": "product",
}


def facts_for(case: Case, now: datetime) -> Facts:
    def age(unit: str) -> float:
        if unit == "hours":
            return (now - case.received_at).total_seconds() / 3600
        if unit == "working_days":
            minutes = cal.business_minutes_between(case.received_at, now)
            return minutes / max(1, cal.DEFAULT_HOURS.minutes_per_day)
        return (now - case.received_at).total_seconds() / 86400

    def count(same: tuple[str, ...], hours: float, kinds: tuple[str, ...], channels: tuple[str, ...] = ()) -> int:
        window = timedelta(hours=hours)
        filters: dict[str, Any] = {}
        for key in same:
            value = getattr(case, SAME_FIELDS[key])
            if value in (None, ""):
                return 1  # nothing to compare on: only this case
            filters[SAME_FIELDS[key]] = value
        qs = Case.objects.filter(received_at__gte=case.received_at - window, received_at__lte=case.received_at + window,
                                 **filters)
        if kinds:
            qs = qs.filter(kind__in=kinds)
        if channels:
            qs = qs.filter(channel__in=channels)
        return qs.exclude(close_reason="merged").count()

    def repeat(days: int) -> bool:
        return latest_closed_of_customer(case, days) is not None

    def share(of: str, hours: float) -> float | None:
        unit = case.unit if of == "unit" else case.owner_unit
        if unit is None or not unit.customers:
            return None
        window = timedelta(hours=hours)
        qs = Case.objects.filter(**{f"{of}_id": unit.pk}, received_at__gte=case.received_at - window,
                                 received_at__lte=case.received_at + window)
        people = set(qs.exclude(complainant_phone="").values_list("complainant_phone", flat=True))
        people |= {f"acct:{a}" for a in qs.filter(complainant_phone="").exclude(complainant_account="")
                   .values_list("complainant_account", flat=True)}
        return len(people) / unit.customers

    cached: list[dict[str, str]] = []

    def timer_states() -> dict[str, str]:
        if not cached:
            states: dict[str, str] = {}
            for code, state in Timer.objects.filter(case=case, round=case.round, co_unit__isnull=True).order_by(
                "id"
            ).values_list("code", "state"):
                states[code] = state
            cached.append(states)
        return cached[0]

    return Facts(
        values={
            "kind": case.kind, "channel": case.channel, "state": case.state, "severity": case.severity,
            "class": case.case_class, "amount": case.amount, "people_count": case.people_count,
            "category": _category_path(case.category_id)[0] if case.category_id else None,
            "customer_class": case.customer_class, "satisfaction": case.satisfaction, "round": case.round,
            "urge_count": case.urge_count, "region": case.region,
            "text": "\n".join((case.subject, case.description, case.demands)),
            "unit": case.unit.code if case.unit_id and case.unit else None,
            "owner_unit": case.owner_unit.code if case.owner_unit_id else None,
        },
        flags=set(case.flags), tags=set(case.tags), category_path=_category_path(case.category_id),
        age=age, timer_states=timer_states, count=count, repeat=repeat, share=share,
    )


def rules_apply(case: Case, *, trigger: str, now: datetime | None = None, only: list[Rule] | None = None) -> list[str]:
    """Evaluate the case's policy rules for `trigger` and apply those that match and have
    not fired on this case before. The caller holds the case row locked in a transaction.
    Returns the names of the rules that fired."""
    if case.state in FINAL_STATES and trigger != "change":
        return []
    now = now or timezone.now()
    cfg = config_for(case.policy_id)
    rules = [r for r in (only if only is not None else cfg.rules) if trigger in r.on]
    if not rules:
        return []
    # a case just registered has no rule hits yet
    fired_before = set() if trigger == "intake" else set(
        RuleHit.objects.filter(case=case).values_list("rule", flat=True))
    fired: list[str] = []
    facts: Facts | None = None
    for rule in rules:
        if rule.name in fired_before:
            continue
        if facts is None:
            facts = facts_for(case, now)
        if not matches(rule.when, facts):
            continue
        changes = _apply_effects(case, rule, now)
        RuleHit.objects.create(case=case, rule=rule.name, at=now)
        Event.objects.create(case=case, action="rule", actor=None, at=now, source="rules", comment=rule.name,
                             changes={"rule": [None, rule.name], **changes})
        fired.append(rule.name)
        facts = None  # effects may change what later rules see
    return fired


def _apply_effects(case: Case, rule: Rule, now: datetime) -> dict[str, list[Any]]:
    from . import notifications

    changes: dict[str, list[Any]] = {}
    dirty: set[str] = set()

    def put(name: str, value: Any) -> None:
        old = getattr(case, name)
        if old != value:
            setattr(case, name, value)
            dirty.add(name)
            changes[name] = [old, value]

    for effect in rule.then:
        key, value = next(iter(effect.items()))
        if key == "set_severity" and raises_severity(case.severity, value):
            put("severity", value)
        elif key == "set_class":
            put("case_class", value)
        elif key == "add_tag" and value not in case.tags:
            put("tags", [*case.tags, value])
        elif key == "require_approval" and value:
            put("requires_approval", True)
        elif key == "escalate" and value:
            put("escalated", True)
            if "escalated" not in case.tags:
                put("tags", [*case.tags, "escalated"])
            notifications.notify_roles(case, ("supervisor", "leader"), "case.escalated", reason=rule.name)
            changes["notify"] = [None, ["supervisor", "leader"]]
        elif key == "notify":
            roles = tuple(value.get("roles", []))
            notifications.notify_roles(case, roles, value.get("event", "case.reminder"), reason=rule.name)
            changes["notify"] = [None, list(roles)]
        elif key == "mark_repeat" and value and case.repeat_of_id is None:
            days = int(value) if isinstance(value, int) and not isinstance(value, bool) else 30
            previous = latest_closed_of_customer(case, days)
            if previous is not None:
                case.repeat_of = previous
                dirty.add("repeat_of")
                changes["repeat_of"] = [None, previous.number]
                if "repeat" not in case.tags:
                    put("tags", [*case.tags, "repeat"])
    if dirty:
        case.version += 1
        dirty.add("version")
        case.save(update_fields=sorted(dirty | {"updated_at"}))
    return changes
