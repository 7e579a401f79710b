"""Intake (受理) for a phone agent: one keyboard-first form; the caller's phone number brings up
the customer's open and earlier cases at once, so a call about an open case becomes an urge (催办)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from huiyin.cases import selectors, services, workflow
from huiyin.cases.attachments import attachment_add
from huiyin.cases.errors import CaseError
from huiyin.cases.models import Channel, Flag, Kind
from huiyin.cases.phones import normalise_phone
from huiyin.org.access import intake_unit

from .. import forms
from .cases import error_text, upload_reason
from .common import client_ip, staff_required, user_of

REPEAT_DAYS = 30  # 重复投诉: the same customer again within 30 days of closing (DESIGN §5)
LOOKUP_LIMIT = 15


def _form_context(request: HttpRequest, values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    user = user_of(request)
    return {
        "v": values,
        "errors": errors,
        "kinds": Kind.choices,
        "channels": Channel.choices,
        "flag_choices": Flag.choices,
        "categories": forms.category_choices(),
        "customer_classes": ["", "A", "B", "C", "D"],
        "form_token": values.get("form_token") or uuid.uuid4().hex,
        "may_register": intake_unit(user) is not None,
        "now_local": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
    }


@require_http_methods(["GET", "POST"])
@staff_required
def intake(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    if request.method == "GET":
        initial: dict[str, Any] = {"kind": request.GET.get("kind", "complaint"), "channel": request.GET.get("channel", "phone"),
                  "complainant_phone": request.GET.get("phone", "")}
        return render(request, "web/intake.html", _form_context(request, initial, {}))
    post = request.POST
    data = forms.intake_data(post)
    try:
        case, _created = services.case_register(
            data, actor=user, source="web", ip=client_ip(request), idempotency_key=post.get("form_token") or None
        )
    except CaseError as exc:
        values: dict[str, Any] = {k: post.get(k) for k in post}
        values["flags"] = post.getlist("flags")
        errors = {k.removeprefix("complainant."): v for k, v in exc.fields.items()}
        errors = {("complainant_" + k if k in forms.COMPLAINANT_FIELDS else k): v for k, v in errors.items()}
        context = _form_context(request, values, errors)
        context["alert"] = {"message": error_text(exc), "detail": exc.message}
        return render(request, "web/intake.html", context, status=exc.status)
    for upload in request.FILES.getlist("files"):
        try:
            attachment_add(case, upload, actor=user, source="web")
        except CaseError as exc:
            messages.error(request, _("%(name)s was not accepted: %(reason)s") % {
                "name": upload.name, "reason": upload_reason(exc)})
    answer = post.get("answer", "").strip()
    if answer:
        try:
            workflow.perform(case, "resolve_on_spot", actor=user, data={"reply": answer}, source="web",
                             ip=client_ip(request))
        except CaseError as exc:
            messages.error(request, _("The case was registered, but the answer could not be recorded: %(why)s")
                           % {"why": exc.message})
        else:
            messages.success(request, _("Case %(number)s answered on the spot and closed.") % {"number": case.number})
            return redirect("web:intake") if post.get("then") != "open" else redirect("web:case", number=case.number)
    messages.success(request, _("Case %(number)s registered.") % {"number": case.number},
                     extra_tags=f"case:{case.number}")
    if post.get("then") == "open":
        return redirect("web:case", number=case.number)
    return redirect("web:intake")


@require_GET
@staff_required
def intake_lookup(request: HttpRequest) -> HttpResponse:
    """The caller's open and earlier cases (htmx partial), by exact phone number."""
    user = user_of(request)
    phone = normalise_phone(request.GET.get("complainant_phone", ""))
    context: dict[str, Any] = {"phone": phone, "open": [], "earlier": [], "searched": len(phone) >= 7}
    if context["searched"]:
        rows = selectors.customer_cases(user, phone, limit=LOOKUP_LIMIT)
        since = timezone.now() - timedelta(days=REPEAT_DAYS)
        for c in rows:
            if c.is_open:
                c.may_urge = "urge" in workflow.allowed_actions(user, c)
                context["open"].append(c)
            else:
                c.repeat = bool(c.closed_at and c.closed_at >= since)
                context["earlier"].append(c)
        context["more"] = len(rows) == LOOKUP_LIMIT
    return render(request, "web/_customer_history.html", context)
