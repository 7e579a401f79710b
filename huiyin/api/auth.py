"""Bearer tokens for the REST API: issued by POST /auth/token, stored as SHA-256 only, revoked
by DELETE /auth/token (the caller's), by an administrator (DELETE /auth/tokens/{id}), and with
any change of the user's password or session epoch, or the account's disabling (org.tokens)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from huiyin.org.models import ApiToken, User
from huiyin.org.tokens import token_check, token_issue

__all__ = ["BearerAuth", "caller_token", "token_issue"]


class BearerAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        row = token_check(token)
        if row is None:
            return None
        request.user = row.user
        request.api_token = row  # type: ignore[attr-defined]  # DELETE /auth/token revokes this one
        return row.user


def caller_token(request: HttpRequest) -> ApiToken:
    token: ApiToken = request.api_token  # type: ignore[attr-defined]  # set by BearerAuth
    return token
