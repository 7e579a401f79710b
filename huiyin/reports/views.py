"""The reports' staff pages (/reports/): the dashboard, the printable analysis report and its
workbook, bulletins, warnings, accountability, quality inspection, corrective actions and
business volumes. Thin: read the request, call one function of this app, render."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huiyin.cases.access import case_for
from huiyin.cases.errors import CaseError
from huiyin.cases.models import Kind
from huiyin.org.access import roles_of, roles_over, visible_unit, visible_units
from huiyin.org.models import Role, Unit, User

from . import actions, analysis, bulletins, facts, indicators, penalties, quality, schedule, warnings
from .indicators import Scope
from .models import BusinessVolume, Measure, PenaltyStatus, WarningState
from .periods import BadPeriod, Period, between, month, parse, quarter

staff_required = login_required(login_url=reverse_lazy("web:login"))
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _unit(request: HttpRequest, name: str = "unit") -> Unit | None:
    code = request.GET.get(name, "") or request.POST.get(name, "")
    if not code:
        return None
    unit = visible_unit(_user(request), code)
    if unit is None:
        raise Http404  # another unit's figures are not visible
    return unit


def _period(request: HttpRequest) -> Period:
    """The period asked for (`period=2026-11`, or `from`/`to`), else this month so far."""
    params = request.GET
    try:
        if params.get("period"):
            return parse(params["period"])
        if params.get("from") and params.get("to"):
            return between(date.fromisoformat(params["from"]), date.fromisoformat(params["to"]))
    except (BadPeriod, ValueError) as exc:
        messages.warning(request, _("The period could not be read (%(why)s); this month is shown.") % {"why": exc})
    today = timezone.localdate()
    return Period(month(today).start, today, "range") if today.day > 1 else month(today)


def _kind(request: HttpRequest) -> str:
    value = request.GET.get("kind", "")
    return value if value in Kind.values else ""


def _query(unit: Unit | None, period: Period, kind: str = "") -> str:
    pairs = [("from", period.start.isoformat()), ("to", period.end.isoformat())]
    if unit is not None:
        pairs.insert(0, ("unit", unit.code))
    if kind:
        pairs.append(("kind", kind))
    return urlencode(pairs)


def _filters(request: HttpRequest, unit: Unit | None, period: Period, kind: str = "",
             visible: list[Unit] | None = None) -> dict[str, Any]:
    today = timezone.localdate()
    this = month(today)
    last = this.previous()
    quick = [(_("This month"), Period(this.start, today, "range") if today.day > 1 else this),
             (_("Last month"), last), (_("This quarter"), Period(quarter(today).start, today, "range")),
             (_("This year"), Period(date(today.year, 1, 1), today, "range"))]
    return {
        "unit": unit, "period": period, "kind": kind, "query": _query(unit, period, kind),
        "unit_choices": [(u.code, ("\u3000" * max(0, u.depth - 1)) + u.name) for u in (visible if visible is not None else visible_units(_user(request)))],
        "kinds": Kind.choices, "quick": [(label, p, _query(unit, p, kind)) for label, p in quick],
    }


def _fail(request: HttpRequest, exc: CaseError) -> None:
    messages.error(request, exc.message)


# --- the dashboard ------------------------------------------------------------------------------


@require_GET
@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    unit, period, kind = _unit(request), _period(request), _kind(request)
    fresh = facts.refresh(max_steps=3)
    scope = Scope(user, unit, kind=kind)
    fig = indicators.compute(scope, period)
    compared = indicators.child_units(scope)  # read once for the ranking and the heat map
    units = indicators.by_unit(scope, period, compared)
    heat = indicators.heat_map(scope, period, compared)
    visible = visible_units(user)
    visible_by_code = {u.code: u for u in visible}  # the heat map's links: one query, not one per row
    bucket = "day" if period.days <= 62 else "week" if period.days <= 200 else "month"
    trend = indicators.trend(scope, period, bucket=bucket)
    cards = [{"label": _("Received"), "value": fig.received, "url": fig.url(), "rate": False}]
    for name in ("response_rate", "resolution_rate", "satisfaction_rate", "first_contact_resolution",
                 "callback_rate", "redispatch_rate", "repeat_rate", "invalid_rate"):
        rate = indicators.RATE[name]
        cards.append({"label": rate.label, "short": rate.short, "value": fig.rates[name], "rate": True,
                      "url": fig.url(rate.numerator), "den_url": fig.url(rate.denominator),
                      "num": fig.counts[rate.numerator], "den": fig.counts[rate.denominator or "received"]})
    timeliness: list[dict[str, Any]] = [{"code": code, "label": analysis.STAGE_LABELS.get(code, code), "decided": d, "on_time": o,
                   "rate": indicators.ratio(o, d), "late_url": fig.url(f"late:{code}"),
                   "url": fig.url(f"decided:{code}")}
                  for code in indicators.STAGES if code in fig.stages for d, o in [fig.stages[code]]]
    breakdowns = {dim: [{**row, "url": fig.url(**indicators.drill_key(dim, row["code"]))} for row in rows]
                  for dim, rows in fig.breakdowns.items()}
    for row in units:
        row["url"] = fig.url(within=row["unit"])
    max_cell = max([c[2] for c in heat["cells"]] or [0])
    grid = []
    cell_n = {(x[0], x[1]): x[2] for x in heat["cells"]}
    for ui, u in enumerate(heat["units"]):
        cells = []
        within = visible_by_code.get(u["code"])  # `visible_unit`'s answer, from the units read once
        for ci, c in enumerate(heat["categories"]):
            n = cell_n.get((ui, ci), 0)
            more: dict[str, Any] = {"within": within}
            if c["code"]:
                more["category_under"] = c["code"]
            cells.append({"n": n, "url": fig.url(**more), "alpha": round(n / max_cell, 2) if max_cell else 0})
        grid.append({"unit": u, "cells": cells})
    chart = {
        "trend": {"labels": [p["label"] for p in trend], "counts": [p["count"] for p in trend],
                  "urls": [indicators.cases_url(scope.filters(Period(p["start"], p["end"], "range"))) for p in trend]},
        "category": [{"name": r["label"], "value": r["count"], "url": r["url"]} for r in breakdowns["category"]],
        "channel": [{"name": r["label"], "value": r["count"], "url": r["url"]} for r in breakdowns["channel"]],
        "customer_class": [{"name": r["label"], "value": r["count"], "url": r["url"]}
                           for r in breakdowns["customer_class"]],
        "units": [{"name": r["name"], "received": r["counts"]["received"], "url": r["url"],
                   "resolution": r["rates"]["resolution_rate"], "satisfaction": r["rates"]["satisfaction_rate"]}
                  for r in units],
        "timeliness": [{"name": t["label"], "on_time": t["on_time"], "late": t["decided"] - t["on_time"],
                        "url": t["late_url"]} for t in timeliness],
        "labels": {"received": _("Received"), "on_time": _("On time"), "late": _("Late"), "empty": _("No data"),
                   "resolution": _("Resolution rate"), "satisfaction": _("Satisfaction rate")},
    }
    return render(request, "reports/dashboard.html", {
        **_filters(request, unit, period, kind, visible), "section": "dashboard", "fig": fig, "cards": cards,
        "timeliness": timeliness, "breakdowns": breakdowns, "units": units, "heat": heat, "grid": grid,
        "chart": chart, "fresh": fresh, "handling": fig.handling, "volumes": fig.volumes,
        "previous": indicators.totals(scope, [period.previous(), period.year_ago()]),
    })


# --- the analysis report ------------------------------------------------------------------------


def _report(request: HttpRequest) -> analysis.Report:
    unit, period, kind = _unit(request), _period(request), _kind(request)
    spec = analysis.spec_named(request.GET.get("spec", "")) if request.GET.get("spec") else None
    facts.refresh(max_steps=3)
    return analysis.build(Scope(_user(request), unit, kind=kind), period, spec)


@require_GET
@staff_required
def analysis_page(request: HttpRequest) -> HttpResponse:
    report = _report(request)
    from huiyin.policies.services import active_policy, config_for

    specs = [s for s in config_for(active_policy().pk).report_specs if s.layout != "bulletin"]
    charts = [{"key": s.key, "kind": s.chart, "points": s.points()} for s in report.sections if s.chart]
    return render(request, "reports/analysis.html", {
        **_filters(request, report.figures.scope.unit, report.period, report.figures.scope.kind),
        "section": "analysis", "report": report, "specs": specs, "spec": request.GET.get("spec", ""),
        "report_json": {"sections": charts, "labels": {"empty": _("No data")}},
    })


@require_GET
@staff_required
def analysis_xlsx(request: HttpRequest) -> HttpResponse:
    from . import excel

    report = _report(request)
    response = HttpResponse(excel.render(report, base_url=request.build_absolute_uri("/")), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{report.filename}"'
    return response


@require_GET
@staff_required
def major_page(request: HttpRequest, number: str) -> HttpResponse:
    case = case_for(_user(request), number)
    if case is None:
        raise Http404
    from huiyin.cases.models import Severity

    return render(request, "reports/major.html", {"section": "analysis", **analysis.major_case(case),
                                                  "is_major": case.severity == Severity.MAJOR})


@require_GET
@staff_required
def runs(request: HttpRequest) -> HttpResponse:
    return render(request, "reports/runs.html", {"section": "runs",
                                                 "runs": list(schedule.runs_for(_user(request))[:200])})


@require_GET
@staff_required
def run_download(request: HttpRequest, pk: int) -> HttpResponse:
    run = schedule.runs_for(_user(request)).filter(pk=pk).defer(None).first()
    if run is None:
        raise Http404
    response = HttpResponse(bytes(run.content), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{run.spec}-{run.period_start:%Y%m%d}-{run.period_end:%Y%m%d}.xlsx"'
    response["X-Content-SHA256"] = run.sha256
    return response


# --- bulletins ----------------------------------------------------------------------------------


@require_GET
@staff_required
def bulletin_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    today = timezone.localdate()
    return render(request, "reports/bulletins.html", {
        "section": "bulletins", "bulletins": list(bulletins.bulletins_for(user)[:100]),
        "units": [u for u in visible_units(user) if roles_over(user, u) & set(bulletins.PUBLISHERS)],
        "default_period": month(today).previous().code,
    })


@require_POST
@staff_required
def bulletin_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    unit = _unit(request)
    try:
        period = parse(request.POST.get("period", ""))
    except BadPeriod as exc:
        messages.error(request, str(exc))
        return redirect("reports:bulletins")
    if unit is None:
        messages.error(request, _("Choose a unit."))
        return redirect("reports:bulletins")
    spec = next((s for s in _specs() if s.layout == "bulletin"), None)
    facts.refresh(max_steps=3)
    try:
        b = bulletins.draft(by=user, reader=user, unit=unit, period=period, spec=spec)
    except CaseError as exc:
        _fail(request, exc)
        return redirect("reports:bulletins")
    return redirect("reports:bulletin", b.pk)


def _specs() -> list[Any]:
    from huiyin.policies.services import active_policy, config_for

    return config_for(active_policy().pk).report_specs


@require_GET
@staff_required
def bulletin_page(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    b = bulletins.bulletin_for(user, pk)
    if b is None:
        raise Http404
    names = [(n, bulletins.indicator_label(n)) for n in b.indicators]
    return render(request, "reports/bulletin.html", {
        "section": "bulletins", "b": b, "names": names, "may_publish": bulletins.may_publish(user, b),
        "rows": [{**r, "cells": [r["marks"][n] for n, _label in names]} for r in b.rows],
    })


@require_POST
@staff_required
def bulletin_publish(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    b = bulletins.bulletin_for(user, pk)
    if b is None:
        raise Http404
    try:
        bulletins.publish(b, by=user, remarks=request.POST.get("remarks", ""))
        messages.success(request, _("The bulletin is published."))
    except CaseError as exc:
        _fail(request, exc)
    return redirect("reports:bulletin", pk)


@require_GET
@staff_required
def bulletin_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    b = bulletins.bulletin_for(_user(request), pk)
    if b is None:
        raise Http404
    response = HttpResponse(bulletins.xlsx(b), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="bulletin-{b.period_start:%Y%m%d}-{b.pk}.xlsx"'
    return response


# --- warnings -----------------------------------------------------------------------------------


@require_GET
@staff_required
def warning_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    state = state if state in WarningState.values else ""
    rows = list(warnings.warnings_for(_user(request), state=state)[:200])
    return render(request, "reports/warnings.html", {"section": "warnings", "rows": rows, "state": state,
                                                     "states": WarningState.choices})


@require_GET
@staff_required
def warning_page(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    w = warnings.warning_for(user, pk)
    if w is None:
        raise Http404
    from huiyin.cases.access import cases_for

    cases = list(cases_for(user).filter(pk__in=w.cases.values("pk")).select_related("unit", "owner_unit")
                 .order_by("-id")[:200])
    return render(request, "reports/warning.html", {"section": "warnings", "w": w, "cases": cases,
                                                    "may_handle": warnings.may_handle(user, w)})


@require_POST
@staff_required
def warning_act(request: HttpRequest, pk: int, act: str) -> HttpResponse:
    user = _user(request)
    w = warnings.warning_for(user, pk)
    if w is None or act not in ("acknowledge", "close"):
        raise Http404
    try:
        if act == "acknowledge":
            warnings.acknowledge(w, by=user, note=request.POST.get("note", ""))
        else:
            warnings.close(w, by=user, note=request.POST.get("note", ""))
        messages.success(request, _("Saved."))
    except CaseError as exc:
        _fail(request, exc)
    return redirect("reports:warning", pk)


# --- accountability -------------------------------------------------------------------------------


@require_GET
@staff_required
def penalty_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    unit, period = _unit(request), _period(request)
    status = request.GET.get("status", "")
    status = status if status in PenaltyStatus.values else ""
    facts.refresh(max_steps=3)
    rows = penalties.entries_for(user, unit=unit, start=period.start, end=period.end, status=status)
    number = request.GET.get("case", "").strip()
    if number:
        rows = rows.filter(case__number=number)
    entries = list(rows[:500])
    for e in entries:
        e.may_appeal = penalties.may_appeal(user, e)  # type: ignore[attr-defined]
        e.may_decide = penalties.may_decide(user, e)  # type: ignore[attr-defined]
    return render(request, "reports/penalties.html", {
        **_filters(request, unit, period), "section": "penalties", "entries": entries, "status": status,
        "statuses": PenaltyStatus.choices, "summary": penalties.summary(user, unit=unit, start=period.start,
                                                                         end=period.end),
        "export_url": reverse("reports:penalties_xlsx") + "?" + _query(unit, period),
        "may_record": Role.SUPERVISOR in roles_of(user),
    })


@require_GET
@staff_required
def penalties_xlsx(request: HttpRequest) -> HttpResponse:
    unit, period = _unit(request), _period(request)
    response = HttpResponse(penalties.summary_xlsx(_user(request), unit=unit, period=period), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="penalties-{period.start:%Y%m%d}-{period.end:%Y%m%d}.xlsx"'
    return response


@require_POST
@staff_required
def penalty_appeal(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    entry = penalties.entry_for(user, pk)
    if entry is None:
        raise Http404
    try:
        penalties.appeal(entry, by=user, reason=request.POST.get("reason", ""))
        messages.success(request, _("The appeal is sent to the supervisor."))
    except CaseError as exc:
        _fail(request, exc)
    return redirect(reverse("reports:penalties") + f"?case={entry.case.number}")


@require_POST
@staff_required
def penalty_decide(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    entry = penalties.entry_for(user, pk)
    if entry is None:
        raise Http404
    try:
        penalties.decide(entry, by=user, upheld=request.POST.get("upheld") == "1", note=request.POST.get("note", ""))
        messages.success(request, _("The appeal is decided."))
    except CaseError as exc:
        _fail(request, exc)
    return redirect(reverse("reports:penalties") + f"?case={entry.case.number}")


@require_POST
@staff_required
def penalty_record(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    case = case_for(user, request.POST.get("case", "").strip())
    if case is None:
        messages.error(request, _("No such case."))
        return redirect("reports:penalties")

    def number(name: str) -> Decimal | None:
        raw = request.POST.get(name, "").strip()
        try:
            return Decimal(raw) if raw else None
        except InvalidOperation:
            return None

    try:
        penalties.record_manual(case, by=user, rule=request.POST.get("rule", ""), points=number("points"),
                                fine=number("fine"), note=request.POST.get("note", ""))
        messages.success(request, _("Recorded."))
    except CaseError as exc:
        _fail(request, exc)
    return redirect(reverse("reports:penalties") + f"?case={case.number}")


# --- quality inspection ---------------------------------------------------------------------------


@require_GET
@staff_required
def quality_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    unit, period = _unit(request), _period(request)
    try:
        size = max(1, min(int(request.GET.get("size", "10")), 200))
    except ValueError:
        size = 10
    from huiyin.cases.access import cases_for

    from .models import QualityInspection

    done = list(QualityInspection.objects.filter(case__in=cases_for(user).values("pk"))
                .select_related("case", "inspector", "unit").order_by("-at")[:100])
    return render(request, "reports/quality.html", {
        **_filters(request, unit, period), "section": "quality", "size": size,
        "sample": quality.sample(user, unit, period, size), "done": done,
    })


@require_http_methods(["GET", "POST"])
@staff_required
def inspect_page(request: HttpRequest, number: str) -> HttpResponse:
    user = _user(request)
    case = case_for(user, number)
    if case is None:
        raise Http404
    existing = quality.inspection_of(user, case)
    errors: dict[str, str] = {}
    if request.method == "POST" and existing is None:
        try:
            quality.inspect(case, by=user, scores=request.POST.dict(), recording_ref=request.POST.get("recording_ref", ""),
                            comment=request.POST.get("comment", ""))
            messages.success(request, _("The inspection is saved."))
            return redirect("reports:inspect", number)
        except CaseError as exc:
            _fail(request, exc)
            errors = exc.fields
    return render(request, "reports/inspect.html", {
        "section": "quality", "case": case, "checklist": quality.checklist(case), "existing": existing,
        "recordings": quality.recordings(case), "may_inspect": quality.may_inspect(user, case), "errors": errors,
        "posted": request.POST if request.method == "POST" else {},
    })


# --- corrective actions ---------------------------------------------------------------------------


@require_GET
@staff_required
def action_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    rows = list(actions.actions_for(user)[:300])
    now = timezone.now()
    for a in rows:
        a.overdue = actions.is_overdue(a, now)  # type: ignore[attr-defined]
    show = request.GET.get("show", "")
    if show == "overdue":
        rows = [a for a in rows if a.overdue]  # type: ignore[attr-defined]
    elif show == "open":
        rows = [a for a in rows if a.state != "verified"]
    return render(request, "reports/actions.html", {"section": "actions", "rows": rows, "show": show,
                                                    "may_open": bool(actions.units_for_new(user))})


@require_http_methods(["GET", "POST"])
@staff_required
def action_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    units = actions.units_for_new(user)
    if not units:
        raise Http404
    errors: dict[str, str] = {}
    if request.method == "POST":
        p = request.POST
        try:
            due = int(p.get("due_days", "0") or 0)
        except ValueError:
            due = 0
        try:
            action = actions.open_action(
                by=user, title=p.get("title", ""), root_cause=p.get("root_cause", ""), plan=p.get("plan", ""),
                unit_code=p.get("unit", ""), owner_username=p.get("owner", ""), due_days=due,
                case_numbers=p.get("cases", "").replace(",", " ").replace("，", " ").split())
            messages.success(request, _("The corrective action is opened."))
            return redirect("reports:action", action.pk)
        except CaseError as exc:
            _fail(request, exc)
            errors = exc.fields
    owners = User.objects.filter(memberships__unit__in=units, is_active=True).distinct().order_by("username")
    return render(request, "reports/action_new.html", {
        "section": "actions", "units": units, "owners": owners, "errors": errors,
        "posted": request.POST if request.method == "POST" else {"cases": request.GET.get("cases", ""), "due_days": 10},
    })


@require_GET
@staff_required
def action_page(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    a = actions.action_for(user, pk)
    if a is None:
        raise Http404
    from huiyin.cases.access import cases_for

    linked = list(cases_for(user).filter(pk__in=a.cases.values("pk")).order_by("id"))
    return render(request, "reports/action.html", {
        "section": "actions", "a": a, "cases": linked, "overdue": actions.is_overdue(a),
        "may_submit": a.state == "open" and a.owner_id == user.pk,
        "may_verify": a.state == "submitted" and a.owner_id != user.pk
        and bool(roles_over(user, a.unit) & set(actions.VERIFIERS)),
    })


@require_POST
@staff_required
def action_act(request: HttpRequest, pk: int, act: str) -> HttpResponse:
    user = _user(request)
    a = actions.action_for(user, pk)
    if a is None or act not in ("submit", "verify"):
        raise Http404
    try:
        if act == "submit":
            actions.submit(a, by=user, evidence=request.POST.get("evidence", ""))
        else:
            actions.verify(a, by=user, accept=request.POST.get("accept") == "1", note=request.POST.get("note", ""))
        messages.success(request, _("Saved."))
    except CaseError as exc:
        _fail(request, exc)
    return redirect("reports:action", pk)


# --- business volumes ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@staff_required
def volumes(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    editable = [u for u in visible_units(user) if roles_over(user, u) & {Role.ADMIN, Role.LEADER, Role.SUPERVISOR}]
    if request.method == "POST":
        unit = next((u for u in editable if u.code == request.POST.get("unit")), None)
        measure = request.POST.get("measure", "")
        try:
            when = date.fromisoformat(request.POST.get("month", "") + "-01")
            value = Decimal(request.POST.get("value", "").strip())
            if value < 0 or value.as_tuple().exponent < -2 or abs(value) >= Decimal(10) ** 16:  # type: ignore[operator]
                raise InvalidOperation
        except (ValueError, InvalidOperation):
            when, value = None, None
        if unit is None or measure not in Measure.values or when is None or value is None:
            messages.error(request, _("Choose a unit you manage, a measure, a month (YYYY-MM) and a number."))
        else:
            BusinessVolume.objects.update_or_create(unit=unit, month=when, measure=measure,
                                                    defaults={"value": value, "entered_by": user})
            messages.success(request, _("Saved."))
        return redirect("reports:volumes")
    rows = list(BusinessVolume.objects.filter(unit__in=visible_units(user)).select_related("unit")
                .order_by("-month", "unit__path", "measure")[:300])
    return render(request, "reports/volumes.html", {"section": "volumes", "rows": rows, "units": editable,
                                                    "measures": Measure.choices,
                                                    "this_month": f"{timezone.localdate():%Y-%m}"})
