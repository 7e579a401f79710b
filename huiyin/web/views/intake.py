"""Intake (受理) for a phone agent: one keyboard-first form; the caller's phone number brings up
the customer's open and earlier cases at once, so a call about an open case becomes an urge (催办)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from huiyin.cases import selectors, services, workflow
from huiyin.cases.access import case_for, complainant_view, may_look_up_callers, may_see_identity
from huiyin.cases.attachments import attachment_add
from huiyin.cases.errors import BadInput, CaseError
from huiyin.cases.models import Channel, Flag, Kind
from huiyin.cases.phones import PHONE_HELP, is_chinese_phone, normalise_phone
from huiyin.org.access import intake_unit
from huiyin.org.models import User
from huiyin.policies.models import Policy
from huiyin.policies.services import active_policy, config_for

from .. import errors as web_errors
from .. import forms, labels
from .cases import error_text, upload_reason
from .common import client_ip, staff_required, user_of

REPEAT_DAYS = 30  # 重复投诉: the same customer again within 30 days of closing (DESIGN §5)
LOOKUP_LIMIT = 15


def callback_kinds() -> list[str]:
    """The kinds whose cases need a way to reach the caller under the active policy (the one
    rule, `PolicyConfig.contact_required`; the service refuses without one): the form marks the
    phone as required for them."""
    try:
        cfg = config_for(active_policy().pk)
    except Policy.DoesNotExist:
        return []
    return [k for k in Kind.values if cfg.contact_required(k)]


def _form_context(request: HttpRequest, values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    user = user_of(request)
    kinds = callback_kinds()
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
        "callback_kinds": kinds,
        "contact_required": values.get("kind") in kinds,
        "details_open": any(k in errors for k in DETAIL_FIELDS),
        "same_as": values.get("same_as", ""),
    }


DETAIL_FIELDS = ("complainant_account", "complainant_id_number", "complainant_email", "complainant_address",
                 "received_at", "occurred_at", "product", "upstream_ref", "upstream_due_at")
CALLER_FIELDS = ("phone", "name", "email", "address", "account", "customer_class")


def same_caller(user: User, number: str) -> dict[str, Any]:
    """The caller's details from one of their cases, as far as the user may read them: another
    question of the same call starts from them."""
    case = case_for(user, number) if number else None
    if case is None or not may_see_identity(user, case):
        return {}
    person = complainant_view(user, case)
    values: dict[str, Any] = {f"complainant_{k}": person[k] for k in CALLER_FIELDS if person.get(k)}
    values["channel"] = case.channel
    values["same_as"] = case.number
    return values


@require_http_methods(["GET", "POST"])
@staff_required
def intake(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    if request.method == "GET":
        initial: dict[str, Any] = {"kind": request.GET.get("kind", "complaint"), "channel": request.GET.get("channel", "phone"),
                  "complainant_phone": request.GET.get("phone", "")}
        # issue 12: the call centre's screen-pop opens intake with the caller's name and the call's recording
        initial.update({k: request.GET.get(p, "")[:200] for k, p in (("complainant_name", "name"),
                                                                     ("recording_ref", "recording")) if request.GET.get(p)})
        initial.update(same_caller(user, request.GET.get("same", "")))
        return render(request, "web/intake.html", _form_context(request, initial, {}))
    post = request.POST
    data = forms.intake_data(post)
    try:
        case, created = services.case_register(
            data, actor=user, source="web", ip=client_ip(request), idempotency_key=post.get("form_token") or None,
            answered_on_spot=bool(post.get("answer", "").strip()),
        )
    except CaseError as exc:
        values: dict[str, Any] = {k: post.get(k) for k in post}
        values["flags"] = post.getlist("flags")
        problems = web_errors.field_problems(exc) if isinstance(exc, BadInput) else {}
        # no way to reach the caller (the whole complainant): said at the phone, the first contact field
        errors = {("complainant_phone" if k == "complainant" else k.replace("complainant.", "complainant_")): v
                  for k, v in problems.items()}
        context = _form_context(request, values, errors)
        detail = labels.statements(labels.pair(labels.INTAKE_FIELDS.get(k, k), v) for k, v in errors.items())
        context["alert"] = {"message": error_text(exc), "detail": detail}
        return render(request, "web/intake.html", context, status=exc.status)
    if not created and getattr(case, "urged_instead", False):
        messages.warning(request, _("The caller already has an open case of this kind, %(number)s: it was urged "
                                    "instead of registering a new one.") % {"number": case.number},
                         extra_tags=f"case:{case.number}")
        return redirect("web:case", number=case.number) if post.get("then") == "open" else redirect("web:intake")
    for upload in request.FILES.getlist("files"):
        try:
            attachment_add(case, upload, actor=user, source="web")
        except CaseError as exc:
            messages.error(request, _("%(name)s was not accepted: %(reason)s") % {
                "name": upload.name, "reason": upload_reason(exc)})
    answer = post.get("answer", "").strip()
    then = post.get("then")
    if answer:
        try:
            workflow.perform(case, "resolve_on_spot", actor=user, data={"reply": answer}, source="web",
                             ip=client_ip(request))
        except CaseError:
            messages.error(request, _("The case %(number)s was registered, but the answer could not be recorded: "
                                      "answer it on the case page.") % {"number": case.number},
                           extra_tags=f"case:{case.number}")
        else:
            messages.success(request, _("Case %(number)s answered on the spot and closed.") % {"number": case.number},
                             extra_tags=f"case:{case.number} same:{case.number}")
            return _after_intake(then, case.number)
    waiting = selectors.waiting_for(case)
    text = _("Case %(number)s registered.") % {"number": case.number}
    if waiting:
        text = _("Case %(number)s registered. Now: %(waiting)s.") % {
            "number": case.number, "waiting": labels.waiting_text(waiting, selectors.waiting_roles(case))}
    messages.success(request, text, extra_tags=f"case:{case.number} same:{case.number}")
    return _after_intake(then, case.number)


def _after_intake(then: str | None, number: str) -> HttpResponse:
    if then == "open":
        return redirect("web:case", number=number)
    if then == "same":
        return redirect(reverse("web:intake") + "?" + urlencode({"same": number}))
    return redirect("web:intake")


@require_GET
@staff_required
def intake_lookup(request: HttpRequest) -> HttpResponse:
    """The caller's open and earlier cases (htmx partial), by exact phone number: each open case
    with its unit, the step it waits for and its deadline, so the agent can tell the caller how
    far it is; the name the caller gave last time; a word if the number cannot be right."""
    user = user_of(request)
    if not may_look_up_callers(user):  # the roles that take calls (cases.access)
        raise PermissionDenied
    typed = request.GET.get("complainant_phone", "")
    phone = normalise_phone(typed)
    context: dict[str, Any] = {"phone": phone, "open": [], "earlier": [], "searched": len(phone) >= 7,
                               "now": timezone.now(), "known_name": ""}
    if context["searched"] and not is_chinese_phone(typed):
        context["phone_problem"] = str(PHONE_HELP)
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
            if not context["known_name"] and may_see_identity(user, c):
                context["known_name"] = complainant_view(user, c)["name"]
        selectors.attach_next_deadline(context["open"], context["now"])
        context["more"] = len(rows) == LOOKUP_LIMIT
    return render(request, "web/_customer_history.html", context)
