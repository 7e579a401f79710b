"""The permission rules of cases: which cases a user sees, who may see a complainant's
identity, who may attach files. Views, the API, exports and notifications ask here; nothing
else decides.

Visibility: a case is visible to the roles over the unit that registered it (the centre's line),
over the unit handling it, and over the units co-handling it (协办). Anything else answers None
(→ 404), exactly as a case that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from huiyin.org.access import grants, roles_over, scope_filter, unit_ids_with_roles, visible_unit_ids
from huiyin.org.models import Role, User
from huiyin.policies.config import PolicyConfig

from .models import Case, CoHandling, Kind

# The centre's roles, who take the calls and follow the case for the complainant (首问负责制):
# they see a whistle-blower's identity (DESIGN §8).
IDENTITY_ROLES = frozenset({Role.AGENT, Role.DISPATCHER, Role.LEADER, Role.SUPERVISOR})


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


def _roles_on(user: User, case: Case) -> set[str]:
    return roles_over(user, case.owner_unit) | roles_over(user, case.unit)


def may_see_identity(user: User, case: Case) -> bool:
    """Whether the user sees who complained (name, phone, e-mail, address, account).

    A whistle-blower's identity (举报) is shown only to the centre's roles over the registering
    unit (DESIGN §8): the handling unit works on the matter, not on who reported it. For other
    kinds, every role on the case except the auditor's."""
    if case.kind == Kind.REPORT:
        return bool(roles_over(user, case.owner_unit) & IDENTITY_ROLES)
    return bool(_roles_on(user, case) - {Role.AUDITOR})


def identity_filter(user: User) -> Q:
    """`may_see_identity` as a filter: the cases whose complainant the user may see — so a search
    by a phone number or an account never reveals who reported (举报) to a role that may not know."""
    reporters = unit_ids_with_roles(user, IDENTITY_ROLES)
    workers = unit_ids_with_roles(user, [r for r in Role.values if r != Role.AUDITOR])
    report = Q(kind=Kind.REPORT, owner_unit_id__in=reporters)
    other = ~Q(kind=Kind.REPORT) & (Q(owner_unit_id__in=workers) | Q(unit_id__in=workers))
    return report | other


def name_searchable(user: User) -> Q:
    """The cases a search by the complainant's name may find for `user`: those whose name the
    user sees in a list (`complainant_view(listing=True)`): not a report (举报), and a role other
    than the auditor's over the registering or the handling unit. Elsewhere a name finds nothing,
    so a search never reveals a name the user may not read."""
    ids = unit_ids_with_roles(user, [r for r in Role.values if r != Role.AUDITOR])
    if not ids:
        return Q(pk__in=[])
    return ~Q(kind=Kind.REPORT) & (Q(owner_unit_id__in=ids) | Q(unit_id__in=ids))


def mask(value: str) -> str:
    """A phone or ID number masked: the first 3 and the last 4 characters kept."""
    if len(value) >= 7:
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    return "*" * len(value)


def complainant_view(user: User, case: Case, *, listing: bool = False) -> dict[str, Any]:
    """What `user` may see of the complainant, for a case page (`listing=False`) or a row of a
    list or an export (`listing=True`). The one identity rule of Huiyin:

    - a report's (举报) reporter is never shown in a list or an export, and on the case page only
      to the roles of `may_see_identity`;
    - other kinds: roles with identity access see everything on the case page, and in lists the
      name with the phone and ID numbers masked (DESIGN §8); roles without it see the phone and ID
      numbers masked and nothing else.
    """
    identity = may_see_identity(user, case)
    report = case.kind == Kind.REPORT
    hidden = report and (listing or not identity)
    full = identity and not listing and not hidden
    shown_name = full or (identity and listing and not report)
    return {
        "name": case.complainant_name if shown_name else "",
        "phone": "" if hidden else case.complainant_phone if full else mask(case.complainant_phone),
        "email": case.complainant_email if full else "",
        "address": case.complainant_address if full else "",
        "account": case.complainant_account if full else "",
        "id_number": "" if hidden else case.complainant_id_number if full else mask(case.complainant_id_number),
        "customer_class": case.customer_class,
        "anonymous": case.anonymous,
        "confidential": not full,
    }


def may_attach(user: User, case: Case) -> bool:
    """Everyone working on the case may add files; the auditor only reads."""
    return bool(_roles_on(user, case) - {Role.AUDITOR})


def holds(user: User, case: Case, role: str, cfg: PolicyConfig) -> bool:
    """Whether `user` holds `role` over the case — over its registering line or its handling
    unit: a built-in role, or a role the policy defines (`roles:`: a built-in role held in a
    named unit, e.g. 上级分行核实岗 = supervisor in unit `branch`)."""
    policy_role = cfg.roles.get(role)
    base = policy_role.role if policy_role else role
    lines = [u.path for u in (case.owner_unit, case.unit) if u is not None]
    for g in grants(user):
        if g.role != base or not any(path.startswith(g.path) for path in lines):
            continue
        if policy_role and policy_role.unit and g.unit.code != policy_role.unit:
            continue
        return True
    return False


def role_names(user: User, cfg: PolicyConfig) -> set[str]:
    """The role names the user answers to under a policy: the built-in roles held and the
    policy's roles they amount to (for the approvals inbox and 我的待办)."""
    names = {g.role for g in grants(user)}
    for code, policy_role in cfg.roles.items():
        if any(g.role == policy_role.role and (not policy_role.unit or g.unit.code == policy_role.unit)
               for g in grants(user)):
            names.add(code)
    return names


def is_respondent(user: User, case: Case) -> bool:
    """回避: the complained-about person (by user name or display name) never acts on the case."""
    person = case.respondent_person.strip()
    return bool(person) and person in (user.username, user.display_name)
