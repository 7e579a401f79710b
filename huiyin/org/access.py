"""The permission rules over units and roles: who reaches which units, and as what.

A role held in a unit reaches that unit's whole subtree. These functions are the only place
that answers "which units does this user reach (with these roles)"; `cases.access` builds the
case-level rules (visibility, identity, attachments) on top of them. Everything here is cached
on the user object for the length of a request.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, Value

from huiyin import kept

from .models import Membership, Role, Unit, User

# Who registers cases (受理): the unit where a user is an agent (or, failing that, a dispatcher).
INTAKE_ROLES = (Role.AGENT, Role.DISPATCHER)


@dataclass(frozen=True)
class Grant:
    role: str
    unit: Unit

    @property
    def unit_id(self) -> int:
        return self.unit.pk

    @property
    def path(self) -> str:
        return self.unit.path


def grants(user: User) -> tuple[Grant, ...]:
    """The user's roles with their units, cached on the user object (one query per request)."""
    cached: tuple[Grant, ...] | None = getattr(user, "_huiyin_grants", None)
    if cached is None:  # a page's request (the API's token check gives them: `remember_grants`)
        rows = kept.instances(("org.grants",), lambda values: Membership.objects.filter(
            user_id=values[0], unit__active=True).select_related("unit").order_by("id"), [user.pk])
        cached = tuple(Grant(m.role, m.unit) for m in rows)
        user._huiyin_grants = cached  # type: ignore[attr-defined]
    return cached


def remember_grants(user: User, roles: Iterable[tuple[str, Unit]]) -> None:
    """Give `grants(user)` the user's (role, unit) pairs in active units, in membership order,
    when they were read with the user (the API's token check reads them in the same statement)."""
    user._huiyin_grants = tuple(Grant(role, unit) for role, unit in roles)  # type: ignore[attr-defined]


def roles_of(user: User) -> set[str]:
    """Every role the user holds, anywhere."""
    return {g.role for g in grants(user)}


def roles_over(user: User, unit: Unit | None) -> set[str]:
    """The roles the user holds in `unit` or in one of its ancestors."""
    if unit is None:
        return set()
    return {g.role for g in grants(user) if unit.path.startswith(g.path)}


def subtree_ids(paths: Iterable[str]) -> list[int]:
    """Ids of every unit below (and including) the units with these paths, in tree order.

    Every request reads its user's subtrees (`subtree_ids_of`), so the SQL is compiled once per
    process for each number of paths (`huiyin.kept`): Django took ~0.6 ms to compile it, the kept
    query ~0.04 ms in all. Each path goes in as a `Value`, so that the database makes the LIKE
    pattern from the bound path (Django would escape the path into a new parameter, which a kept
    query cannot put the next call's path into)."""
    wanted = sorted(set(paths))
    if not wanted:
        return []
    found = kept.rows(("org.subtree_ids", len(wanted)),
                      lambda values: Unit.objects.filter(_under(values)).values_list("id"), wanted)
    return [row[0] for row in found]


def _under(paths: Iterable[str]) -> Q:
    """Units whose path starts with one of `paths`, each bound as a value (`subtree_ids`)."""
    return functools.reduce(operator.or_, (Q(path__startswith=Value(p)) for p in paths))


def visible_unit_ids(user: User) -> list[int]:
    """Ids of every unit in the subtrees where the user holds any role."""
    return subtree_ids_of(user, (g.path for g in grants(user)))


def unit_ids_with_roles(user: User, roles: Iterable[str]) -> list[int]:
    """Ids of the units the user reaches through one of `roles` (the subtrees of those grants)."""
    wanted = frozenset(roles)
    return subtree_ids_of(user, (g.path for g in grants(user) if g.role in wanted))


def subtree_ids_of(user: User, paths: Iterable[str]) -> list[int]:
    """`subtree_ids(paths)`, cached on the user object (with its grants, for the request) by the
    set of paths: a reader's roles usually reach the same subtrees, read once (a search read the
    same units three times when the cache was per set of roles)."""
    key = frozenset(paths)
    cache: dict[frozenset[str], list[int]] = user.__dict__.setdefault("_huiyin_subtrees", {})
    if key not in cache:
        cache[key] = subtree_ids(key)
    return list(cache[key])  # a copy: no caller can change what another one reads


def scope_filter(user: User, *, owner_field: str = "owner_unit_id", unit_field: str = "unit_id") -> Q:
    """A Q that keeps rows the user may see: registered by, or handled in, their subtrees."""
    return units_filter(visible_unit_ids(user), owner_field=owner_field, unit_field=unit_field)


def units_filter(ids: list[int], *, owner_field: str = "owner_unit_id", unit_field: str = "unit_id") -> Q:
    """`scope_filter` of a user whose subtrees hold exactly the units `ids` (`visible_unit_ids`)."""
    if not ids:
        return Q(pk__in=[])
    return Q(**{f"{owner_field}__in": ids}) | Q(**{f"{unit_field}__in": ids})


def visible_units(user: User) -> list[Unit]:
    """The units in the user's own subtrees, in tree order (what a filter may narrow to)."""
    return list(Unit.objects.filter(id__in=visible_unit_ids(user)).order_by("path"))


def _organisation_roots(user: User) -> set[str]:
    return {g.path.split("/")[1] for g in grants(user) if g.path.count("/") >= 2}


def org_units(user: User) -> list[Unit]:
    """The active units of the user's organisation (the trees of the user's grants), in tree
    order: what a dispatcher may send a case to."""
    roots = sorted(f"/{r}/" for r in _organisation_roots(user))
    if not roots:
        return []
    return kept.instances(("org.org_units", len(roots)),  # kept SQL, as `subtree_ids`
                          lambda values: Unit.objects.filter(_under(values), active=True).order_by("path"), roots)


def unit_for(user: User, code: str) -> Unit | None:
    """A unit the user may address (dispatch to, filter by): any active unit in the
    organisation of the user's grants. Dispatchers send cases across the tree, so
    this is the organisation root's subtree, not the user's own."""
    if not isinstance(code, str) or not code or len(code) > 64:
        return None
    try:
        unit = Unit.objects.get(code=code, active=True)
    except Unit.DoesNotExist:
        return None
    return unit if unit.path.split("/")[1] in _organisation_roots(user) else None


def visible_unit(user: User, code: str) -> Unit | None:
    """A unit inside the user's own subtrees (a filter that narrows what the user sees)."""
    if not isinstance(code, str) or not code or len(code) > 64:
        return None
    return Unit.objects.filter(code=code, id__in=visible_unit_ids(user)).first()


def intake_unit(user: User) -> Unit | None:
    """The unit a user registers cases for: where they are an agent (or else a dispatcher)."""
    cached: Unit | None = getattr(user, "_huiyin_intake_unit", None)
    if cached is not None:
        return cached
    for role in INTAKE_ROLES:
        for g in grants(user):
            if g.role == role:
                user._huiyin_intake_unit = g.unit  # type: ignore[attr-defined]
                return g.unit
    return None


def users_with_roles_over(roles: Iterable[str], units: Iterable[Unit]) -> set[int]:
    """Ids of the active users holding one of `roles` in one of the units or an ancestor of it."""
    ancestor_ids: set[int] = set()
    for unit in units:
        ancestor_ids.update(int(p) for p in unit.path.strip("/").split("/") if p)
    if not ancestor_ids:
        return set()
    return set(
        Membership.objects.filter(unit_id__in=ancestor_ids, role__in=list(roles), user__is_active=True)
        .values_list("user_id", flat=True)
    )


# --- accounts: who needs a second factor, who administers ------------------------------------------

# TOTP is required for the roles that decide, oversee, configure or read the audit trail (issue 11):
# in production, or wherever HUIYIN_MFA_REQUIRED=1 (settings.MFA_REQUIRED). Others may enrol.
MFA_ROLES = frozenset({Role.LEADER, Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR})


def mfa_required(user: User) -> bool:
    from django.conf import settings

    if not settings.MFA_REQUIRED:
        return False
    return user.is_superuser or user.is_staff or bool(roles_of(user) & MFA_ROLES)


def is_administrator(user: User) -> bool:
    """Administers accounts and API tokens: the admin role anywhere, or a superuser."""
    return bool(user.is_active and (user.is_superuser or Role.ADMIN in roles_of(user)))
