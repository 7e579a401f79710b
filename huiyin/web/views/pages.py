"""The workbench (我的待办), the leaders' approvals inbox, the supervisors' board, the dashboard."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from huiyin.cases import selectors
from huiyin.org.access import visible_unit, visible_units

from .. import forms, labels
from .common import is_htmx, staff_required, user_of


@require_GET
@staff_required
def workbench(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    data = selectors.workbench(user, tab=request.GET.get("tab", "waiting"), sort=request.GET.get("sort", "due"))
    tabs = [(key, labels_tab(key)) for key in selectors.WORKBENCH_TABS]
    context = {**data, "tabs": tabs, "cap": selectors.COUNT_CAP, "keep": urlencode({"tab": data["tab"]})}
    if is_htmx(request) and request.headers.get("HX-Target") == "workbench-rows":
        return render(request, "web/workbench.html#rows", context)
    return render(request, "web/workbench.html", context)


def queue_sort(request: HttpRequest) -> str:
    sort = request.GET.get("sort", "due")
    return sort if sort in selectors.QUEUE_SORTS else "due"


def labels_tab(key: str) -> Any:
    return {
        "waiting": _("Waiting for me"),
        "due_today": _("Due today"),
        "at_risk": _("At risk"),
        "overdue": _("Overdue"),
        "registered_by_me": _("Registered by me, open"),
    }[key]


@require_GET
@staff_required
def approvals(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    sort = queue_sort(request)
    return render(request, "web/approvals.html", {"sections": selectors.approvals(user, sort=sort), "sort": sort,
                                                  "now": timezone.now()})


@require_GET
@staff_required
def board(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    unit = visible_unit(user, request.GET.get("unit", ""))
    data = selectors.board(user, unit=unit, sort=queue_sort(request))
    return render(request, "web/board.html", {
        **data, "unit": unit, "keep": urlencode({"unit": unit.code}) if unit else "",
        "unit_choices": forms.unit_choices(visible_units(user)),
    })


@require_GET
@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    unit = visible_unit(user, request.GET.get("unit", ""))
    try:
        days = int(request.GET.get("days", "30"))
    except ValueError:
        days = 30
    days = days if days in (7, 30, 90) else 30
    data = selectors.dashboard(user, unit=unit, days=days)
    chart = {
        "open": {
            "units": data["open_by_state_unit"]["units"],
            "series": [{"name": str(labels.label("state", s["state"])), "data": s["data"]}
                       for s in data["open_by_state_unit"]["series"]],
        },
        "intake": data["intake"],
        "timeliness": [
            {"name": str(labels.TIMERS.get(code, code)), "met": v.get("met", 0), "breached": v.get("breached", 0)}
            for code, v in sorted(data["timeliness"].items(), key=lambda kv: list(labels.TIMERS).index(kv[0])
                                  if kv[0] in labels.TIMERS else 99)
        ],
        "satisfaction": [{"name": str(labels.label("satisfaction", k)), "value": n}
                         for k, n in data["satisfaction"].items()],
        "labels": {"met": _("On time"), "breached": _("Late"), "cases": _("Cases"), "empty": _("No data")},
    }
    return render(request, "web/dashboard.html", {
        **data, "chart": chart, "unit": unit,
        "unit_choices": forms.unit_choices(visible_units(user)),
    })
