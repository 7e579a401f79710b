"""Permission-checked fetching of cases: the only way views and the API get one."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from huiyin.org.access import scope_filter, visible_unit_ids
from huiyin.org.models import User

from .models import Case, CoHandling


def cases_for(user: User) -> QuerySet[Case]:
    """Every case the user may see: registered by, handled in, or co-handled (协办) in
    their subtrees."""
    ids = visible_unit_ids(user)
    co = CoHandling.objects.filter(case=OuterRef("pk"), unit_id__in=ids, active=True)
    return Case.objects.filter(scope_filter(user) | Q(Exists(co)))


def case_for(user: User, number: str) -> Case | None:
    """The case `number` if the user may see it; None (→ 404) if it does not exist or is
    outside the user's subtrees — the two are indistinguishable on purpose."""
    if not isinstance(number, str) or len(number) > 20:
        return None
    return cases_for(user).select_related("owner_unit", "unit", "proposed_unit", "category").filter(
        number=number
    ).first()
