"""Quality inspection (质检, issue 10 item 7): a supervisor draws a sample of the closed cases of a
unit and period (with their call recordings' references) and scores each against the policy's
checklist (`quality.checklist`, else the product's five items). The scores feed the
accountability summaries (per unit and person, `penalties.summary`).

The sample is reproducible: the closed cases not yet inspected, ordered by a hash of their
number and the period, so the same request draws the same cases.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from huiyin.cases import workflow
from huiyin.cases.access import cases_for
from huiyin.cases.errors import BadInput, Forbidden, InvalidTransition
from huiyin.cases.models import Case, State
from huiyin.org.access import roles_over
from huiyin.org.models import Role, Unit, User
from huiyin.policies.services import config_for

from .indicators import Scope
from .models import QualityInspection
from .penalties import responsible
from .periods import Period

INSPECTORS = (Role.SUPERVISOR,)


def checklist(case: Case) -> list[dict[str, Any]]:
    return config_for(case.policy_id).quality_checklist


def closed_in(user: User, unit: Unit | None, period: Period) -> QuerySet[Case]:
    """The closed cases of the unit received in the period (the reports' cohort), not yet inspected."""
    scope = Scope(user, unit)
    f = scope.filters(period)
    f.state = [State.CLOSED]
    from huiyin.cases.selectors import apply_filters

    inspected = QualityInspection.objects.values("case_id")
    return apply_filters(user, f).exclude(pk__in=inspected)


def sample(user: User, unit: Unit | None, period: Period, size: int) -> list[Case]:
    """`size` of those cases, drawn by a hash of number and period (the same draw each time)."""
    rows = list(closed_in(user, unit, period).select_related("unit", "owner_unit", "category")[:5000])
    salt = period.code.encode()
    rows.sort(key=lambda c: hashlib.sha256(salt + c.number.encode()).hexdigest())
    return rows[: max(0, min(size, 200))]


def recordings(case: Case) -> list[Any]:
    """The case's call recordings (audio attachments), by reference."""
    return list(case.attachments.filter(content_type__startswith="audio/").order_by("id"))


def may_inspect(user: User, case: Case) -> bool:
    return bool(roles_over(user, case.unit or case.owner_unit) & set(INSPECTORS))


def inspect(case: Case, *, by: User, scores: dict[str, Any], recording_ref: str = "",
            comment: str = "") -> QualityInspection:
    """Score one closed case (once): every checklist item between 0 and its points; the case's
    timeline records the inspection (a `quality` event with the score)."""
    if case.state != State.CLOSED:
        raise InvalidTransition("Only a closed case is inspected.")
    if not may_inspect(by, case):
        raise Forbidden("A supervisor over the case's unit inspects it.")
    items, fields = [], {}
    for item in checklist(case):
        raw = scores.get(item["code"], "")
        try:
            value = Decimal(str(raw).strip())
        except (InvalidOperation, ValueError):
            fields[item["code"]] = "a number is required"
            continue
        if not Decimal(0) <= value <= Decimal(item["points"]):
            fields[item["code"]] = f"between 0 and {item['points']}"
            continue
        items.append({**item, "score": str(value), "note": str(scores.get(f"{item['code']}_note", ""))[:500]})
    if fields:
        raise BadInput("Some scores are invalid: " + ", ".join(sorted(fields)), fields=fields)
    unit, person, _name = responsible(case)
    total = sum((Decimal(i["score"]) for i in items), Decimal(0))
    top = sum((Decimal(i["points"]) for i in items), Decimal(0))
    try:
        with transaction.atomic():
            row = QualityInspection.objects.create(
                case=case, inspector=by, unit=unit, person=person, items=items, score=total, max_score=top,
                recording_ref=recording_ref.strip()[:200], comment=comment.strip()[:5000], at=timezone.now(),
            )
            with workflow.change(case, "quality", actor=by, source="web", comment=comment[:500]) as step:
                step.note("quality", {"score": str(total), "max": str(top), "inspector": by.username})
    except IntegrityError:
        raise InvalidTransition("The case has already been inspected.") from None
    return row


def inspection_of(user: User, case: Case) -> QualityInspection | None:
    if not cases_for(user).filter(pk=case.pk).exists():
        return None
    return QualityInspection.objects.filter(case=case).select_related("inspector").first()
