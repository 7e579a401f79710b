"""The reports over the REST API (mounted on /api/v1 by `huiyin.api.v1`).

GET /reports/indicators?unit=&from=&to=[&kind=]   the indicators of a unit and period
GET /penalties?unit=&from=&to=                      penalty entries (case, person, unit, points, rule)
GET /reports/warnings?state=                        warnings (预警) with their cases

Scoped like the cases: a unit outside the caller's subtrees is a 404, as for a case. Errors are
the API's `Error` shape (named by its component; this app does not import the API).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import ConfigDict, Field, WithJsonSchema

from huiyin.cases.errors import BadInput
from huiyin.cases.models import Kind
from huiyin.org.access import visible_unit
from huiyin.org.models import Unit, User

from . import facts, indicators, penalties, warnings
from .models import PenaltyStatus, WarningState
from .periods import BadPeriod, Period, between

router = Router(tags=["reports"])

Day = Annotated[str, WithJsonSchema({"type": "string", "format": "date", "examples": ["2026-11-01"]})]
Timestamp = Annotated[
    str, WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-12-01T08:00:00+08:00"]})
]
Rate = Annotated[float | None, WithJsonSchema({
    "anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "null"}],
    "description": "A share between 0 and 1; null when its denominator is 0."})]


class Out(Schema):
    model_config = ConfigDict(extra="forbid")


def _errors(*statuses: int) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Error"}
    return {"responses": {s: {"description": "Error", "content": {"application/json": {"schema": ref}}}
                          for s in statuses}}


def _user(request: HttpRequest) -> User:
    user: User = request.auth  # type: ignore[attr-defined]
    return user


def _unit(user: User, code: str | None) -> Unit | None:
    """The unit named, if the caller sees it; 404 otherwise (another unit's figures are not visible)."""
    if not code:
        return None
    unit = visible_unit(user, code)
    if unit is None:
        raise Http404
    return unit


def _period(start: date, end: date) -> Period:
    try:
        return between(start, end)
    except BadPeriod as exc:
        raise BadInput(str(exc), fields={"to": str(exc)}) from None


def _iso(value: Any) -> str | None:
    return timezone.localtime(value).isoformat() if value is not None else None


# --- indicators ---------------------------------------------------------------------------------


class PeriodOut(Out):
    from_: Day = Field(alias="from")
    to: Day
    label: str = Field(description="The period in Chinese, e.g. 2026年11月.")
    counted_by: str = Field(description="The date that puts a case in the period: `received_at` (受理时间).")


class Fraction(Out):
    numerator: int
    denominator: int


class HandlingDays(Out):
    cases: int = Field(description="Concluded cases with a handling time.")
    average: float | None = Field(description="Working days from receipt to the last closing, on average.")
    p90: float | None = Field(description="The 90th percentile (nearest rank) of the same.")


class PerVolume(Out):
    measure: str = Field(description="customers, households, premium, policies or orders.")
    volume: str = Field(description="The units' business volume over the period (a decimal string).")
    complaints: int
    scale: int = Field(description="Complaints are counted per this much volume (10,000 customers, 1e8 yuan …).")
    scale_label: str
    per_scale: float | None


class IndicatorValues(Out):
    received: int = Field(description="Cases received in the period.")
    by_kind: dict[str, int]
    by_channel: dict[str, int]
    by_category: dict[str, int] = Field(description="By the top of each case's category branch (content class); "
                                                    "`unclassified` for cases without one.")
    by_severity: dict[str, int]
    by_customer_class: dict[str, int] = Field(description="A–D; `none` for cases without a class.")
    timeliness: dict[str, Rate] = Field(description="Per stage timer: decided stages with no deadline breached.")
    response_rate: Rate
    resolution_rate: Rate
    satisfaction_rate: Rate
    first_contact_resolution: Rate
    callback_rate: Rate
    repeat_rate: Rate
    reopen_rate: Rate
    redispatch_rate: Rate
    invalid_rate: Rate
    second_round_rate: Rate
    third_round_rate: Rate
    escalation_rate: Rate
    handling_days: HandlingDays
    per_volume: list[PerVolume]


class Compared(Out):
    from_: Day = Field(alias="from")
    to: Day
    received: int
    rates: dict[str, Rate]


class Drill(Out):
    numerator: str
    denominator: str


class IndicatorsOut(Out):
    """The indicators of the cases received in the period (docs/indicators.md defines each)."""

    period: PeriodOut
    unit: str | None = Field(description="The unit's code; null: everything the caller sees.")
    unit_name: str
    kind: str | None
    indicators: IndicatorValues
    counts: dict[str, Fraction] = Field(description="Each rate's numerator and denominator; timeliness as "
                                                    "`timeliness:<timer>`.")
    previous: Compared = Field(description="The period before (环比).")
    year_ago: Compared = Field(description="The same period a year earlier (同比).")
    cases_url: str = Field(description="GET it (with the same token) for the cases behind `received`: the case "
                                       "list with the same filters.")
    page_url: str = Field(description="The same list as a staff page.")
    drilldown: dict[str, Drill] = Field(description="For each rate, the case lists of its numerator and denominator.")
    up_to_date: bool = Field(description="False while the worker is still summarising recent changes.")
    computed_at: Timestamp


class IndicatorQuery(Schema):
    unit: str | None = Field(default=None, max_length=64, description="A unit's code (its subtree's cases).")
    date_from: date = Field(alias="from")
    date_to: date = Field(alias="to")
    kind: Kind | None = None


def _keyed(rows: list[dict[str, Any]], empty: str) -> dict[str, int]:
    return {(r["code"] or empty): r["count"] for r in rows}


def indicators_json(fig: indicators.Figures, *, up_to_date: bool) -> dict[str, Any]:
    scope, period = fig.scope, fig.period
    rates = fig.rates
    counts: dict[str, dict[str, int]] = {}
    drill: dict[str, dict[str, str]] = {}
    for r in indicators.RATES:
        counts[r.name] = {"numerator": fig.counts[r.numerator], "denominator": fig.counts[r.denominator or "received"]}
        drill[r.name] = {"numerator": fig.url(r.numerator, api=True), "denominator": fig.url(r.denominator, api=True)}
    for code, (decided, on_time) in fig.stages.items():
        counts[f"timeliness:{code}"] = {"numerator": on_time, "denominator": decided}
        drill[f"timeliness:{code}"] = {"numerator": fig.url(f"on_time:{code}", api=True),
                                       "denominator": fig.url(f"decided:{code}", api=True)}

    def compared(p: Period) -> dict[str, Any]:
        row = indicators.totals(scope, [p])[0]
        return {"from": p.start.isoformat(), "to": p.end.isoformat(), "received": row["counts"]["received"],
                "rates": row["rates"]}

    h = fig.handling
    unit_name = scope.unit.name if scope.unit else "、".join(u.name for u in indicators.report_units(scope))
    return {
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat(), "label": period.label,
                   "counted_by": "received_at"},
        "unit": scope.unit.code if scope.unit else None,
        "unit_name": unit_name,
        "kind": scope.kind or None,
        "indicators": {
            "received": fig.received,
            "by_kind": _keyed(fig.breakdowns["kind"], "none"),
            "by_channel": _keyed(fig.breakdowns["channel"], "none"),
            "by_category": _keyed(fig.breakdowns["category"], "unclassified"),
            "by_severity": _keyed(fig.breakdowns["severity"], "none"),
            "by_customer_class": _keyed(fig.breakdowns["customer_class"], "none"),
            "timeliness": fig.timeliness,
            **rates,
            "handling_days": {"cases": h.get("cases", 0), "average": h.get("average_days"), "p90": h.get("p90_days")},
            "per_volume": fig.volumes,
        },
        "counts": counts,
        "previous": compared(period.previous()),
        "year_ago": compared(period.year_ago()),
        "cases_url": fig.url(api=True),
        "page_url": fig.url(),
        "drilldown": drill,
        "up_to_date": up_to_date,
        "computed_at": _iso(timezone.now()),
    }


@router.get("/reports/indicators", summary="The indicators of a unit and period (docs/indicators.md)",
            response=IndicatorsOut, by_alias=True, openapi_extra=_errors(401, 404, 422))
def indicators_view(request: HttpRequest, q: Query[IndicatorQuery]) -> HttpResponse:
    user = _user(request)
    unit = _unit(user, q.unit)
    period = _period(q.date_from, q.date_to)
    fresh = facts.refresh()
    fig = indicators.compute(indicators.Scope(user, unit, kind=q.kind or ""), period)
    return JsonResponse(indicators_json(fig, up_to_date=fresh))


# --- penalties ----------------------------------------------------------------------------------


class PenaltyOut(Out):
    id: int
    case: str = Field(description="The case's number.")
    rule: str = Field(description="The policy's penalty rule (`penalties[].code`).")
    kind: str = Field(description="penalty (points deducted) or reward (points added).")
    points: float
    fine_min: str | None = Field(description="The fine, or the lower end of its range (yuan).")
    fine_max: str | None
    action: str
    basis: str
    unit: str = Field(description="The responsible unit's code.")
    unit_name: str
    person: str | None = Field(description="The responsible person's username, when one is known.")
    person_name: str
    at: Timestamp = Field(description="When the case was closed: the date that puts the entry in a period.")
    status: str = Field(description="active, appealed, upheld (after appeal), cancelled (after appeal).")
    manual: bool


class PenaltyPage(Out):
    items: list[PenaltyOut]
    totals: dict[str, float] = Field(description="points_deducted, points_rewarded, net over the entries in force.")


class PenaltyQuery(Schema):
    unit: str | None = Field(default=None, max_length=64)
    date_from: date | None = Field(default=None, alias="from")
    date_to: date | None = Field(default=None, alias="to")
    status: PenaltyStatus | None = None
    limit: int = Field(default=200, ge=1, le=1000)


@router.get("/penalties", summary="Penalty entries (考核) with their case, person, unit, points and rule",
            response=PenaltyPage, by_alias=True, openapi_extra=_errors(401, 404, 422))
def penalty_list(request: HttpRequest, q: Query[PenaltyQuery]) -> HttpResponse:
    user = _user(request)
    unit = _unit(user, q.unit)
    if q.date_from and q.date_to and q.date_to < q.date_from:
        raise BadInput("`to` is before `from`.", fields={"to": "before from"})
    rows = penalties.entries_for(user, unit=unit, start=q.date_from, end=q.date_to, status=q.status or "")
    items = list(rows[: q.limit])
    return JsonResponse({"items": [penalties.entry_json(e) for e in items],
                         "totals": penalties.totals(items)})


# --- warnings -----------------------------------------------------------------------------------


class WarningOut(Out):
    id: int
    kind: str = Field(description="category, unit, region (above the usual level), group, risk.")
    level: str = Field(description="yellow, orange or red.")
    key: str
    label: str
    unit: str
    observed: int
    median: float | None = Field(description="The baseline: median of the earlier windows.")
    mad: float | None = Field(description="Median absolute deviation of the earlier windows.")
    score: float | None = Field(description="(observed − median) / (1.4826 × MAD), with a floor on the scale.")
    reason: str
    window_start: Timestamp
    window_end: Timestamp
    state: str
    raised_at: Timestamp
    cases: list[str]


class WarningPage(Out):
    items: list[WarningOut]


class WarningQuery(Schema):
    state: WarningState | None = None
    limit: int = Field(default=100, ge=1, le=500)


@router.get("/reports/warnings", summary="Warnings (预警) over the caller's units, newest first",
            response=WarningPage, by_alias=True, openapi_extra=_errors(401, 422))
def warning_list(request: HttpRequest, q: Query[WarningQuery]) -> HttpResponse:
    user = _user(request)
    rows = warnings.warnings_for(user, state=q.state or "")[: q.limit]
    return JsonResponse({"items": [warnings.warning_json(w) for w in rows]})
