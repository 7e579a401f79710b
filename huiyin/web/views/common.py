"""What every staff page shares: login, the permission-checked case fetch, htmx detection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme

from huiyin.cases.access import case_for
from huiyin.cases.models import Case
from huiyin.org.models import User

staff_required: Callable[[Any], Any] = login_required(login_url=reverse_lazy("web:login"))


def user_of(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def case_or_404(request: HttpRequest, number: str) -> Case:
    """The case if the user may see it; a 404 otherwise, exactly as for a case that does not exist."""
    case = case_for(user_of(request), number)
    if case is None:
        raise Http404
    return case


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


def safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return fallback
