"""The second factor: TOTP codes from an authenticator app (django-otp's `oath`), a secret per
user sealed at rest (org.models.TotpDevice).

Who must use it: `org.access.mfa_required` (leaders, supervisors, administrators and auditors,
in production or with HUIYIN_MFA_REQUIRED=1). Anyone who has enrolled a device is asked for a
code too. Signing in is then two steps: the password (org.views.LoginView) puts the user in the
session as *pending*; the code (or, the first time, enrolling a device) finishes the login.
A session is marked with MFA_DONE when its login passed a code; the session middleware sends an
unmarked session of a user who must use a code back to the login.

A wrong code counts as a failed sign-in for the lockout (django-axes), by user and by address.
"""

from __future__ import annotations

import secrets
import time
from base64 import b32encode
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest
from django_otp.oath import TOTP

from .access import mfa_required
from .models import TotpDevice, User

PENDING = "huiyin_pending_login"
MFA_DONE = "huiyin_mfa"
PENDING_SECONDS = 300  # the code must follow the password within five minutes
STEP = 30
DIGITS = 6
TOLERANCE = 1  # one step either side: clocks a little off still work


def device_of(user: User, *, confirmed: bool = True) -> TotpDevice | None:
    qs = TotpDevice.objects.filter(user=user)
    if confirmed:
        qs = qs.filter(confirmed=True)
    return qs.first()


def needs_code(user: User) -> bool:
    """Whether signing in as `user` takes a code (or enrolling a device) after the password."""
    return mfa_required(user) or device_of(user) is not None


def enrolment(user: User) -> TotpDevice:
    """The user's unconfirmed device (a fresh secret), created if needed."""
    device = TotpDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        TotpDevice.objects.filter(user=user).delete()
        device = TotpDevice.objects.create(user=user, secret=secrets.token_hex(20))
    return device


def config_url(device: TotpDevice) -> str:
    """otpauth:// URL for the authenticator app (also shown as a QR code)."""
    issuer = settings.MFA_ISSUER.replace(":", "")
    label = quote(f"{issuer}:{device.user.username}")
    params = urlencode({"secret": b32encode(bytes.fromhex(device.secret)).decode().rstrip("="), "digits": DIGITS,
                        "period": STEP, "algorithm": "SHA1", "issuer": issuer})
    return f"otpauth://totp/{label}?{params}"


def qr_svg(device: TotpDevice) -> str:
    import segno

    return str(segno.make(config_url(device), error="m").svg_inline(scale=4, dark="#182433"))


def secret_text(device: TotpDevice) -> str:
    """The secret in base32, grouped by four, for typing it in by hand."""
    text = b32encode(bytes.fromhex(device.secret)).decode().rstrip("=")
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def check_code(device: TotpDevice, code: str) -> bool:
    """Whether `code` is the device's current code (each code once: a replay is refused)."""
    code = "".join(code.split())
    if not code.isdigit() or len(code) != DIGITS:
        return False
    totp = TOTP(bytes.fromhex(device.secret), STEP, 0, DIGITS, device.drift)
    totp.time = time.time()
    if not totp.verify(int(code), TOLERANCE, device.last_t + 1):
        return False
    TotpDevice.objects.filter(pk=device.pk).update(last_t=totp.t(), drift=totp.drift)
    device.last_t, device.drift = totp.t(), totp.drift
    return True


def current_code(device: TotpDevice, *, at: float | None = None) -> str:
    """The code the device shows now (tests, and the enrolment page's own check)."""
    totp = TOTP(bytes.fromhex(device.secret), STEP, 0, DIGITS, device.drift)
    totp.time = at if at is not None else time.time()
    return f"{totp.token():0{DIGITS}d}"


def failed(request: HttpRequest, user: User) -> None:
    """A wrong code: a failed sign-in, counted by the lockout and written to the audit log."""
    user_login_failed.send(sender=__name__, credentials={"username": user.username}, request=request)


def locked(request: HttpRequest, user: User) -> bool:
    from axes.handlers.proxy import AxesProxyHandler

    return not AxesProxyHandler.is_allowed(request, {"username": user.username})


# --- the pending login between the password and the code --------------------------------------------


def begin(request: HttpRequest, user: User, *, next_url: str) -> None:
    request.session[PENDING] = {"user": user.pk, "at": time.time(), "next": next_url,
                                "backend": getattr(user, "backend", "django.contrib.auth.backends.ModelBackend")}


def pending(request: HttpRequest) -> tuple[User, dict[str, Any]] | None:
    data = request.session.get(PENDING)
    if not isinstance(data, dict) or time.time() - float(data.get("at", 0)) > PENDING_SECONDS:
        return None
    pk = data.get("user")
    if not isinstance(pk, int):
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    return (user, data) if user is not None else None


def finish(request: HttpRequest, user: User, data: dict[str, Any]) -> None:
    """The code was right: log the user in (a new session key) with the session marked."""
    request.session.pop(PENDING, None)
    login(request, user, backend=data.get("backend"))
    request.session[MFA_DONE] = True


def api_problem(user: User, code: str | None) -> tuple[str, str] | None:
    """What stops the API from issuing a token without (or with this) code: (error code, message),
    or None when the user may have one."""
    device = device_of(user)
    if device is None:
        if mfa_required(user):
            return ("mfa_enrolment_required",
                    "Your role signs in with a one-time code: enrol an authenticator app on the web first.")
        return None
    if not code:
        return ("otp_required", "Send the one-time code of your authenticator app as `otp`.")
    if not check_code(device, code):
        return ("invalid_otp", "Wrong or already used one-time code.")
    return None
