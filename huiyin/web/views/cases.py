"""The case page: facts, deadlines, timeline, attachments, and a form for every action the user
may take now — each posted to `workflow.perform`, the only code that changes a case."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from huiyin.cases import selectors, workflow
from huiyin.cases.access import case_for, may_see_identity
from huiyin.cases.attachments import attachment_add, attachment_open
from huiyin.cases.errors import BadInput, CaseError, Conflict, Forbidden, InvalidTransition
from huiyin.cases.models import Case, CompensationStatus, State
from huiyin.org.access import org_units
from huiyin.org.models import Unit, User

from .. import errors, forms, labels, timeline
from ..printing import print_layout
from .common import case_or_404, client_ip, is_htmx, safe_next, staff_required, user_of

REPEAT_DAYS = 30  # 重复投诉: the same customer again within 30 days of closing (DESIGN §5)
HISTORY_LIMIT = 10


def _order(name: str) -> int:
    return labels.ORDER.index(name) if name in labels.ORDER else len(labels.ORDER)


# The step a case waits for, and the one other step its reader may rather take (a leader may
# reject instead of approving, a unit return a case instead of acknowledging it …).
ALTERNATIVE = {
    "approve": "reject", "approve_plan": "reject", "acknowledge": "return", "redispatch": "close",
    "escalate": "close", "submit_result": "request_extension", "dispatch": "mark_invalid",
    "grant_extension": "refuse_extension", "approve_compensation": "refuse_compensation",
}
# Steps that wait for someone even when the case's state does not say so.
SIDE_STEPS = ("co_acknowledge", "co_submit_result", "grant_extension", "approve_compensation", "approve_reply")


def next_actions(case: Case, allowed: list[str]) -> list[str]:
    """The one or two actions the reader is expected to take next (the page's primary buttons)."""
    step = selectors.waiting_for(case)
    first = step if step in allowed else next((a for a in SIDE_STEPS if a in allowed), None)
    if first is None:
        return []
    other = ALTERNATIVE.get(first)
    return [first, other] if other in allowed else [first]


def caller_history(user: User, case: Case) -> dict[str, Any] | None:
    """The caller's other cases (by phone), for a reader who may see who complained."""
    if not case.complainant_phone or not may_see_identity(user, case):
        return None
    others = [c for c in selectors.customer_cases(user, case.complainant_phone, limit=HISTORY_LIMIT + 1)
              if c.pk != case.pk][:HISTORY_LIMIT]
    since = timezone.now() - timedelta(days=REPEAT_DAYS)
    return {
        "open": [c for c in others if c.is_open],
        "recent_closed": [c for c in others if not c.is_open and c.closed_at and c.closed_at >= since],
        "total": len(others), "more": len(others) >= HISTORY_LIMIT, "phone": case.complainant_phone,
    }


def case_context(request: HttpRequest, case: Case, *, failed: forms.ActionForm | None = None,
                 units: list[Unit] | None = None) -> dict[str, Any]:
    """What the case page shows. Each read is made once and handed to every part that shows it:
    the current timers (facts, deadlines, printout), the timeline (page and printout), the
    organisation's units (`units`, when the caller has them)."""
    user = user_of(request)
    timers = selectors.current_timers(case)
    facts = selectors.case_facts(user, case, timers=timers)
    if units is None:
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
    events = selectors.timeline(user, case)  # other cases named only as far as the reader may see them
    unit_names = {u.code: u.name for u in units}
    deadlines = [selectors.timer_facts(t, now) | {"obj": t} for t in timers]
    current = next((d["obj"] for d in sorted(deadlines, key=lambda d: d["obj"].due_at)
                    if d["obj"].stopped_at is None and d["obj"].state != "paused"), None)
    primary = next_actions(case, [f.action for f in action_forms])
    by_name = {f.action: f for f in action_forms}
    return {
        "case": case,
        "facts": facts,
        "deadlines": deadlines,
        "current_deadline": current,
        "waiting": facts["waiting_for"] or "",
        "next_forms": [by_name[a] for a in primary],
        "history": caller_history(user, case),
        "events": events,
        "timeline": timeline.entries(events, unit_names=unit_names),
        "seen_event": events[-1].pk if events else 0,
        "attachments": selectors.attachments(user, case),
        "extensions": selectors.extensions(case),
        "links": facts["links"],
        "forms": action_forms,
        "open_form": failed.action if failed else request.GET.get("action", ""),
        "unit_names": unit_names,
        "now": now,
        "record_form": print_layout(case, user, events=events, timers=timers),
    }


@require_GET
@staff_required
def case_detail(request: HttpRequest, number: str) -> HttpResponse:
    case = case_or_404(request, number)
    return render(request, "web/case.html", case_context(request, case))


@require_POST
@staff_required
def case_act(request: HttpRequest, number: str, action: str) -> HttpResponse:
    """Perform one workflow action from a form. Success → back to the page (or `next`) with
    what happened and what the case waits for now; a stale version or a state that moved on →
    the fresh case with who changed what, and when (409)."""
    user = user_of(request)
    case = case_or_404(request, number)
    if action not in workflow.ACTIONS:
        raise Http404
    data = forms.action_data(action, request.POST)
    try:
        updated = workflow.perform(case, action, actor=user, data=data, source="web", ip=client_ip(request))
    except CaseError as exc:
        return _failed(request, case, action, exc)
    text = outcome_text(action, updated)
    if is_htmx(request):
        return render(request, "web/_act_result.html", {"ok": True, "message": text, "case": updated,
                                                         "action": action})
    messages.success(request, text)
    still_visible = case_for(user, updated.number) is not None
    fallback = reverse("web:case", args=[updated.number]) if still_visible else reverse("web:home")
    if not still_visible:
        messages.info(request, _("Case %(number)s has left your units.") % {"number": updated.number})
    return redirect(safe_next(request, fallback))


def pending_text(action: str, case: Case) -> str:
    """What an action asked for but has not happened yet (it waits for someone's decision)."""
    if action in ("dispatch", "redispatch", "escalate") and case.state == State.PENDING_APPROVAL:
        return _("it goes to the unit once the leader has given the instruction")
    if action == "request_extension":
        return _("the extra time counts once the leader grants it")
    if action == "compensate" and case.compensation_status == CompensationStatus.REQUESTED:
        return _("above the policy's limit, it waits for the leader's approval")
    if action == "submit_result" and case.state == State.PLAN_APPROVAL:
        return _("the handling plan waits for the leader's approval")
    return ""


def outcome_text(action: str, case: Case) -> str:
    """The flash message after an action: "done" only when its effect has happened; otherwise
    what it waits for. Either way, the step the case waits for now."""
    name = labels.ACTIONS.get(action, action)
    pending = pending_text(action, case)
    if pending:
        return _("%(action)s: submitted; %(pending)s.") % {"action": name, "pending": pending}
    waiting = selectors.waiting_for(case)
    if waiting:
        return _("%(action)s: done. Now: %(waiting)s.") % {
            "action": name, "waiting": labels.waiting_text(waiting, selectors.waiting_roles(case))}
    return _("%(action)s: done.") % {"action": name}


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


def changed_since(user: User, case: Case, seen: int, *, unit_names: dict[str, str]) -> list[timeline.Entry]:
    """Who changed what, and when, since the reader loaded the page (the last event they saw);
    without that mark, the latest change."""
    events = case.events.select_related("actor").order_by("-id")
    rows = list(events.filter(id__gt=seen)[:10]) if seen else list(events[:1])
    return timeline.entries(selectors.redact_references(user, case, rows[::-1]), unit_names=unit_names)


def error_detail(exc: CaseError, fresh: Case, problems: dict[str, str], labels_of: dict[str, Any]) -> str:
    """The second line of an error, in the reader's language (never the service's English)."""
    if isinstance(exc, BadInput):
        return labels.statements(labels.pair(labels_of.get(k, labels.FIELDS.get(k, k)), v) for k, v in problems.items())
    if isinstance(exc, (Conflict, InvalidTransition)):
        waiting = selectors.waiting_for(fresh)
        state = labels.label("state", fresh.state)
        if waiting:
            return _("The case is now “%(state)s”: %(waiting)s.") % {"state": state,
                                                                     "waiting": labels.waiting_text(
                                                                         waiting, selectors.waiting_roles(fresh))}
        return _("The case is now “%(state)s”.") % {"state": state}
    return ""


def _failed(request: HttpRequest, case: Case, action: str, exc: CaseError) -> HttpResponse:
    user = user_of(request)
    fresh = case_for(user, case.number)
    if fresh is None:
        raise Http404
    message = error_text(exc)
    problems = errors.field_problems(exc) if isinstance(exc, BadInput) else {}
    org = org_units(user)  # read once: the form, the names of the changes and the page
    form = forms.action_form(action, units=org, case=fresh)
    detail = error_detail(exc, fresh, problems, {w.name: w.label for w in form.widgets})
    units = {u.code: u.name for u in org}
    conflict = isinstance(exc, (Conflict, InvalidTransition))
    seen = request.POST.get("seen", "")
    seen_id = int(seen) if seen.isdigit() and len(seen) < 19 else 0  # an id, never beyond 64 bits
    changes = changed_since(user, fresh, seen_id, unit_names=units) if conflict else []
    if is_htmx(request):
        return render(request, "web/_act_result.html", {
            "ok": False, "message": message, "detail": detail, "case": fresh, "action": action,
            "conflict": conflict, "changes": changes,
        }, status=exc.status)
    # The user's input stays in the form (against the fresh version), beside the service's complaints.
    failed = forms.refill(form, request.POST, problems)
    if isinstance(exc, BadInput):
        failed.error = message
    context = case_context(request, fresh, failed=failed, units=org)
    context["alert"] = {"level": "warning" if exc.status == 409 else "danger", "message": message,
                        "detail": detail, "conflict": conflict, "changes": changes}
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
    }.get(why, _("the file could not be stored"))


@require_GET
@staff_required
def attachment_download(request: HttpRequest, number: str, token: str) -> FileResponse:
    case = case_or_404(request, number)
    att = selectors.attachment(user_of(request), case, token)  # a report's confidential files: cases.access
    if att is None:
        raise Http404
    response = FileResponse(attachment_open(att), as_attachment=True, filename=att.name, content_type=att.content_type)
    response["Content-Length"] = str(att.size)
    response["X-Content-Type-Options"] = "nosniff"
    return response
