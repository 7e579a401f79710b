"""Writing the audit log."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from .models import AuditEntry, User


def audit(action: str, *, actor: User | None, target: str = "", details: dict[str, Any] | None = None,
          request: HttpRequest | None = None) -> AuditEntry:
    ip = request.META.get("REMOTE_ADDR") if request is not None else None
    return AuditEntry.objects.create(action=action, actor=actor if actor and actor.pk else None, target=target,
                                     details=details or {}, ip=ip)


@receiver(user_logged_in)
def _on_login(sender: object, request: HttpRequest | None, user: User, **kwargs: object) -> None:
    audit("login", actor=user, target=user.username, request=request)


@receiver(user_login_failed)
def _on_login_failed(sender: object, credentials: dict[str, Any], request: HttpRequest | None = None,
                     **kwargs: object) -> None:
    # the username only: never the password
    audit("login_failed", actor=None, target=str(credentials.get("username", ""))[:150], request=request)
