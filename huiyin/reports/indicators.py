"""The indicators (DESIGN §10, issue 10 item 1): one definition each, computed for any unit
subtree and period over what the caller may see.

Which cases: those received in the period (受理时间, Beijing dates) — every indicator counts the
cases of that cohort, in the caller's scope (`cases.access.cases_for`) and, when a unit is named,
the unit's cases (`ListFilters.within`: handled in its subtree, or registered there and not yet
dispatched). A figure is a count of those cases with an outcome of `cases.outcomes` (read off the
timeline and the timers); its drill-down is the case list with the same filters and that outcome,
so the two always count the same cases. docs/indicators.md has the table.

The counts are read from the per-case summaries (`reports.facts`), which follow the timeline.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast
from urllib.parse import urlencode

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from huiyin.cases import outcomes
from huiyin.cases.inputs import EARLIEST_YEAR, LATEST_YEAR
from huiyin.cases.models import Category, CoHandling, Kind
from huiyin.cases.selectors import ListFilters, apply_filters
from huiyin.org.access import grants, subtree_ids, visible_unit_ids
from huiyin.org.models import Unit, User
from huiyin.policies.services import active_policy, config_for

from . import facts as rollup
from .models import MEASURE_SCALE, BusinessVolume, CaseFact, DayCaseTotal, DayStageTotal, DayUnitTotal, StageFact
from .periods import Period, month


@dataclass(frozen=True)
class Rate:
    """A share of the cohort: `numerator` cases among `denominator` cases (None: every case of
    the cohort), each an outcome of `cases.outcomes`."""

    name: str
    numerator: str
    denominator: str | None
    label: Any
    short: str  # its Chinese name in reports, as the seeds write it


RATES: tuple[Rate, ...] = (
    Rate("response_rate", "responded", "response_due", _("Response rate"), "响应率"),
    Rate("resolution_rate", "resolved", "concluded", _("Resolution rate"), "解决率"),
    Rate("satisfaction_rate", "satisfied", "reached", _("Satisfaction rate"), "满意率"),
    Rate("first_contact_resolution", "first_time", "concluded", _("First-contact resolution"), "一次解决率"),
    Rate("callback_rate", "called_back", "handled", _("Callback rate"), "回访率"),
    Rate("repeat_rate", "repeat", None, _("Repeat rate"), "重复投诉率"),
    Rate("reopen_rate", "reopened", "ended", _("Reopen rate"), "重办率"),
    Rate("redispatch_rate", "redispatched", "dispatched", _("Redispatch rate"), "二次/三次派单率"),
    Rate("second_round_rate", "second_round", "dispatched", _("Second-round rate"), "二次派单率"),
    Rate("third_round_rate", "third_round", "dispatched", _("Third-round rate"), "三次派单率"),
    Rate("escalation_rate", "escalated", None, _("Escalation rate"), "升级率"),
    Rate("invalid_rate", "invalid", None, _("Invalid rate"), "无效投诉率"),
)
RATE = {r.name: r for r in RATES}
# The rates of the API contract (issue 10 item 11), in its order.
CONTRACT_RATES = ("response_rate", "resolution_rate", "satisfaction_rate", "first_contact_resolution",
                  "callback_rate", "repeat_rate", "reopen_rate", "redispatch_rate", "invalid_rate")
FLAGS = tuple(name for name in outcomes.OUTCOMES if name != "valid")
STAGES = ("dispatch", "acknowledge", "first_contact", "resolve", "feedback", "callback", "decision",
          "end_to_end", "appeal")
DIMENSIONS = ("kind", "channel", "category", "severity", "customer_class")


def ratio(numerator: int, denominator: int) -> float | None:
    """A rate between 0 and 1, rounded to 4 places; None when nothing was counted."""
    return round(numerator / denominator, 4) if denominator else None


@dataclass
class Scope:
    """Whose figures: the caller, the unit (None: everything the caller sees), the cases' kind
    and any further dimension of the case list (channel, category …)."""

    user: User
    unit: Unit | None = None
    kind: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    # The cohort's grouped counts already read (period and grouping → rows): the dashboard and the
    # report read each grouping once and derive every figure of it in Python (docs/indicators.md,
    # "Performance").
    _read: dict[Any, list[dict[str, Any]]] = field(default_factory=dict, compare=False, repr=False)
    # Whether the per-day totals answer this scope (`_totals`): None until asked.
    _sees_all: bool | None = field(default=None, compare=False, repr=False)
    _totals_ready: bool | None = field(default=None, compare=False, repr=False)  # asked once per scope
    _home: dict[int, list[int] | None] = field(default_factory=dict, compare=False, repr=False)
    # Every unit (id, parent id, path), read once per scope: the dashboard's ranking, heat map and
    # volumes each walk the tree.
    _units: list[tuple[int, int | None, str]] | None = field(default=None, compare=False, repr=False)

    def tree(self) -> list[tuple[int, int | None, str]]:
        if self._units is None:
            self._units = _tree()
        return self._units

    def filters(self, period: Period, *, outcome: str | None = None, **more: Any) -> ListFilters:
        f = ListFilters(date_from=period.start, date_to=period.end, within=self.unit, kind=self.kind)
        for key, value in {**self.extra, **more}.items():
            setattr(f, key, value)
        if outcome:
            f.outcome = [outcome]
        return f

    def facts(self, period: Period, **more: str) -> QuerySet[CaseFact]:
        direct = None if more or self.extra else self._direct(period)
        if direct is not None:
            return CaseFact.objects.filter(direct)
        cohort = apply_filters(self.user, self.filters(period, **more)).values("pk")
        return CaseFact.objects.filter(case_id__in=cohort)

    def _direct(self, period: Period) -> Q | None:
        """The cohort of `apply_filters(user, self.filters(period))` as a condition on the
        summaries' own columns, which follow the case (`reports.facts`): the Beijing day of
        receipt, the kind, the unit (`in_unit`) and the caller's scope (`cases_for`: registered
        or handled in their subtrees, or co-handled there) — a range of the (received_day,
        unit_id) index instead of a join with the cases (docs/indicators.md, "Performance").
        None when a further filter applies (the drill-downs): then the case list's own query."""
        if not (EARLIEST_YEAR <= period.start.year and period.end.year <= LATEST_YEAR):
            return None
        q = Q(received_day__gte=period.start, received_day__lte=period.end)
        if self.kind:
            q &= Q(kind=self.kind)
        if self.unit is not None:
            ids = subtree_ids({self.unit.path})
            q &= Q(unit_id__in=ids) | Q(unit_id__isnull=True, owner_unit_id__in=ids)
        if not self.sees_every_unit():  # else every case is in scope
            visible = visible_unit_ids(self.user)
            co = CoHandling.objects.filter(case_id=OuterRef("case_id"), unit_id__in=visible, active=True)
            q &= Q(owner_unit_id__in=visible) | Q(unit_id__in=visible) | Q(Exists(co))
        return q

    def sees_every_unit(self) -> bool:
        if self._sees_all is None:
            self._sees_all = set(Unit.objects.values_list("id", flat=True)) <= set(visible_unit_ids(self.user))
        return self._sees_all

    def _totals(self, period: Period, *, by_unit: bool) -> bool:
        """Whether the per-day totals (`reports.facts`) give this cohort: no further filter, a
        caller who sees every unit (the leader, the supervisor, the organisation's report), the
        totals kept — then the cohort is every summary of the days of the period (of the kind),
        and of the unit's subtree by the home unit (`by_unit`: the totals that have one; the
        others only when the unit is the whole organisation). Else the summaries are read."""
        if self.extra or not (EARLIEST_YEAR <= period.start.year and period.end.year <= LATEST_YEAR):
            return False
        if not by_unit and self._home_units() is not None:
            return False
        if not self.sees_every_unit():
            return False
        if self._totals_ready is None:
            self._totals_ready = rollup.totals_ready()
        return self._totals_ready

    def _home_units(self) -> list[int] | None:
        """The unit filter on the totals' home unit (None: none, the unit is everything)."""
        if self.unit is None:
            return None
        if self.unit.pk not in self._home:
            ids = subtree_ids({self.unit.path})
            self._home[self.unit.pk] = None if set(Unit.objects.values_list("id", flat=True)) <= set(ids) else ids
        return self._home[self.unit.pk]

    def handling_sums(self, period: Period) -> tuple[int, int] | None:
        """(cases, minutes) of `handling_time` from the totals, when they give this cohort."""
        if not self._totals(period, by_unit=True):
            return None
        rows = self._summed(DayUnitTotal, period, (), ("handling_cases", "handling_minutes"))
        return (rows[0]["handling_cases"], rows[0]["handling_minutes"]) if rows else (0, 0)

    def _summed(self, model: Any, period: Period, group: tuple[str, ...], columns: tuple[str, ...], *,
                days_only: bool = False) -> list[dict[str, Any]]:
        """The totals of the period, of the kind and unit, summed per `group` (no group: one row)
        over the period's whole months (span "m", one row each) and its other days (span "d");
        `days_only`: over every day. One statement, written here rather than compiled by the ORM
        (two dozen `Sum`s cost ~10 ms of Python a query, more than the database spends on these
        few hundred rows)."""
        home = self._home_units()
        if home is not None and not home:
            return []
        spans = [("d", period.start, period.end)] if days_only else _spans(period)
        where = " OR ".join(["(span = %s AND day >= %s AND day <= %s)"] * len(spans))
        params: list[Any] = [v for part in spans for v in part]
        if self.kind:
            where = f"({where}) AND kind = %s"
            params.append(self.kind)
        if home is not None:
            where = f"({where}) AND home_unit_id IN ({', '.join(['%s'] * len(home))})"
            params += home
        select = ", ".join([*group, *(f"SUM({c})" for c in columns)])
        grouping = f" GROUP BY {', '.join(group)}" if group else ""
        table = model._meta.db_table
        with connection.cursor() as cur:
            # our table and column names; every value is a parameter
            cur.execute(f"SELECT {select} FROM {table} WHERE {where}{grouping}", params)  # noqa: S608  # nosec B608
            names = (*group, *columns)
            # each grouping column as its field reads it (SQLite gives a `date` column as text)
            fields = [model._meta.get_field(name) for name in group]
            return [dict(zip(names, (*(f.to_python(v) for f, v in zip(fields, row, strict=False)),
                                     *(int(v or 0) for v in row[len(group):])), strict=True))
                    for row in cur.fetchall()]

    def grouped(self, period: Period, by: tuple[str, ...], flags: tuple[str, ...]) -> list[dict[str, Any]]:
        """The cohort's counts (`received` and each of `flags`) per combination of the columns
        `by`, read once per scope, period and grouping."""
        key = (period.start, period.end, by, flags)
        if key not in self._read and by in (BY_UNIT, BY_CASE) and self._totals(period, by_unit=by == BY_UNIT):
            model = DayUnitTotal if by == BY_UNIT else DayCaseTotal
            group = ("home_unit_id", "category_root_id") if by == BY_UNIT else by
            rows = self._summed(model, period, group, ("received", *flags))
            for r in rows if by == BY_UNIT else ():
                # the home unit stands for both: a row's unit is its handling unit, else its owner
                r["unit_id"] = r["owner_unit_id"] = r.pop("home_unit_id")
                r["category_root_id"] = r["category_root_id"] or None
            self._read[key] = rows
        if key not in self._read:
            sums = {flag: Count("pk", filter=Q(**{flag: True})) for flag in flags}
            self._read[key] = list(self.facts(period).values(*by).annotate(received=Count("pk"), **sums).order_by())
        return self._read[key]

    def stage_rows(self, period: Period) -> list[dict[str, Any]]:
        """The cohort's decided stages per handling unit and timer code: (n, late)."""
        key = (period.start, period.end, "stages")
        if key not in self._read and self._totals(period, by_unit=True):
            self._read[key] = [{"fact__unit_id": r["home_unit_id"], "fact__owner_unit_id": r["home_unit_id"],
                                "code": r["code"], "n": r["n"], "late": r["late"]}
                               for r in self._summed(DayStageTotal, period, ("home_unit_id", "code"), ("n", "late"))]
        if key not in self._read:
            self._read[key] = cast(list[dict[str, Any]], list(
                StageFact.objects.filter(fact__in=self.facts(period))
                .values("fact__unit_id", "fact__owner_unit_id", "code")
                .annotate(n=Count("pk"), late=Count("pk", filter=Q(late=True))).order_by()))
        return self._read[key]


def _spans(period: Period) -> list[tuple[str, Any, Any]]:
    """The period as the per-day totals read it: its whole months (span "m", their first days)
    and the days before and after them (span "d")."""
    first = period.start if period.start.day == 1 else month(period.start).end + timedelta(days=1)
    last = first
    while month(last).end <= period.end:
        last = month(last).end + timedelta(days=1)
    if last == first:  # no whole month
        return [("d", period.start, period.end)]
    parts = [("m", first, last - timedelta(days=1))]
    if period.start < first:
        parts.append(("d", period.start, first - timedelta(days=1)))
    if last <= period.end:
        parts.append(("d", last, period.end))
    return parts


# The two groupings every figure of a cohort comes from: by handling unit and content class (the
# totals, the units side by side, the heat map, the category breakdown), and by the case's other
# dimensions (the kind, channel, severity and customer-class breakdowns, complaints per volume).
BY_UNIT = ("unit_id", "owner_unit_id", "category_root_id")
BY_CASE = ("kind", "channel", "severity", "customer_class")
BREAKDOWN_FLAGS = ("concluded", "resolved", "reached", "satisfied")


# --- drill-down links: the case list with the same filters ---------------------------------------

URL_KEYS = {"date_from": "from", "date_to": "to", "within": "within", "kind": "kind", "channel": "channel",
            "category": "category", "category_under": "category_under", "severity": "severity",
            "customer_class": "customer_class", "region": "region"}


def query_of(f: ListFilters) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for attr, key in URL_KEYS.items():
        value = getattr(f, attr)
        if value in (None, "", []):
            continue
        if isinstance(value, Unit):
            value = value.code
        pairs.append((key, str(value)))
    pairs += [("outcome", o) for o in f.outcome]
    return pairs


def cases_url(f: ListFilters, *, api: bool = False) -> str:
    """The case list (the staff page, or the API's list) of exactly these cases."""
    return ("/api/v1/cases?" if api else "/cases/?") + urlencode(query_of(f))


# --- the figures ------------------------------------------------------------------------------


def _flag_counts(scope: Scope, period: Period) -> dict[str, int]:
    counts = dict.fromkeys(("received", *FLAGS), 0)
    for r in scope.grouped(period, BY_UNIT, FLAGS):
        for key in counts:
            counts[key] += int(r[key] or 0)
    return counts


def _stage_counts(scope: Scope, period: Period) -> dict[str, tuple[int, int]]:
    """Stage code → (decided, on time)."""
    sums: dict[str, list[int]] = {}
    for row in scope.stage_rows(period):
        entry = sums.setdefault(row["code"], [0, 0])
        entry[0] += row["n"]
        entry[1] += row["n"] - row["late"]
    return {code: (n, on_time) for code, (n, on_time) in sums.items()}


def rates_of(counts: dict[str, int]) -> dict[str, float | None]:
    return {r.name: ratio(counts[r.numerator], counts[r.denominator or "received"]) for r in RATES}


@dataclass
class Figures:
    """The indicators of one cohort."""

    scope: Scope
    period: Period
    counts: dict[str, int]
    stages: dict[str, tuple[int, int]]
    breakdowns: dict[str, list[dict[str, Any]]]
    handling: dict[str, Any]
    volumes: list[dict[str, Any]]

    @property
    def received(self) -> int:
        return self.counts["received"]

    @property
    def rates(self) -> dict[str, float | None]:
        return rates_of(self.counts)

    @property
    def timeliness(self) -> dict[str, float | None]:
        return {code: ratio(on_time, decided) for code, (decided, on_time) in self.stages.items()}

    def filters(self, outcome: str | None = None, **more: Any) -> ListFilters:
        return self.scope.filters(self.period, outcome=outcome, **more)

    def url(self, outcome: str | None = None, *, api: bool = False, **more: Any) -> str:
        return cases_url(self.filters(outcome, **more), api=api)


def compute(scope: Scope, period: Period, *, breakdowns: bool = True) -> Figures:
    counts = _flag_counts(scope, period)
    stages = _stage_counts(scope, period) if counts["received"] else {}
    return Figures(
        scope=scope, period=period, counts=counts, stages=stages,
        breakdowns=_breakdowns(scope, period) if breakdowns and counts["received"] else {d: [] for d in DIMENSIONS},
        handling=handling_time(scope.facts(period), known=scope.handling_sums(period)) if breakdowns else {},
        volumes=per_volume(scope, period) if breakdowns else [],
    )


def _breakdowns(scope: Scope, period: Period) -> dict[str, list[dict[str, Any]]]:
    """Counts of the cohort by kind, channel, category (the top of its branch: the content
    class), severity and customer class, each with the outcome counts a report shows beside it."""
    from huiyin.cases.models import Channel, CustomerClass, Severity

    labels: dict[str, dict[str, str]] = {
        "kind": {k.value: str(k.label) for k in Kind},
        "channel": {c.value: str(c.label) for c in Channel},
        "severity": {s.value: str(s.label) for s in Severity},
        "customer_class": {c.value: str(c.label) for c in CustomerClass},
    }
    categories = {c.pk: c for c in Category.objects.all()}
    out: dict[str, list[dict[str, Any]]] = {}
    for dim, column in (("kind", "kind"), ("channel", "channel"), ("category", "category_root_id"),
                        ("severity", "severity"), ("customer_class", "customer_class")):
        source = scope.grouped(period, BY_UNIT, FLAGS) if dim == "category" else scope.grouped(
            period, BY_CASE, BREAKDOWN_FLAGS)
        merged: dict[Any, dict[str, int]] = {}
        for g in source:
            m = merged.setdefault(g[column], dict.fromkeys(("n", *BREAKDOWN_FLAGS), 0))
            m["n"] += g["received"]
            for flag in BREAKDOWN_FLAGS:
                m[flag] += g[flag]
        rows: list[dict[str, Any]] = []
        for value, r in merged.items():
            if dim == "category":
                cat = categories.get(value) if value is not None else None
                code, label = (cat.code, cat.name) if cat else ("", str(_("Not classified")))
            else:
                code, label = value or "", labels[dim].get(value or "", value or "") or str(_("Not graded"))
            rows.append({"code": code, "label": label, "count": r["n"],
                         "resolution_rate": ratio(r["resolved"], r["concluded"]),
                         "satisfaction_rate": ratio(r["satisfied"], r["reached"])})
        rows.sort(key=lambda x: (-x["count"], x["code"]))
        out[dim] = rows
    return out


def drill_key(dim: str, code: str) -> dict[str, Any]:
    """The case-list filter that selects a breakdown's row."""
    if dim == "category":
        return {"category_under": code} if code else {}
    return {dim: code} if code else {}


def handling_time(qs: QuerySet[CaseFact], *, known: tuple[int, int] | None = None) -> dict[str, Any]:
    """Average and 90th percentile (nearest rank) of the working days from receipt to the last
    closing, over the concluded cases of the cohort (`known`: their number and sum of minutes,
    from the per-day totals)."""
    done = qs.filter(concluded=True, handling_minutes__isnull=False)
    # counted and ranked by the database (the partial index `fact_day_handling` holds the values)
    agg = ({"n": known[0], "total": known[1]} if known is not None
           else done.aggregate(n=Count("handling_minutes"), total=Sum("handling_minutes")))
    n = int(agg["n"] or 0)
    per_day = config_for(active_policy().pk).business_hours.minutes_per_day or 450
    if not n:
        return {"cases": 0, "average_days": None, "p90_days": None}
    p90 = int(done.order_by("handling_minutes").values_list("handling_minutes", flat=True)[max(0, math.ceil(0.9 * n) - 1)] or 0)
    return {"cases": n, "average_days": round(int(agg["total"]) / n / per_day, 2),
            "p90_days": round(p90 / per_day, 2)}


# --- complaints per business volume ----------------------------------------------------------

FLOWS = ("premium", "policies", "orders")  # summed over the months; the others are averaged


def report_units(scope: Scope) -> list[Unit]:
    """The unit the figures are for, or the tops of the caller's own subtrees."""
    if scope.unit is not None:
        return [scope.unit]
    paths = sorted({g.path for g in grants(scope.user)})
    tops = [p for p in paths if not any(p != q and p.startswith(q) for q in paths)]
    return list(Unit.objects.filter(path__in=tops).order_by("path"))


def _tree() -> list[tuple[int, int | None, str]]:
    """Every unit: (id, parent id, path) — read once where a report walks several subtrees."""
    return list(Unit.objects.values_list("id", "parent_id", "path"))


def volume_of(unit: Unit, measure: str, months: list[Any], *,
              tree: list[tuple[int, int | None, str]] | None = None,
              rows: list[tuple[int, str, Any, Decimal]] | None = None) -> Decimal | None:
    """The unit's volume over these months: its own figure where entered, else its children's
    added up (so entering a city and its counties does not count twice). `tree` and `rows` (the
    volumes of every measure of these months) when already read."""
    tree = tree if tree is not None else _tree()
    ids = {pk for pk, _parent, path in tree if path.startswith(unit.path)}
    if rows is None:
        rows = list(BusinessVolume.objects.filter(unit_id__in=ids, measure=measure, month__in=months)
                    .values_list("unit_id", "measure", "month", "value"))
    by_unit: dict[int, dict[Any, Decimal]] = {}
    for unit_id, what, m, amount in rows:
        if unit_id in ids and what == measure:
            by_unit.setdefault(unit_id, {})[m] = amount
    if not by_unit:
        return None
    children: dict[int | None, list[int]] = {}
    for pk, parent, _path in tree:
        if pk in ids:
            children.setdefault(parent, []).append(pk)

    def value(uid: int, m: Any) -> Decimal | None:
        own = by_unit.get(uid, {}).get(m)
        if own is not None:
            return own
        parts = [v for c in children.get(uid, []) if (v := value(c, m)) is not None]
        return sum(parts, Decimal(0)) if parts else None

    per_month = [v for m in months if (v := value(unit.pk, m)) is not None]
    if not per_month:
        return None
    total = sum(per_month, Decimal(0))
    return total if measure in FLOWS else total / len(per_month)


def per_volume(scope: Scope, period: Period) -> list[dict[str, Any]]:
    """Complaints (kind complaint) of the cohort per the units' business volume: per 10,000
    customers, per 100 million yuan of premium, per 100 million policies (亿张) …"""
    months = []
    d = period.start.replace(day=1)
    while d <= period.end:
        months.append(d)
        d = month(d).end + timedelta(days=1)
    units = report_units(scope)
    complaints = sum(r["received"] for r in scope.grouped(period, BY_CASE, BREAKDOWN_FLAGS) if r["kind"] == Kind.COMPLAINT)
    out = []
    tree = scope.tree()
    rows = list(BusinessVolume.objects.filter(month__in=months).values_list("unit_id", "measure", "month", "value"))
    for measure, (scale, scale_label) in MEASURE_SCALE.items():
        total: Decimal | None = None
        for unit in units:
            v = volume_of(unit, measure, months, tree=tree, rows=rows)
            if v is not None:
                total = (total or Decimal(0)) + v
        if total is None:
            continue
        per = round(complaints / float(total) * scale, 4) if total else None
        out.append({"measure": measure, "volume": str(total.quantize(Decimal("0.01"))), "complaints": complaints,
                    "scale": scale, "scale_label": scale_label, "per_scale": per})
    return out


# --- units side by side: ranking, heat map ---------------------------------------------------


def child_units(scope: Scope) -> list[Unit]:
    """The units a report compares: the children of the report's unit (or of the caller's top
    units), active ones, in tree order."""
    parents = report_units(scope)
    kids = list(Unit.objects.filter(parent__in=parents, active=True).order_by("path"))
    return kids or parents


def _home_of(scope: Scope, units: list[Unit]) -> dict[int, Unit]:
    """Unit id → the compared unit whose subtree holds it."""
    out: dict[int, Unit] = {}
    tree = scope.tree()
    for u in units:
        for uid, _parent, path in tree:
            if path.startswith(u.path):
                out.setdefault(uid, u)
    return out


def by_unit(scope: Scope, period: Period, units: list[Unit] | None = None) -> list[dict[str, Any]]:
    """The cohort's counts per compared unit (a case counts in the unit handling it, or, not yet
    dispatched, in the unit that registered it — `ListFilters.within`)."""
    units = units if units is not None else child_units(scope)
    home = _home_of(scope, units)
    per: dict[int, dict[str, int]] = {u.pk: dict.fromkeys(("received", *FLAGS), 0) for u in units}
    stage: dict[int, dict[str, list[int]]] = {u.pk: {} for u in units}
    for r in scope.grouped(period, BY_UNIT, FLAGS):
        u = home.get(r["unit_id"] if r["unit_id"] is not None else r["owner_unit_id"])
        if u is None:
            continue
        for key in ("received", *FLAGS):
            per[u.pk][key] += r[key]
    for sr in scope.stage_rows(period):
        uid = sr["fact__unit_id"] if sr["fact__unit_id"] is not None else sr["fact__owner_unit_id"]
        u = home.get(uid)
        if u is None:
            continue
        entry = stage[u.pk].setdefault(sr["code"], [0, 0])
        entry[0] += sr["n"]
        entry[1] += sr["n"] - sr["late"]
    rows = []
    for u in units:
        counts = per[u.pk]
        rows.append({
            "unit": u, "code": u.code, "name": u.name, "counts": counts, "rates": rates_of(counts),
            "stages": {c: tuple(v) for c, v in stage[u.pk].items()},
            "timeliness": {c: ratio(v[1], v[0]) for c, v in stage[u.pk].items()},
        })
    return rows


def heat_map(scope: Scope, period: Period, units: list[Unit] | None = None) -> dict[str, Any]:
    """Cases per compared unit × content class (the top of the category's branch)."""
    units = units if units is not None else child_units(scope)
    home = _home_of(scope, units)
    cells: dict[tuple[int, int | None], int] = {}
    for r in scope.grouped(period, BY_UNIT, FLAGS):
        u = home.get(r["unit_id"] if r["unit_id"] is not None else r["owner_unit_id"])
        if u is not None:
            key = (u.pk, r["category_root_id"])
            cells[key] = cells.get(key, 0) + r["received"]
    root_ids = sorted({c for _u, c in cells}, key=lambda c: (c is None, c or 0))
    cats = {c.pk: c for c in Category.objects.filter(pk__in=[c for c in root_ids if c is not None])}
    columns = [{"code": cats[c].code if c in cats else "", "label": cats[c].name if c in cats else str(_("Not classified"))}
               for c in root_ids]
    return {
        "units": [{"code": u.code, "label": u.name} for u in units],
        "categories": columns,
        "cells": [[ui, ci, cells.get((u.pk, c), 0)] for ui, u in enumerate(units) for ci, c in enumerate(root_ids)],
    }


def trend(scope: Scope, period: Period, *, bucket: str = "day") -> list[dict[str, Any]]:
    """Cases received per day, ISO week or month of the period."""
    counts: dict[Any, int] = {}
    rows: list[tuple[Any, int]] = []
    if scope._totals(period, by_unit=True):  # a whole month counts on its first day: fine per month
        rows = [(r["day"], r["received"]) for r in
                scope._summed(DayUnitTotal, period, ("day",), ("received",), days_only=bucket != "month")]
    else:
        rows = list(scope.facts(period).values_list("received_day").annotate(n=Count("pk")).order_by())
    for day, n in rows:
        counts[day] = counts.get(day, 0) + n
    out: list[dict[str, Any]] = []
    d = period.start
    while d <= period.end:
        if bucket == "month":
            start = d.replace(day=1)
            label = f"{start:%Y-%m}"
        elif bucket == "week":
            start = d - timedelta(days=d.weekday())
            label = f"{start:%m-%d}"
        else:
            start, label = d, f"{d:%m-%d}"
        if not out or out[-1]["label"] != label:
            out.append({"label": label, "start": max(start, period.start), "count": 0})
        out[-1]["count"] += counts.get(d, 0)
        out[-1]["end"] = d
        d += timedelta(days=1)
    return out


def totals(scope: Scope, periods: Iterable[Period]) -> list[dict[str, Any]]:
    """Received and the main rates for several periods (同比, 环比, a year month by month)."""
    out = []
    for p in periods:
        counts = _flag_counts(scope, p)
        out.append({"period": p, "counts": counts, "rates": rates_of(counts)})
    return out


def with_unit(scope: Scope, unit: Unit | None) -> Scope:
    return replace(scope, unit=unit)
