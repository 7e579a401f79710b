"""What the policy's rules (DESIGN §5) see of a case, and what their effects do to it.

`policies.rules` decides whether a rule matches; this module builds the case's facts,
answers the counting and history questions from the database (the same customer, counts in a
window, a share of a unit's customers), and applies a fired rule's effects through the
workflow's `Step`. `cases.workflow.rules_apply` runs the rules: on intake, after every action
and from the scheduler, each fired rule one `rule` event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, time, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from huiyin import kept
from huiyin.policies.rules import Facts, Rule, raises_severity
from huiyin.sla import calendar as cal

from . import derived, identity
from .models import Case, Category, CloseReason, Kind, State, Timer, Validity

if TYPE_CHECKING:
    from .workflow import Step

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


CUSTOMER_FIELDS = ("complainant_phone", "complainant_account", "complainant_id_number")


def customer_q(case: Case) -> Q | None:
    """The same customer: phone, account or ID number (whichever is known), through their keyed
    hashes (cases.identity). Reports (举报) are never matched by identity, either way: a report is
    not linked to the reporter's other cases, nor another case to a report (issue 11)."""
    found = _customer_hashes(case)
    return None if found is None else _customer_q(found)


def _customer_hashes(case: Case) -> dict[str, list[str]] | None:
    """The customer's identity hashes by field (whichever is known); None for a report or nobody."""
    if case.kind == Kind.REPORT:
        return None
    found = {name: identity.search_hashes(name, getattr(case, name)) for name in CUSTOMER_FIELDS if getattr(case, name)}
    return found or None


def _customer_q(found: Mapping[str, list[str]]) -> Q:
    q = Q()
    for name, hashes in found.items():
        q |= identity.matches_hashes(name, hashes)
    return q & ~Q(kind=Kind.REPORT)


_LATEST_FIELDS = ("id", "number", "closed_at")


def latest_closed_of_customer(case: Case, days: int) -> Case | None:
    """The customer's (`customer_q`) most recently closed case, closed in the `days` before `case`
    was received and not merged away; `case` itself left out. The intake runs it for every new
    case: its SQL is kept (`kept`) per shape — which identity fields, how many key hashes each,
    whether a case is left out — and each call's values put into it (building it through the ORM
    cost ~2 ms of the intake's ~15 ms of Python)."""
    found = _customer_hashes(case)
    if found is None:
        return None
    shape = tuple((name, len(hashes)) for name, hashes in found.items())
    values: list[Any] = [h for hashes in found.values() for h in hashes]
    values += [case.received_at - timedelta(days=days), case.received_at]
    if case.pk is not None:
        values.append(case.pk)
    rows = kept.instances(("latest_closed_of_customer", shape, case.pk is not None),
                          partial(_latest_closed_qs, shape), values)
    return rows[0] if rows else None


def _latest_closed_qs(shape: tuple[tuple[str, int], ...], values: Sequence[Any]) -> QuerySet[Case]:
    """`latest_closed_of_customer`'s query from its values in order: each field's hashes, the
    window's start and end, the case left out (if any)."""
    given = iter(values)
    found = {name: [next(given) for _ in range(n)] for name, n in shape}
    since, until, pk = next(given), next(given), next(given, None)
    q = _customer_q(found) & Q(state=State.CLOSED, closed_at__gte=since, closed_at__lte=until) \
        & ~Q(close_reason=CloseReason.MERGED)
    if pk is not None:
        q &= ~Q(pk=pk)
    return Case.objects.filter(q).order_by("-closed_at").only(*_LATEST_FIELDS)[:1]


SAME_FIELDS = {
    "category": "category_id", "region": "region", "unit": "unit_id", "owner_unit": "owner_unit_id",
    "kind": "kind", "phone": "complainant_phone", "account": "complainant_account", "subject": "subject",
    "product": "product",
    # similar wording (`derived.similar_ids`, registered by the text app); the column is what the
    # scheduler narrows on: a case without a subject has no text to compare
    "text": "subject",
}
IDENTITY_KEYS = {"phone", "account"}  # compared through their keyed hashes; never for a report


def _window(received_at: datetime, spec: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """The receipt window of a count: the calendar day, week (Monday–Sunday) or month of the
    case's receipt (Beijing time), or `window_hours` either side of it."""
    window = spec.get("window")
    if window is None:
        span = timedelta(hours=float(spec["window_hours"]))
        return received_at - span, received_at + span
    day = timezone.localdate(received_at)
    if window == "same_day":
        first, last = day, day
    elif window == "same_week":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=6)
    else:  # same_month
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    start = timezone.make_aware(datetime.combine(first, time.min))
    end = timezone.make_aware(datetime.combine(last, time.max))
    return start, end


def facts_for(case: Case, now: datetime) -> Facts:
    def age(unit: str) -> float:
        if unit == "hours":
            return (now - case.received_at).total_seconds() / 3600
        if unit == "working_days":
            minutes = cal.business_minutes_between(case.received_at, now)
            return minutes / max(1, cal.DEFAULT_HOURS.minutes_per_day)
        return (now - case.received_at).total_seconds() / 86400

    def count(spec: Mapping[str, Any]) -> int:
        """Cases (this one included) sharing `same` with this one, received in the window: a
        sliding `window_hours` around its receipt, or its calendar day, week or month (`window`);
        merged duplicates never count, and with `valid_only` neither do cases marked invalid."""
        filters: dict[str, Any] = {}
        by_identity = Q()
        for key in spec.get("same", []):
            if key == "text":
                continue
            value = getattr(case, SAME_FIELDS[key])
            if value in (None, ""):
                return 1  # nothing to compare on: only this case
            if key in IDENTITY_KEYS:
                if case.kind == Kind.REPORT:
                    return 1  # a reporter is never matched with anyone's other cases
                by_identity &= identity.matches(SAME_FIELDS[key], value) & ~Q(kind=Kind.REPORT)
            else:
                filters[SAME_FIELDS[key]] = value
        start, end = _window(case.received_at, spec)
        qs = Case.objects.filter(by_identity, received_at__gte=start, received_at__lte=end, **filters)
        if "text" in spec.get("same", []):
            ids = derived.similar_ids(case, start, end)
            if ids is None:
                return 1  # no similarity without the text app: only this case
            qs = qs.filter(pk__in=ids)
        if spec.get("kinds"):
            qs = qs.filter(kind__in=spec["kinds"])
        if spec.get("channels"):
            qs = qs.filter(channel__in=spec["channels"])
        if spec.get("valid_only"):
            qs = qs.exclude(validity=Validity.INVALID)
        return qs.exclude(close_reason=CloseReason.MERGED).count()

    def repeat(days: int) -> bool:
        return latest_closed_of_customer(case, days) is not None

    def share(of: str, hours: float) -> float | None:
        unit = case.unit if of == "unit" else case.owner_unit
        if unit is None or not unit.customers:
            return None
        window = timedelta(hours=hours)
        qs = Case.objects.filter(**{f"{of}_id": unit.pk}, received_at__gte=case.received_at - window,
                                 received_at__lte=case.received_at + window).exclude(kind=Kind.REPORT)
        # distinct people by the keyed hashes of their phones (or accounts): never decrypted
        people = set(qs.filter(complainant_phone_hash__isnull=False).values_list("complainant_phone_hash", flat=True))
        people |= {f"acct:{a}" for a in qs.filter(complainant_phone_hash__isnull=True,
                                                  complainant_account_hash__isnull=False)
                   .values_list("complainant_account_hash", flat=True)}
        return len(people) / unit.customers

    cached: list[dict[str, str]] = []

    def timer_states() -> dict[str, str]:
        if not cached:
            states: dict[str, str] = {}
            for code, state in Timer.objects.filter(case=case, cycle=case.cycle, round=case.round,
                                                    co_unit__isnull=True).order_by(
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
            "text": f"{case.subject}\n{case.description}\n{case.demands}",
            "unit": case.unit.code if case.unit_id and case.unit else None,
            "owner_unit": case.owner_unit.code if case.owner_unit_id else None,
            "liability": case.liability, "conclusion": case.conclusion, "validity": case.validity,
            "result": f"{case.cause}\n{case.course}\n{case.conclusion}\n{case.countermeasures}\n{case.reply}",
            "close_reason": case.close_reason,
            "respondent_unit": case.respondent_unit.code if case.respondent_unit_id and case.respondent_unit else None,
            "respondent_person": case.respondent_person,
            "representatives": len(case.representatives), "cycle": case.cycle, "product": case.product,
        },
        flags=set(case.flags), tags=set(case.tags), category_path=_category_path(case.category_id),
        age=age, timer_states=timer_states, count=count, repeat=repeat, share=share,
    )


def mark_repeat(step: Step, previous: Case) -> None:
    """重复投诉: link the case to the customer's recent case and tag it."""
    step.set_case("repeat_of", previous)
    if "repeat" not in step.case.tags:
        step.set("tags", [*step.case.tags, "repeat"])


def apply_effects(step: Step, rule: Rule) -> list[Callable[[], object]]:
    """Apply a fired rule's effects to the case through the workflow's `step`; returns the
    notifications to send (the workflow sends them once the case is numbered)."""
    from . import notifications

    case = step.case
    notices: list[Callable[[], object]] = []
    for effect in rule.then:
        key, value = next(iter(effect.items()))
        if key == "set_severity" and raises_severity(case.severity, value):
            step.set("severity", value)
        elif key == "set_class":
            step.set("case_class", value)
        elif key == "add_tag" and value not in case.tags:
            step.set("tags", [*case.tags, value])
        elif key == "require_approval" and value:
            step.set("requires_approval", True)
        elif key == "escalate" and value:
            step.set("escalated", True)
            if "escalated" not in case.tags:
                step.set("tags", [*case.tags, "escalated"])
            notices.append(partial(notifications.notify_roles, case, ("supervisor", "leader"), "case.escalated",
                                   reason=rule.name))
            step.note("notify", ["supervisor", "leader"])
        elif key == "notify":
            roles = tuple(value.get("roles", []))
            notices.append(partial(notifications.notify_roles, case, roles, value.get("event", "case.reminder"),
                                   reason=rule.name))
            step.note("notify", list(roles))
        elif key == "recuse" and value:
            step.set("recusal", True)
        elif key == "mark_repeat" and value and case.repeat_of_id is None:
            days = int(value) if isinstance(value, int) and not isinstance(value, bool) else 30
            previous = latest_closed_of_customer(case, days)
            if previous is not None:
                mark_repeat(step, previous)
    return notices
