"""API tokens: issued, checked, revoked (issue 11 item 5). The API's bearer authentication
(huiyin.api.auth) and the account commands and admin call these.

A token is the random string the client holds; the database keeps only its SHA-256. It is valid
while it has not expired, has not been revoked, its user is active, and its user's session hash
(password + session epoch, `User._get_session_auth_hash`) is the one it was issued under: any
new password — set on a page, in the admin, by a command or straight in the database — or an
administrator's "sign out everywhere" ends it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connections, router
from django.db.models import F, QuerySet
from django.utils import timezone

from huiyin.db import Columns

from .access import remember_grants
from .models import ApiToken, Membership, Unit, User

LAST_USED_RESOLUTION = timedelta(seconds=60)  # last_used_at is written at most once a minute


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _marks(user: User) -> list[str]:
    return [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]


def token_issue(user: User, *, name: str = "") -> str:
    token = secrets.token_urlsafe(32)
    ApiToken.objects.create(
        user=user, digest=digest(token), name=name[:100], user_mark=user.get_session_auth_hash(),
        expires_at=timezone.now() + timedelta(days=settings.API_TOKEN_DAYS),
    )
    return token


_TOKEN = Columns(ApiToken, "t")
_USER = Columns(User, "u")
_UNIT = Columns(Unit, "n")
_CHECK_SQL: dict[str, str] = {}


def _check_sql(connection: Any) -> str:
    """The token by its digest, with its user and the user's roles in active units (one row per
    role, ordered as `access.grants` reads them; one row with no role when the user has none)."""
    sql = _CHECK_SQL.get(connection.vendor)
    if sql is None:
        q = connection.ops.quote_name
        tables = {m: q(m._meta.db_table) for m in (ApiToken, User, Membership, Unit)}
        sql = _CHECK_SQL[connection.vendor] = (
            f"SELECT {_TOKEN.sql(connection)}, {_USER.sql(connection)}, m.{q('role')}, {_UNIT.sql(connection)} "  # noqa: S608  # nosec B608 (names are ours)
            f"FROM {tables[ApiToken]} t INNER JOIN {tables[User]} u ON u.{q('id')} = t.{q('user_id')} "
            f"LEFT OUTER JOIN ({tables[Membership]} m INNER JOIN {tables[Unit]} n "
            f"ON n.{q('id')} = m.{q('unit_id')} AND n.{q('active')} = %s) ON m.{q('user_id')} = u.{q('id')} "
            f"WHERE t.{q('digest')} = %s ORDER BY m.{q('id')}"
        )
    return sql


def _token_with_grants(token_digest: str) -> tuple[ApiToken, list[tuple[str, Unit]]] | None:
    """The token row of `token_digest` with its user, and the user's (role, unit) pairs in
    active units — one statement where the ORM took two (issue 9: every API request pays it)."""
    connection = connections[router.db_for_read(ApiToken)]
    with connection.cursor() as cursor:
        cursor.execute(_check_sql(connection), [True, token_digest])
        rows = cursor.fetchall()
    if not rows:
        return None
    a, b = len(_TOKEN), len(_TOKEN) + len(_USER)
    row = _TOKEN.instance(connection, rows[0][:a])
    user = _USER.instance(connection, rows[0][a:b])
    assert isinstance(row, ApiToken) and isinstance(user, User)
    row.user = user
    roles: list[tuple[str, Unit]] = []
    for values in rows:
        if values[b] is not None:
            unit = _UNIT.instance(connection, values[b + 1:])
            assert isinstance(unit, Unit)
            roles.append((values[b], unit))
    return row, roles


def token_check(token: str) -> ApiToken | None:
    """The live token row for `token` (with its user, whose roles `access.grants` then has
    without a query), or None."""
    if not token or len(token) > 200:
        return None
    found = _token_with_grants(digest(token))
    if found is None:
        return None
    row, roles = found
    if row.revoked_at is not None:
        return None
    now = timezone.now()
    user = row.user
    if row.expires_at < now or not user.is_active:
        return None
    if not any(hmac.compare_digest(row.user_mark, mark) for mark in _marks(user)):
        ApiToken.objects.filter(pk=row.pk, revoked_at__isnull=True).update(revoked_at=now, revoked_reason="password")
        return None
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    remember_grants(user, roles)
    return row


def live_tokens() -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


def token_revoke(row: ApiToken, *, reason: str) -> bool:
    """Revoke one token; False when it already was."""
    return bool(ApiToken.objects.filter(pk=row.pk, revoked_at__isnull=True)
                .update(revoked_at=timezone.now(), revoked_reason=reason[:30]))


def tokens_revoke(user: User, *, reason: str) -> int:
    """Revoke every live token of `user` (a new password, the account disabled, signed out)."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason[:30])


def sessions_end(user: User) -> None:
    """End every session and API token of `user`: the session epoch goes up, so every session
    hash and token mark issued before no longer matches."""
    User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
    user.refresh_from_db(fields=["session_epoch"])
    tokens_revoke(user, reason="signout")
