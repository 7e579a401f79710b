"""The site's 404 and CSRF-failure pages: the public portal's own under /portal/, the staff's
everywhere else (huiyin/templates/404.html, 403_csrf.html). A member of the public who followed a
wrong link or sent a stale form stays in the portal's frame, with a way back to it, and never
meets the staff's menu or sign-in. The API answers JSON of its own (api/v1.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views import csrf, defaults

PORTAL = "/portal/"


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(PORTAL):
        return defaults.page_not_found(request, exception, template_name="portal/404.html")
    return defaults.page_not_found(request, exception)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if request.path.startswith(PORTAL):
        return csrf.csrf_failure(request, reason, template_name="portal/403_csrf.html")
    return csrf.csrf_failure(request, reason)
