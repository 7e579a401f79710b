"""Permission-checked fetching of cases: the only way views and the API get one."""

from __future__ import annotations

from django.db.models import QuerySet

from huiyin.org.access import scope_filter
from huiyin.org.models import User

from .models import Case


def cases_for(user: User) -> QuerySet[Case]:
    """Every case the user may see (registered by or handled in their subtrees)."""
    return Case.objects.filter(scope_filter(user))


def case_for(user: User, number: str) -> Case | None:
    """The case `number` if the user may see it; None (→ 404) if it does not exist or is
    outside the user's subtrees — the two are indistinguishable on purpose."""
    if not isinstance(number, str) or len(number) > 20:
        return None
    return cases_for(user).select_related("owner_unit", "unit", "proposed_unit", "category").filter(
        number=number
    ).first()
