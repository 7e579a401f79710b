"""Signing in (password, then a one-time code where needed), enrolling an authenticator app, and
the user's own account security page (second factor, signing out everywhere)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from . import mfa
from .access import mfa_required
from .audit import audit
from .auth import lockout_response
from .models import TotpDevice, User
from .tokens import sessions_end

SIGNED_OUT = {
    "idle": "You were signed out after a time without activity.",
    "expired": "Your session reached its maximum length: please sign in again.",
    "mfa": "Your role signs in with a one-time code: please sign in again.",
}


class LoginView(auth_views.LoginView):
    """Step one: the password. Where a code is needed, the user is only *pending* after it."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("web:home")  # type: ignore[assignment]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        reason = self.request.GET.get("signed_out", "")
        context["signed_out"] = _(SIGNED_OUT[reason]) if reason in SIGNED_OUT else ""
        return context

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if mfa.needs_code(user):
            mfa.begin(self.request, user, next_url=self.get_success_url())
            return redirect("org:login_code" if mfa.device_of(user) else "org:login_enrol")
        return super().form_valid(form)


def _safe(request: HttpRequest, url: str) -> str:
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                                require_https=request.is_secure()):
        return url
    return reverse("web:home")


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponseBase:
    """Step two: the code of the user's authenticator app."""
    found = mfa.pending(request)
    if found is None:
        return redirect("web:login")
    user, data = found
    device = mfa.device_of(user)
    if device is None:
        return redirect("org:login_enrol")
    error = ""
    if request.method == "POST":
        if mfa.locked(request, user):
            return lockout_response(request)
        if mfa.check_code(device, request.POST.get("code", "")[:20]):
            mfa.finish(request, user, data)
            return redirect(_safe(request, data.get("next", "")))
        mfa.failed(request, user)
        error = _("Wrong or already used code: type the code your app shows now.")
    return render(request, "registration/login_code.html", {"error": error, "username": user.username})


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_enrol(request: HttpRequest) -> HttpResponseBase:
    """The first sign-in of a user whose role needs a code: enrol an authenticator app."""
    found = mfa.pending(request)
    if found is None:
        return redirect("web:login")
    user, data = found
    if mfa.device_of(user) is not None:
        return redirect("org:login_code")
    device = mfa.enrolment(user)
    error = ""
    if request.method == "POST":
        if mfa.locked(request, user):
            return lockout_response(request)
        if mfa.check_code(device, request.POST.get("code", "")[:20]):
            TotpDevice.objects.filter(pk=device.pk).update(confirmed=True)
            audit("mfa_enrolled", actor=user, target=user.username, request=request)
            mfa.finish(request, user, data)
            return redirect(_safe(request, data.get("next", "")))
        mfa.failed(request, user)
        error = _("Wrong code: type the code your app shows now.")
    return render(request, "registration/login_enrol.html", {
        "error": error, "username": user.username, "qr": mfa.qr_svg(device), "secret": mfa.secret_text(device),
    })


@login_required
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def security(request: HttpRequest) -> HttpResponse:
    """The user's own second factor: enrol, replace or (where the role allows) remove it."""
    user: User = request.user  # type: ignore[assignment]
    device = mfa.device_of(user)
    pending_device = None if device else TotpDevice.objects.filter(user=user, confirmed=False).first()
    error = ""
    if request.method == "POST":
        what = request.POST.get("do", "")
        code = request.POST.get("code", "")[:20]
        if what == "start":
            pending_device = mfa.enrolment(user) if device is None else None
        elif what == "confirm" and pending_device is not None:
            if mfa.check_code(pending_device, code):
                TotpDevice.objects.filter(pk=pending_device.pk).update(confirmed=True)
                request.session[mfa.MFA_DONE] = True
                audit("mfa_enrolled", actor=user, target=user.username, request=request)
                messages.success(request, _("Your authenticator app is set up: sign-ins now ask for its code."))
                return redirect("org:security")
            mfa.failed(request, user)
            error = _("Wrong code: type the code your app shows now.")
        elif what == "remove" and device is not None and not mfa_required(user):
            if mfa.check_code(device, code):
                device.delete()
                audit("mfa_removed", actor=user, target=user.username, request=request)
                messages.success(request, _("The authenticator app was removed."))
                return redirect("org:security")
            mfa.failed(request, user)
            error = _("Wrong code: type the code your app shows now.")
    return render(request, "account/security.html", {
        "device": device, "pending": pending_device, "required": mfa_required(user), "error": error,
        "qr": mfa.qr_svg(pending_device) if pending_device else "",
        "secret": mfa.secret_text(pending_device) if pending_device else "",
    })


@login_required
@require_POST
def signout_everywhere(request: HttpRequest) -> HttpResponse:
    """End every session and API token of the user (a lost phone, a shared computer)."""
    user: User = request.user  # type: ignore[assignment]
    sessions_end(user)
    audit("signed_out_everywhere", actor=user, target=user.username, request=request)
    logout(request)
    return redirect("web:login")
