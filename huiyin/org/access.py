"""The only permission checks of Huiyin: who may see and act on what.

A role held in a unit reaches that unit's whole subtree. Every read and write of a
case goes through `case_for` (cases/access) or `scope_filter`, which answer 404 for
anything outside the caller's subtrees, exactly as for a case that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from .models import Membership, Role, Unit, User


@dataclass(frozen=True)
class Grant:
    role: str
    unit_id: int
    path: str


def grants(user: User) -> tuple[Grant, ...]:
    """The user's roles with the paths of their units, cached on the user object."""
    cached = getattr(user, "_huiyin_grants", None)
    if cached is None:
        rows = Membership.objects.filter(user=user, unit__active=True).values_list(
            "role", "unit_id", "unit__path"
        )
        cached = tuple(Grant(r, u, p) for r, u, p in rows)
        user._huiyin_grants = cached  # type: ignore[attr-defined]
    return cached


def has_role(user: User, role: str, unit: Unit | None) -> bool:
    """True when `user` holds `role` in `unit` or in one of its ancestors."""
    if unit is None or not user.is_active:
        return False
    return any(g.role == role and unit.path.startswith(g.path) for g in grants(user))


def roles_over(user: User, unit: Unit | None) -> set[str]:
    if unit is None:
        return set()
    return {g.role for g in grants(user) if unit.path.startswith(g.path)}


def visible_unit_ids(user: User) -> list[int]:
    """Ids of every unit in the subtrees where the user holds any role."""
    cached = getattr(user, "_huiyin_visible", None)
    if cached is None:
        paths = {g.path for g in grants(user)}
        if not paths:
            cached = []
        else:
            q = Q()
            for p in paths:
                q |= Q(path__startswith=p)
            cached = list(Unit.objects.filter(q).values_list("id", flat=True))
        user._huiyin_visible = cached  # type: ignore[attr-defined]
    return cached


def scope_filter(user: User, *, owner_field: str = "owner_unit_id", unit_field: str = "unit_id") -> Q:
    """A Q that keeps rows the user may see: registered by, or handled in, their subtrees."""
    ids = visible_unit_ids(user)
    if not ids:
        return Q(pk__in=[])
    return Q(**{f"{owner_field}__in": ids}) | Q(**{f"{unit_field}__in": ids})


def can_administer(user: User) -> bool:
    return user.is_superuser or any(g.role == Role.ADMIN for g in grants(user))


def unit_for(user: User, code: str) -> Unit | None:
    """A unit the user may address (dispatch to, filter by): any active unit in the
    organisation of the user's grants. Dispatchers send cases across the tree, so
    this is the organisation root's subtree, not the user's own."""
    roots = {g.path.split("/")[1] for g in grants(user) if g.path.count("/") >= 2}
    try:
        unit = Unit.objects.get(code=code, active=True)
    except Unit.DoesNotExist:
        return None
    return unit if unit.path.split("/")[1] in roots else None
