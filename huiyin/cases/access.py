"""The permission rules of cases: which cases a user sees, who may see a complainant's
identity, who may attach files. Views, the API, exports and notifications ask here; nothing
else decides.

Visibility: a case is visible to the roles over the unit that registered it (the centre's line),
over the unit handling it, and over the units co-handling it (协办). Anything else answers None
(→ 404), exactly as a case that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from huiyin import kept
from huiyin.org.access import (
    INTAKE_ROLES,
    grants,
    roles_of,
    roles_over,
    unit_ids_with_roles,
    units_filter,
    visible_unit_ids,
)
from huiyin.org.models import Role, User
from huiyin.policies.config import PolicyConfig

from .models import Case, CoHandling, Kind

# The centre's roles, who take the calls and follow the case for the complainant (首问负责制):
# they see a whistle-blower's identity (DESIGN §8).
IDENTITY_ROLES = frozenset({Role.AGENT, Role.DISPATCHER, Role.LEADER, Role.SUPERVISOR})


def cases_for(user: User) -> QuerySet[Case]:
    """Every case the user may see: registered by, handled in, or co-handled (协办) in
    their subtrees."""
    return cases_in_units(visible_unit_ids(user))


def cases_in_units(ids: list[int]) -> QuerySet[Case]:
    """`cases_for` a user whose subtrees hold exactly the units `ids` (`visible_unit_ids`): the
    scope depends on those ids alone, so a query built on it may be kept under them as a key.

    Building the filter (its co-handling subquery above all) cost ~1.3 ms of Python per call, and
    a request asks for it several times; the unevaluated queryset is kept per set of units and
    each caller gets its own copy (`.all()`, ~0.01 ms), as Django's generic views do with theirs."""
    return _scope_of(tuple(ids)).all()


@lru_cache(maxsize=1000)  # sets of units kept per process
def _scope_of(ids: tuple[int, ...]) -> QuerySet[Case]:
    """The scope's queryset for these units; never evaluated, only copied by `cases_in_units`."""
    units = list(ids)
    co = CoHandling.objects.filter(case=OuterRef("pk"), unit_id__in=units, active=True)
    return Case.objects.filter(units_filter(units) | Q(Exists(co)))


def case_for(user: User, number: str) -> Case | None:
    """The case `number` if the user may see it; None (→ 404) if it does not exist or is
    outside the user's subtrees — the two are indistinguishable on purpose."""
    if not isinstance(number, str) or len(number) > 20:
        return None
    # `number` is unique: one row at most, so no ORDER BY (`first()` would compile one: ~20 % of this).
    # The query depends on the visible units and the number alone: its SQL is compiled once per
    # process for those units (`kept`: ~3 ms of Python a call otherwise). It brings what every
    # reader of the case reads (`selectors.case_facts`: the registering user, the respondent unit).
    units = tuple(visible_unit_ids(user))
    found = kept.instances(("case_for", units), lambda values: cases_in_units(list(units)).select_related(
        "owner_unit", "unit", "proposed_unit", "category", "registered_by", "respondent_unit",
    ).filter(number=values[0])[:1], [number])
    return found[0] if found else None


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


def identity_scope(user: User) -> Q:
    """`may_see_identity` as a query: the cases whose complainant the user may know. Every search
    by identity (phone, name, account, ID number, e-mail) is limited to it, so a guessed phone or
    name confirms nothing — above all not that someone reported (举报) — to a role that may not
    read the answer; the intake lookup and the caller's history likewise."""
    return identity_scope_of(*identity_units(user))


def identity_units(user: User) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """What `identity_scope` is made of: the units where the user may know a report's reporter,
    and those where the complainant of any other kind (a query built on it may be kept under them)."""
    return (tuple(unit_ids_with_roles(user, IDENTITY_ROLES)),
            tuple(unit_ids_with_roles(user, [r for r in Role.values if r != Role.AUDITOR])))


def identity_scope_of(report_ids: Iterable[int], other_ids: Iterable[int]) -> Q:
    """`identity_scope` of a user whose `identity_units` are these."""
    reports, others = list(report_ids), list(other_ids)
    q = Q(pk__in=[])
    if reports:
        q |= Q(kind=Kind.REPORT, owner_unit_id__in=reports)
    if others:
        q |= ~Q(kind=Kind.REPORT) & (Q(owner_unit_id__in=others) | Q(unit_id__in=others))
    return q


def name_searchable(user: User) -> Q:
    """The cases a search by the complainant's name may find for `user` (`identity_scope`)."""
    return identity_scope(user)


def may_look_up_callers(user: User) -> bool:
    """The intake lookup (a caller's earlier and open cases by phone) is for the roles that take
    calls: the agent and the dispatcher (org.access.INTAKE_ROLES)."""
    return bool(roles_of(user) & set(INTAKE_ROLES))


def visible_references(user: User, case: Case, numbers: Iterable[str]) -> set[str]:
    """Of the case numbers `case` refers to (repeat_of, merged_into, a link, a timeline entry
    naming one), those that may be shown to `user`: the user sees the other case (else it is a
    number they get 404 on), and where either is a report (举报), the user may see the report's
    reporter — a link between a report and another case tells who reported.

    One query for all of them, reading only what the rule needs of the other cases (a full case
    row with its scope cost ~5 ms of Python to compile; a case page and an action's answer ask
    twice)."""
    wanted = {n for n in numbers if isinstance(n, str) and n and n != case.number}
    return set(_shown(user, case, "number", wanted).values())


def visible_references_by_id(user: User, case: Case, ids: Iterable[int | None]) -> dict[int, str]:
    """`visible_references` of the cases `case` refers to by key (its repeat_of, merged_into):
    {id: number} of those that may be shown (no full row of the other case is read for its number)."""
    return _shown(user, case, "pk", {i for i in ids if i and i != case.pk})


def _shown(user: User, case: Case, by: str, wanted: set[Any]) -> dict[int, str]:
    if not wanted or (case.kind == Kind.REPORT and not may_see_identity(user, case)):
        return {}
    # On every case page and action answer: the SQL is kept per scope, key and count (`kept`).
    units = tuple(visible_unit_ids(user))
    others = kept.instances(("references", by, units), lambda values: cases_in_units(list(units)).filter(
        **{f"{by}__in": list(values)}).select_related("owner_unit").only("number", "kind", "owner_unit"), sorted(wanted))
    return {other.pk: other.number for other in others
            if other.kind != Kind.REPORT or may_see_identity(user, other)}


def mask(value: str) -> str:
    """A phone or ID number masked: the first 3 and the last 4 characters kept."""
    if len(value) >= 7:
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    return "*" * len(value)


COMPLAINANT_FIELDS = ("name", "phone", "email", "address", "account", "id_number")


def complainant_view(user: User, case: Case, *, listing: bool = False,
                     keys: Iterable[str] = COMPLAINANT_FIELDS) -> dict[str, Any]:
    """What `user` may see of the complainant, for a case page (`listing=False`) or a row of a
    list or an export (`listing=True`). The one identity rule of Huiyin:

    - a report's (举报) reporter is never shown in a list or an export, and on the case page only
      to the roles of `may_see_identity` (and each such view is written to the audit log);
    - other kinds: roles with identity access see everything on the case page, and in lists the
      name with the phone and ID numbers masked (DESIGN §8); roles without it see the phone and ID
      numbers masked and nothing else.

    Only the identity fields named in `keys` are read (each is sealed at rest: a list that shows
    the name and the phone decrypts those two)."""
    identity = may_see_identity(user, case)
    report = case.kind == Kind.REPORT
    hidden = report and (listing or not identity)
    full = identity and not listing and not hidden
    shown_name = full or (identity and listing and not report)
    wanted = set(keys)
    out: dict[str, Any] = {"customer_class": case.customer_class, "anonymous": case.anonymous, "confidential": not full}
    if "name" in wanted:
        out["name"] = case.complainant_name if shown_name else ""
    if "phone" in wanted:
        out["phone"] = "" if hidden else case.complainant_phone if full else mask(case.complainant_phone)
    if "email" in wanted:
        out["email"] = case.complainant_email if full else ""
    if "address" in wanted:
        out["address"] = case.complainant_address if full else ""
    if "account" in wanted:
        out["account"] = case.complainant_account if full else ""
    if "id_number" in wanted:
        out["id_number"] = "" if hidden else case.complainant_id_number if full else mask(case.complainant_id_number)
    if full and report:
        identity_revealed(user, case)
    return out


def identity_revealed(user: User, case: Case) -> None:
    """A reporter's identity shown to `user` (DESIGN §8: every view of it is logged): one audit
    entry per user, case and request."""
    seen: set[int] = user.__dict__.setdefault("_huiyin_revealed", set())
    if case.pk in seen:
        return
    seen.add(case.pk)
    from huiyin.org.audit import audit

    audit("identity_view", actor=user, target=case.number, details={"kind": case.kind})


def may_see_attachment(user: User, case: Case, confidential: bool) -> bool:
    """A report's confidential file (the letter, the recording the centre attached: they may
    identify the reporter) only for the roles that see the reporter; other files for everyone
    who sees the case."""
    return not confidential or may_see_identity(user, case)


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


def visible_numbers(user: User, numbers: set[str]) -> set[str]:
    """Of these case numbers, those `user` sees (one query): what the inbox may name."""
    return set(cases_for(user).filter(number__in=list(numbers)).values_list("number", flat=True))
