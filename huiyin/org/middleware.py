"""Two middlewares of the account and request hygiene rules (issue 11).

`RequestGuardMiddleware` (first, before anything reads the request) refuses what no view can
serve, so nothing is stored that a later read cannot serve and nothing answers 500:
- a NUL character in the path (404: no such page or case), in the query string or in a form or
  JSON body (422 under /api/ naming the parameter, 400 on the pages) — PostgreSQL cannot store or
  even compare text containing one;
- a multipart body (an upload) larger than an attachment may be plus 1 MB, before it is read
  (413), on the pages as on the API.

`SessionLimitsMiddleware` (after authentication) signs a session out after
HUIYIN_SESSION_IDLE_MINUTES without a request or HUIYIN_SESSION_HOURS after signing in, and sends
a user whose role must sign in with a one-time code back to the login when the session did not
(a session from before MFA was required). It also remembers the request for the audit log.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from urllib.parse import unquote_plus, urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from . import audit as audit_log
from . import mfa
from .access import mfa_required

LOGIN_AT = "huiyin_login_at"
SEEN = "huiyin_seen"
SEEN_RESOLUTION = 60  # the last-seen time is written at most once a minute
_NUL_ESCAPES = re.compile(r"\\u0000|%00|\x00", re.IGNORECASE)


def _json_error(status: int, code: str, message: str, fields: dict[str, str]) -> HttpResponse:
    body = json.dumps({"error": {"code": code, "message": message, "fields": fields}})
    return HttpResponse(body, status=status, content_type="application/json")


def _nul_in_query(request: HttpRequest) -> str | None:
    raw = request.META.get("QUERY_STRING", "")
    if "%00" not in raw and "\x00" not in raw:
        return None
    for pair in raw.split("&"):
        name, _, value = pair.partition("=")
        if "\x00" in unquote_plus(name) + unquote_plus(value):
            return unquote_plus(name).replace("\x00", "") or "query"
    return None


def _nul_in_body(request: HttpRequest) -> str | None:
    ctype = request.META.get("CONTENT_TYPE", "")
    if request.method not in ("POST", "PUT", "PATCH", "DELETE") or ctype.startswith("multipart/"):
        return None
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        return None
    body = request.body
    if b"\x00" in body:
        return "body"
    text = body.decode("utf-8", "replace")
    if not _NUL_ESCAPES.search(text):
        return None
    if ctype.startswith("application/x-www-form-urlencoded"):
        for pair in text.split("&"):
            name, _, value = pair.partition("=")
            if "\x00" in unquote_plus(name) + unquote_plus(value):
                return unquote_plus(name).replace("\x00", "") or "body"
        return None
    if ctype.startswith("application/json"):
        try:
            data = json.loads(text)
        except ValueError:
            return None  # the view answers bad JSON itself
        return _nul_field(data, "")
    return None


def _nul_field(value: object, where: str) -> str | None:
    if isinstance(value, str):
        return (where or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            name = f"{where}.{k}" if where else str(k)
            if "\x00" in str(k):
                return where or "body"
            found = _nul_field(v, name)
            if found:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = _nul_field(v, f"{where}.{i}" if where else str(i))
            if found:
                return found
    return None


class RequestGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        api = request.path.startswith("/api/")
        if "\x00" in request.path_info:
            if api:
                return _json_error(404, "not_found", "Not found.", {})
            return HttpResponse(status=404)
        if request.META.get("CONTENT_TYPE", "").startswith("multipart/") and not api:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > settings.ATTACHMENT_MAX_BYTES + 1024 * 1024:
                return TemplateResponse(request, "errors/too_large.html",
                                        {"mb": settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)}, status=413)
        field = _nul_in_query(request) or _nul_in_body(request)
        if field is not None:
            if api:
                return _json_error(422, "invalid_input", f"Some fields are invalid: {field}",
                                   {field: "contains a NUL character"})
            return HttpResponseBadRequest("A field contains a NUL character.", content_type="text/plain")
        return self.get_response(request)


class SessionLimitsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = audit_log.current_request.set(request)
        try:
            refused = self._limits(request)
            return refused if refused is not None else self.get_response(request)
        finally:
            audit_log.current_request.reset(token)

    def _limits(self, request: HttpRequest) -> HttpResponse | None:
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if session is None or user is None or not user.is_authenticated:
            return None
        now = time.time()
        login_at = session.get(LOGIN_AT)
        seen = session.get(SEEN)
        if login_at is None:  # a session from before these limits: they start now
            session[LOGIN_AT] = session[SEEN] = login_at = seen = now
        reason = ""
        if now - float(login_at) > settings.SESSION_COOKIE_AGE:
            reason = "expired"
        elif seen is not None and now - float(seen) > settings.SESSION_IDLE_SECONDS:
            reason = "idle"
        elif mfa_required(user) and not session.get(mfa.MFA_DONE):
            reason = "mfa"
        if reason:
            logout(request)
            return self._to_login(request, reason)
        if seen is None or now - float(seen) > SEEN_RESOLUTION:
            session[SEEN] = now
        return None

    @staticmethod
    def _to_login(request: HttpRequest, reason: str) -> HttpResponse:
        if request.path.startswith("/api/"):
            return _json_error(401, "unauthenticated", "Signed out.", {})
        url = reverse("web:login") + "?" + urlencode({"signed_out": reason, "next": request.get_full_path()})
        if request.headers.get("HX-Request") == "true":
            response = HttpResponse(status=200)
            response["HX-Redirect"] = url
            return response
        return HttpResponseRedirect(url)


def on_login(request: HttpRequest) -> None:
    """A new login: the limits count from now."""
    now = time.time()
    request.session[LOGIN_AT] = now
    request.session[SEEN] = now
