"""Bearer tokens for the REST API: issued by POST /auth/token, stored as SHA-256 only."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from huiyin.org.models import ApiToken, User


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_issue(user: User, *, name: str = "") -> str:
    token = secrets.token_urlsafe(32)
    ApiToken.objects.create(
        user=user, digest=_digest(token), name=name,
        expires_at=timezone.now() + timedelta(days=settings.API_TOKEN_DAYS),
    )
    return token


class BearerAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        if not token or len(token) > 200:
            return None
        row = ApiToken.objects.select_related("user").filter(digest=_digest(token)).first()
        if row is None or row.expires_at < timezone.now() or not row.user.is_active:
            return None
        request.user = row.user
        return row.user
