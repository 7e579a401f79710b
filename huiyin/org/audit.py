"""The audit log (DESIGN §8): who did what, when, from where.

Written here: logins, failed logins, lockouts, logouts, passwords set and accounts disabled or
made staff/superuser (however it was done), every change made in the admin pages (Django's
LogEntry: users and their roles — permission changes — and configuration: policies, categories,
units, webhooks, templates, the calendar). Elsewhere, by calling `audit()`: accounts and roles
added, unlocks, sign-outs and MFA resets (org.accounts), MFA enrolment (org.views), tokens issued
and revoked (api), exports and their approvals (privacy.exports), identity reveals (cases.access),
policy loads (policies), the retention job, data-subject requests and key rotations (privacy).

Rows are append-only: the admin offers no change or delete, and on PostgreSQL a trigger refuses
UPDATE and DELETE (migration org 0005). Never a password, a token or a complainant's data.
"""

from __future__ import annotations

import contextvars
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.http import HttpRequest

from .models import AuditEntry, User

# The request being served (set by org.middleware), so that changes made through models — a
# membership saved by an admin form — name who made them and from where.
current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar("huiyin_request", default=None)


def client_ip(request: HttpRequest | None) -> str | None:
    from .auth import client_ip as ip

    return ip(request) if request is not None else None


def audit(action: str, *, actor: User | None = None, target: str = "", details: dict[str, Any] | None = None,
          request: HttpRequest | None = None) -> AuditEntry:
    request = request if request is not None else current_request.get()
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            actor = user
    real = actor if actor is not None and actor.pk else None
    return AuditEntry.objects.create(
        action=action[:50], actor_id=real.pk if real else None, actor_name=real.username if real else "",
        target=target[:200], details=details or {}, ip=client_ip(request),
    )


@receiver(user_logged_in)
def _on_login(sender: object, request: HttpRequest | None, user: User, **kwargs: object) -> None:
    audit("login", actor=user, target=user.username, request=request)


@receiver(user_logged_out)
def _on_logout(sender: object, request: HttpRequest | None, user: User | None, **kwargs: object) -> None:
    if user is not None and user.pk:
        audit("logout", actor=user, target=user.username, request=request)


@receiver(user_login_failed)
def _on_login_failed(sender: object, credentials: dict[str, Any], request: HttpRequest | None = None,
                     **kwargs: object) -> None:
    # the username only: never the password
    audit("login_failed", actor=None, target=str(credentials.get("username", ""))[:150], request=request)


def _on_locked_out(sender: object, request: HttpRequest | None = None, username: str | None = None,
                   ip_address: str | None = None, **kwargs: object) -> None:
    audit("lockout", actor=None, target=str(username or "")[:150], request=request,
          details={"address": ip_address or ""})


def connect_axes() -> None:
    from axes.signals import user_locked_out

    user_locked_out.connect(_on_locked_out, dispatch_uid="huiyin_lockout_audit")


# --- accounts and roles -------------------------------------------------------------------------

WATCHED = ("is_active", "is_staff", "is_superuser", "password", "username")


@receiver(pre_save, sender=User)
def _remember_account(sender: type[User], instance: User, **kwargs: Any) -> None:
    if instance.pk:
        instance._huiyin_before = User.objects.filter(pk=instance.pk).values(*WATCHED).first()  # type: ignore[attr-defined]


@receiver(post_save, sender=User)
def _on_account_saved(sender: type[User], instance: User, created: bool, **kwargs: Any) -> None:
    """A password set, an account disabled or made staff or superuser — however it was done (a
    page, the admin, a command, the shell): audited, and a new password or a disabled account ends
    the user's API tokens. (Accounts and roles created through `huiyin user` and the admin pages
    are audited there: org.accounts, the admin's LogEntry below.)"""
    before: dict[str, Any] | None = getattr(instance, "_huiyin_before", None)
    instance._huiyin_before = None  # type: ignore[attr-defined]
    if created or not before or not before["password"]:
        return  # an account still being set up (no password yet) is part of its creation
    changed = [f for f in WATCHED if before[f] != getattr(instance, f)]
    if "password" in changed:
        audit("password_changed", target=instance.username)
        from .tokens import tokens_revoke

        tokens_revoke(instance, reason="password")
    flags = {f: getattr(instance, f) for f in changed if f in ("is_active", "is_staff", "is_superuser")}
    if flags:
        audit("user_flags_changed", target=instance.username, details=flags)
    if flags.get("is_active") is False:
        from .tokens import tokens_revoke

        tokens_revoke(instance, reason="disabled")


@receiver(post_save, sender=LogEntry)
def _on_admin_change(sender: type[LogEntry], instance: LogEntry, created: bool, **kwargs: Any) -> None:
    """Every add, change and delete made in the admin pages (configuration included)."""
    if not created:
        return
    kind = {1: "admin_add", 2: "admin_change", 3: "admin_delete"}.get(instance.action_flag, "admin_change")
    ctype = instance.content_type
    model, app = (ctype.model, ctype.app_label) if ctype is not None else ("", "")
    audit(kind, actor=instance.user, target=f"{app}.{model}:{instance.object_id or ''}"[:200],
          details={"object": instance.object_repr[:200], "change": instance.get_change_message()[:1000]})
