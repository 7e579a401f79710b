"""The case page: facts, deadlines, timeline, attachments, and a form for every action the user
may take now — each posted to `workflow.perform`, the only code that changes a case."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from huiyin.cases import selectors, workflow
from huiyin.cases.access import case_for
from huiyin.cases.attachments import attachment_add
from huiyin.cases.errors import BadInput, CaseError, Conflict, Forbidden, InvalidTransition
from huiyin.cases.models import Case, CaseLink, Extension
from huiyin.org.access import org_units

from .. import forms, labels
from .common import case_or_404, client_ip, is_htmx, safe_next, staff_required, user_of


def _order(name: str) -> int:
    return labels.ORDER.index(name) if name in labels.ORDER else len(labels.ORDER)


def case_context(request: HttpRequest, case: Case, *, failed: forms.ActionForm | None = None) -> dict[str, Any]:
    user = user_of(request)
    facts = selectors.case_facts(user, case)
    units = org_units(user)
    action_forms = []
    for name in sorted(facts["allowed_actions"], key=_order):
        if name not in workflow.ACTIONS:
            continue
        if failed is not None and failed.action == name:
            action_forms.append(failed)
        else:
            action_forms.append(forms.action_form(name, units=units, case=case))
    now = timezone.now()
    events = list(case.events.select_related("actor").order_by("id"))
    links = list(CaseLink.objects.filter(case=case).select_related("to")) + list(
        CaseLink.objects.filter(to=case).select_related("case")
    )
    unit_names = {u.code: u.name for u in units}
    return {
        "case": case,
        "facts": facts,
        "deadlines": [selectors.timer_facts(t, now) | {"obj": t} for t in selectors.current_timers(case)],
        "events": events,
        "attachments": list(case.attachments.select_related("uploaded_by").order_by("id")),
        "extensions": list(Extension.objects.filter(case=case).select_related("requested_by", "decided_by")
                           .order_by("id")),
        "links": links,
        "forms": action_forms,
        "open_form": failed.action if failed else request.GET.get("action", ""),
        "unit_names": unit_names,
        "now": now,
    }


@require_GET
@staff_required
def case_detail(request: HttpRequest, number: str) -> HttpResponse:
    case = case_or_404(request, number)
    return render(request, "web/case.html", case_context(request, case))


@require_POST
@staff_required
def case_act(request: HttpRequest, number: str, action: str) -> HttpResponse:
    """Perform one workflow action from a form. Success → back to the page (or `next`);
    a stale version or a state that moved on → the fresh case with a clear message (409)."""
    user = user_of(request)
    case = case_or_404(request, number)
    if action not in workflow.ACTIONS:
        raise Http404
    data = forms.action_data(action, request.POST)
    try:
        updated = workflow.perform(case, action, actor=user, data=data, source="web", ip=client_ip(request))
    except CaseError as exc:
        return _failed(request, case, action, exc)
    text = _("%(action)s: done.") % {"action": labels.ACTIONS.get(action, action)}
    if is_htmx(request):
        return render(request, "web/_act_result.html", {"ok": True, "message": text, "case": updated,
                                                         "action": action})
    messages.success(request, text)
    still_visible = case_for(user, updated.number) is not None
    fallback = reverse("web:case", args=[updated.number]) if still_visible else reverse("web:home")
    if not still_visible:
        messages.info(request, _("Case %(number)s has left your units.") % {"number": updated.number})
    return redirect(safe_next(request, fallback))


def error_text(exc: CaseError) -> str:
    if isinstance(exc, Conflict):
        return _("Someone else changed this case while you were working on it. The page now shows the "
                 "case as it is; check it and try again.")
    if isinstance(exc, InvalidTransition):
        return _("This action is no longer possible on the case as it is now. The page shows its current "
                 "state.")
    if isinstance(exc, Forbidden):
        return _("Your roles do not allow this action on this case.")
    return _("Some fields need your attention.")


def _failed(request: HttpRequest, case: Case, action: str, exc: CaseError) -> HttpResponse:
    user = user_of(request)
    fresh = case_for(user, case.number)
    if fresh is None:
        raise Http404
    message = error_text(exc)
    if is_htmx(request):
        return render(request, "web/_act_result.html", {
            "ok": False, "message": message, "detail": exc.message, "case": fresh, "action": action,
            "conflict": isinstance(exc, (Conflict, InvalidTransition)),
        }, status=exc.status)
    # The user's input stays in the form (against the fresh version), beside the service's complaints.
    failed = forms.refill(forms.action_form(action, units=org_units(user), case=fresh),
                          request.POST, exc.fields)
    if isinstance(exc, BadInput):
        failed.error = message
    context = case_context(request, fresh, failed=failed)
    context["alert"] = {"level": "warning" if exc.status == 409 else "danger", "message": message,
                        "detail": exc.message, "conflict": isinstance(exc, (Conflict, InvalidTransition))}
    return render(request, "web/case.html", context, status=exc.status)


@require_POST
@staff_required
def case_attach(request: HttpRequest, number: str) -> HttpResponse:
    case = case_or_404(request, number)
    files = request.FILES.getlist("files")
    if not files:
        messages.warning(request, _("Choose a file first."))
    for upload in files:
        try:
            attachment_add(case, upload, actor=user_of(request), source="web")
        except CaseError as exc:
            messages.error(request, _("%(name)s was not accepted: %(reason)s") % {
                "name": upload.name, "reason": upload_reason(exc)})
        else:
            messages.success(request, _("%(name)s attached.") % {"name": upload.name})
    return redirect("web:case", number=case.number)


def upload_reason(exc: CaseError) -> str:
    why = exc.fields.get("file", "")
    return {
        "too large": _("the file is too large"),
        "type not allowed": _("this type of file is not accepted"),
        "empty": _("the file is empty"),
    }.get(why, exc.message)


@require_GET
@staff_required
def attachment_download(request: HttpRequest, number: str, token: str) -> FileResponse:
    case = case_or_404(request, number)
    att = case.attachments.filter(token=token).first()
    if att is None:
        raise Http404
    response = FileResponse(att.file.open("rb"), as_attachment=True, filename=att.name, content_type=att.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response
