"""The case list: filters, sorting, keyset pagination, saved filters and the Excel export."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from huiyin.cases import inputs, outcomes, selectors
from huiyin.cases.models import Channel, CustomerClass, Kind, Severity, State
from huiyin.org.access import org_units, unit_for, visible_unit
from huiyin.privacy import exports

from .. import forms
from ..models import SavedFilter
from .common import is_htmx, staff_required, user_of

PAGE_SIZE = 25
FILTER_KEYS = ("state", "kind", "unit", "severity", "category", "channel", "overdue", "deadline", "from", "to", "q",
               "sort", "within", "category_under", "customer_class", "region", "outcome")


def _parsed(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _date(value: str) -> date | None:
    """A filter date, held to the years a case can have: a date before them bounds nothing
    (1899-12-31 → 1900-01-01), one after them leaves no case (from 9999-12-31 → 2199-12-31), and
    neither overflows when it becomes a time. Text that is no date is no filter (`unusable_dates`)."""
    found = _parsed(value)
    if found is None:
        return None
    return max(date(inputs.EARLIEST_YEAR, 1, 1), min(found, date(inputs.LATEST_YEAR, 12, 31)))


def unusable_dates(params: QueryDict) -> list[str]:
    """The date filters (`from`, `to`) that were given but are no date (`9999-99-99`, `abc`). The
    list says so beside the dates (and leaves them out); the export refuses, rather than export
    more cases than were asked for."""
    return [key for key in ("from", "to") if params.get(key, "").strip() and _parsed(params.get(key, "").strip()) is None]


FILTER_NAME_MAX: int = SavedFilter._meta.get_field("name").max_length or 0


def parse_filters(request: HttpRequest, params: QueryDict) -> selectors.ListFilters:
    user = user_of(request)
    states = [s for s in params.getlist("state") if s in State.values]
    unit = unit_for(user, params.get("unit", "")) if params.get("unit") else None
    overdue = params.get("overdue", "") if params.get("overdue") in ("yes", "no") else ""
    deadline = params.get("deadline", "") if params.get("deadline") in selectors.URGENCY else ""
    if overdue == "yes" and not deadline:  # the older spelling of deadline=overdue (saved filters, links)
        overdue, deadline = "", "overdue"
    return selectors.ListFilters(
        state=states,
        kind=params.get("kind", "") if params.get("kind") in Kind.values else "",
        unit=unit,
        severity=params.get("severity", "") if params.get("severity") in Severity.values else "",
        category=params.get("category", "")[:64],
        channel=params.get("channel", "") if params.get("channel") in Channel.values else "",
        overdue=overdue,
        date_from=_date(params.get("from", "").strip()),
        date_to=_date(params.get("to", "").strip()),
        q=params.get("q", "").strip()[:100],
        # a deadline filter reads most urgent first unless asked otherwise (from the deadline index)
        sort=params.get("sort", "") if params.get("sort") in selectors.SORTS else "due" if deadline else "-id",
        deadline=deadline,
        # the reports' drill-downs (huiyin.reports): kept as hidden fields of the filter form
        within=visible_unit(user, params.get("within", "")) if params.get("within") else None,
        category_under=params.get("category_under", "")[:64],
        customer_class=params.get("customer_class", "") if params.get("customer_class") in CustomerClass.values else "",
        region=params.get("region", "").strip()[:100],
        outcome=[o for o in params.getlist("outcome")[:5] if outcomes.is_outcome(o)],
    )


def drill_filters(f: selectors.ListFilters) -> list[tuple[str, str, str]]:
    """The filters a report's drill-down added (name, value, label), shown above the form."""
    out: list[tuple[str, str, str]] = []
    if f.within is not None:
        out.append(("within", f.within.code, _("Cases of %(unit)s") % {"unit": f.within.name}))
    if f.category_under:
        out.append(("category_under", f.category_under, _("Category %(code)s and below") % {"code": f.category_under}))
    if f.customer_class:
        out.append(("customer_class", f.customer_class, _("Customer class %(c)s") % {"c": f.customer_class}))
    if f.region:
        out.append(("region", f.region, _("Region %(r)s") % {"r": f.region}))
    for name in f.outcome:
        out.append(("outcome", name, str(outcomes.outcome_label(name))))
    return out


def filter_query(params: QueryDict) -> str:
    """The list's query string without the cursor: what a saved filter and the export keep."""
    pairs = [(k, v) for k in FILTER_KEYS for v in params.getlist(k) if v]
    return urlencode(pairs)


@require_GET
@staff_required
def case_list(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    f = parse_filters(request, request.GET)
    now = timezone.now()
    qs = selectors.apply_filters(user, f, now=now)
    rows, next_cursor = selectors.page(qs, sort=f.sort, cursor=request.GET.get("cursor", ""), limit=PAGE_SIZE)
    selectors.attach_next_deadline(rows, now)
    query = filter_query(request.GET)
    context: dict[str, Any] = {
        "f": f,
        "rows": rows,
        "query": query,
        "next_url": f"?{query}&cursor={next_cursor}" if next_cursor else "",
        "first_url": f"?{query}" if request.GET.get("cursor") else "",
        "export_url": reverse("web:case_export") + (f"?{query}" if query else ""),
        "states": State.choices, "kinds": Kind.choices, "severities": Severity.choices,
        "channels": Channel.choices, "categories": forms.category_choices(),
        "units": forms.unit_choices(org_units(user)),
        "saved": list(SavedFilter.objects.filter(user=user)),
        "sorts": [("-id", _("Newest first")), ("id", _("Oldest first")), ("due", _("Most urgent first"))],
        "deadlines": [("overdue", _("Overdue")), ("at_risk", _("At risk")), ("due_today", _("Due today"))],
        "now": now,
        "drill": drill_filters(f),
        "unusable_dates": unusable_dates(request.GET),
    }
    if is_htmx(request) and request.headers.get("HX-Target") == "case-results":
        return render(request, "web/cases.html#results", context)
    return render(request, "web/cases.html", context)


@require_GET
@staff_required
def case_export(request: HttpRequest) -> HttpResponse:
    """The list as an Excel file: with a reason (`reason=…`; without one, the page asks for it),
    logged, the requester in the file; where the policy wants a leader's approval, a request
    (202, `{"export_request": ID}`) and, once approved, the file at `&export_request=ID` — once,
    within a day (privacy.exports)."""
    user = user_of(request)
    req = None
    if request.GET.get("export_request"):
        req, why = exports.redeemable(user, request.GET["export_request"])
        if req is None:
            status = 404 if why == "missing" else 409
            return render(request, "privacy/export_unavailable.html", {"why": why}, status=status)
        params = QueryDict(req.query)
        reason = req.reason
    else:
        params = request.GET
        reason = request.GET.get("reason", "").strip()
    query = filter_query(params)
    problem = ""
    if unusable_dates(params):
        problem = _("A received date of the filter is not a date: correct it in the list first.")
    elif len(reason) > exports.REASON_MAX:
        problem = _("The reason is too long: at most %(max)d characters.") % {"max": exports.REASON_MAX}
    if not reason or problem:
        # Nothing is exported, asked for or logged until the reason and the filter can be used.
        return render(request, "privacy/export_reason.html", {
            "query": query, "pairs": [(k, v) for k in FILTER_KEYS for v in params.getlist(k) if v],
            "approval": exports.approval_needed(user), "problem": problem,
            "reason": reason[:exports.REASON_MAX], "reason_max": exports.REASON_MAX,
        }, status=422 if problem else 200)
    if req is None and exports.approval_needed(user):
        made = exports.export_request_create(user, query=query, reason=reason)
        if "text/html" in request.headers.get("Accept", ""):
            return render(request, "privacy/export_waiting.html", {"export_request": made}, status=202)
        return JsonResponse({"export_request": made.pk}, status=202)
    from .. import export  # openpyxl: loaded by the first export, not by every process that loads the URLs

    f = parse_filters(request, params)
    info = export.ExportInfo(requester=user, reason=reason, query=query, request_id=req.pk if req else None,
                             approved_by=req.decided_by.username if req and req.decided_by else "")
    content, count, truncated = export.cases_xlsx(user, f, info)
    if req is not None and not exports.redeem(req, rows=count):
        return render(request, "privacy/export_unavailable.html", {"why": "used"}, status=409)
    exports.exported(user, query=query, reason=reason, rows=count, truncated=truncated, request=req)
    response = HttpResponse(
        content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="cases-{stamp}.xlsx"'
    response["X-Export-Rows"] = str(count)
    response["Cache-Control"] = "no-store"
    if truncated:
        response["X-Export-Truncated"] = "1"
    return response


@require_POST
@staff_required
def filter_save(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("name", "").strip()
    query = request.POST.get("query", "")[:1000]
    if not name:
        messages.warning(request, _("Give the filter a name."))
    elif len(name) > FILTER_NAME_MAX:
        messages.error(request, _("The filter's name is too long: at most %(max)d characters. It was not saved.")
                       % {"max": FILTER_NAME_MAX})
    else:
        try:
            SavedFilter.objects.update_or_create(user=user_of(request), name=name, defaults={"query": query})
        except IntegrityError:
            messages.error(request, _("The filter could not be saved."))
        else:
            messages.success(request, _("Filter “%(name)s” saved.") % {"name": name})
    return redirect(reverse("web:cases") + (f"?{query}" if query else ""))


@require_POST
@staff_required
def filter_delete(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedFilter, pk=pk, user=user_of(request))
    saved.delete()
    messages.success(request, _("Filter “%(name)s” deleted.") % {"name": saved.name})
    return redirect("web:cases")
