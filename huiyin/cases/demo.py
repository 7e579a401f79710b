"""The demo organisation (a tobacco city bureau, seed 000 第一篇) and its users.

Used by `huiyin demo`, `make run` on an empty database, and the tests' personas.
Never loaded in a production configuration.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from huiyin.org.models import Membership, Role, Unit, UnitKind, User
from huiyin.policies.models import Policy
from huiyin.policies.services import policy_load_preset

UNITS = [
    # code, name, kind, parent
    ("bureau", "示范市局", UnitKind.CITY, None),
    ("centre", "监控中心", UnitKind.CENTRE, "bureau"),
    ("marketing", "营销部", UnitKind.DEPARTMENT, "bureau"),
    ("logistics", "物流部", UnitKind.DEPARTMENT, "bureau"),
    ("monopoly", "专卖部", UnitKind.DEPARTMENT, "bureau"),
    ("county_a", "县局A", UnitKind.COUNTY, "bureau"),
    ("county_b", "县局B", UnitKind.COUNTY, "bureau"),
]

# username, display name, [(role, unit)] — what each may see is the subtree of its units.
USERS = [
    ("agent", "受理员小王", [(Role.AGENT, "centre")]),
    ("dispatcher", "派单员小李", [(Role.DISPATCHER, "centre"), (Role.AGENT, "centre")]),
    ("leader", "分管副经理", [(Role.LEADER, "bureau")]),
    ("supervisor", "整顿办主任", [(Role.SUPERVISOR, "bureau")]),
    ("handler_a", "县局A第一责任人", [(Role.HANDLER, "county_a"), (Role.FIRST_RESPONSIBLE, "county_a")]),
    ("handler_b", "县局B第一责任人", [(Role.HANDLER, "county_b"), (Role.FIRST_RESPONSIBLE, "county_b")]),
    ("auditor", "审计员", [(Role.AUDITOR, "bureau")]),
    ("admin", "系统管理员", [(Role.ADMIN, "bureau")]),
]

class DemoRefused(Exception):
    pass


def demo_load(*, password: str | None = None) -> list[str]:
    """Create the demo organisation, users and categories; idempotent. Returns usernames."""
    if settings.PRODUCTION:
        raise DemoRefused("The demo organisation is never created in production (HUIYIN_PRODUCTION=1).")
    password = password or settings.DEMO_PASSWORD
    with transaction.atomic():
        units: dict[str, Unit] = {}
        for code, name, kind, parent in UNITS:
            unit, _ = Unit.objects.get_or_create(
                code=code, defaults={"name": name, "kind": kind, "parent": units.get(parent or "")}
            )
            units[code] = unit
        for username, display, roles in USERS:
            user, created = User.objects.get_or_create(username=username, defaults={"display_name": display})
            if created:
                user.set_password(password)
                user.is_staff = username == "admin"
                user.is_superuser = username == "admin"
                user.email = f"{username}@demo.huiyin.invalid"
                user.save()
            for role, unit_code in roles:
                Membership.objects.get_or_create(user=user, unit=units[unit_code], role=role)
        # The tobacco preset brings the policy and the category tree.
        if not Policy.objects.filter(active=True).exists():
            policy_load_preset("tobacco")
    return [u[0] for u in USERS]
