"""Accounts administered without code (issue 11 item 4): the `huiyin user` commands and the admin
pages call these, and each is written to the audit log (user_created, role_granted, unlock,
signed_out_everywhere, mfa_reset here; user_flags_changed and password_changed by org.audit's
model signals, however the change is made).
"""

from __future__ import annotations

import ipaddress
import secrets

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from .audit import audit
from .models import Membership, Role, TotpDevice, Unit, User
from .tokens import sessions_end, tokens_revoke


class AccountError(ValueError):
    pass


def user_add(username: str, *, unit_code: str, role: str, password: str | None = None,
             display_name: str = "", actor: User | None = None) -> tuple[User, str | None]:
    """A new user with one role in one unit (more roles: run it again for an existing user, which
    adds the role). Returns the user and the password to hand over when one was generated."""
    if not username or len(username) > 150 or any(ch.isspace() or ord(ch) < 32 for ch in username):
        raise AccountError("A user name of 1–150 characters without spaces is needed.")
    if role not in Role.values:
        raise AccountError(f"Unknown role {role!r}; one of: {', '.join(Role.values)}.")
    unit = Unit.objects.filter(code=unit_code, active=True).first()
    if unit is None:
        raise AccountError(f"Unknown unit {unit_code!r}.")
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        generated = None
        if user is None:
            user = User(username=username, display_name=display_name[:50])
            if password is None:
                generated = password = secrets.token_urlsafe(12)
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise AccountError(" ".join(exc.messages)) from None
            user.set_password(password)
            user.save()
        elif password is not None:
            raise AccountError(f"User {username} exists: a password is set with `huiyin changepassword`.")
        _, created = Membership.objects.get_or_create(user=user, unit=unit, role=role)
        if not created and generated is None:
            raise AccountError(f"{username} already holds {role} in {unit_code}.")
        if generated is not None or password is not None:
            audit("user_created", actor=actor, target=user.username)
        audit("role_granted", actor=actor, target=user.username, details={"role": role, "unit": unit_code})
    return user, generated


def user_disable(user: User) -> None:
    """Disable the account: no sign-in, every session and API token ended (the account stays, as
    the history names it)."""
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])  # audited (user_flags_changed), tokens revoked
    sessions_end(user)
    tokens_revoke(user, reason="disabled")


def user_unlock(username: str) -> int:
    """Lift a lockout (django-axes) of this user name, from every address. Returns the records cleared."""
    from axes.utils import reset

    cleared = int(reset(username=username) or 0)
    audit("unlock", target=username, details={"cleared": cleared})
    return cleared


def address_unlock(ip: str) -> tuple[str, int]:
    """Lift the lockout of an address; returns the address as written canonically and how many
    records were cleared (→ ValueError when `ip` is not an IPv4 or IPv6 address, which no
    lockout could name)."""
    from axes.utils import reset

    ip = str(ipaddress.ip_address(ip.strip()))  # ValueError: "'x' does not appear to be an IPv4 or IPv6 address"
    cleared = int(reset(ip=ip) or 0)
    audit("unlock", target=ip, details={"cleared": cleared, "address": True})
    return ip, cleared


def user_signout(user: User) -> None:
    """End every session and API token of the user."""
    sessions_end(user)
    audit("signed_out_everywhere", target=user.username, details={"by": "administrator"})


def mfa_reset(user: User) -> bool:
    """Remove the user's authenticator app (a lost phone); the next sign-in enrols a new one where
    the role requires it. Their sessions end too."""
    deleted, _ = TotpDevice.objects.filter(user=user).delete()
    sessions_end(user)
    audit("mfa_reset", target=user.username)
    return bool(deleted)
