"""Signing in: the client's address, the lockout answer (django-axes), the second factor's rules.

Lockout (settings.AXES_*): failures are counted per user name and per address; either reaching
HUIYIN_LOCKOUT_FAILURES locks it for HUIYIN_LOCKOUT_MINUTES. A locked user or address gets 429 —
the API's JSON error, or the pages' "locked" page — even with the right password. An administrator
unlocks with `huiyin user unlock NAME` or by deleting the access attempts in the admin.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or behind HUIYIN_PROXY_COUNT trusted proxies the address
    the outermost of them saw (counted from the right of X-Forwarded-For, which the client cannot
    forge past its own proxy)."""
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.PROXY_COUNT
    if count > 0:
        hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= count:
            found = _valid_ip(hops[-count])
            if found:
                return found
    return _valid_ip(remote) if remote else None


LOCKED_MESSAGE = "Too many failed sign-ins: this account or address is locked for a while. An administrator can unlock it."


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict[str, Any] | None = None) -> HttpResponse:
    """django-axes' answer to a locked-out attempt: the API's error shape under /api/, else a page."""
    minutes = int(settings.AXES_COOLOFF_TIME * 60) if settings.AXES_COOLOFF_TIME else 0
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"error": {"code": "locked_out", "message": LOCKED_MESSAGE, "fields": {}}}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
    if minutes:
        response["Retry-After"] = str(minutes * 60)
    return response


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check for every sign-in that comes with a request (the login page, the
    one-time code, POST /api/v1/auth/token). A programmatic authentication without a request (the
    test client's `login`, a shell) has no address to count and is not an entry point: it passes
    to the password check alone."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None,
                     **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

