"""The analysis report (《客户投诉处理统计分析报告》) for a unit and period, laid out as the policy's
`reports` entry says: a list of sections, each a table with its drill-down links and a chart,
rendered as an Excel workbook (`excel.py`) and as a printable page (templates/reports/analysis.html).

Layouts (docs/reports.md): `analysis` — the sections of the entry's `by` (customer class,
category, handling, satisfaction, unit … ; all of them when it names none) around the summary,
the rates, the clocks and the trend; `statistics` — the counts only; `regulator` — the quarterly
statistics a regulator receives; `volume` — complaints per business volume; `major` — the major
cases of the period, one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from huiyin.cases import outcomes
from huiyin.cases.models import Case, Satisfaction, Severity
from huiyin.policies.config import ReportSpec
from huiyin.policies.services import active_policy, config_for

from . import indicators
from .indicators import Figures, Scope, drill_key
from .models import PenaltyKind
from .periods import Period, month, shift_month

SECTION_TITLES = {
    "summary": "一、总体情况", "rates": "二、主要指标", "kind": "受理类型", "channel": "受理渠道",
    "category": "内容分类", "severity": "严重程度", "customer_class": "客户分类", "region": "区域分布",
    "handling": "处理情况", "satisfaction": "满意情况", "timeliness": "办理及时率", "unit": "单位情况",
    "trend": "受理趋势", "volume": "业务量投诉比", "penalties": "考核情况", "major": "重大投诉",
    "regulator": "申诉(投诉)统计",
}
BY_DEFAULT = ("kind", "channel", "category", "customer_class", "handling", "satisfaction", "unit")
HANDLING_LABELS = {"on_spot": "当即处理", "within_deadline": "期限内处理", "overdue_handling": "超期处理",
                   "repeated_handling": "循环往复处理"}
SATISFACTION_ORDER = (Satisfaction.VERY_SATISFIED, Satisfaction.SATISFIED, Satisfaction.NEUTRAL,
                      Satisfaction.UNSATISFIED)
STAGE_LABELS = {"dispatch": "派单", "acknowledge": "签收", "first_contact": "首次联系", "resolve": "办理",
                "feedback": "反馈", "callback": "回访", "decision": "审查决定", "end_to_end": "全流程",
                "appeal": "复审"}


@dataclass
class Column:
    title: str
    kind: str = "int"  # int, rate, text, share (of the column's total), formula
    formula: str = ""  # for kind "formula": the Excel formula, {r} the row (excel.py); the page shows the value
    percent: bool = False  # a formula column whose value is a share (shown as %)


@dataclass
class Row:
    cells: list[Any]
    url: str = ""  # the case list behind the row (its first count)
    urls: dict[int, str] = field(default_factory=dict)  # column index → the case list of that figure
    chart: float | None = None  # the value charted, when the charted column is a formula


@dataclass
class Section:
    key: str
    title: str
    columns: list[Column]
    rows: list[Row]
    chart: str = ""  # bar, pie, line, "" (none)
    chart_column: int = 1  # the column charted
    total: bool = False  # a total row (sums) under the table
    note: str = ""

    def display(self) -> list[list[tuple[str, str]]]:
        """The table as the page shows it: (text, link) per cell — rates as percentages."""
        out = []
        for i, r in enumerate(self.rows):
            cells = []
            for j, col in enumerate(self.columns):
                value = r.cells[j] if j < len(r.cells) else None
                as_pct = col.kind in ("rate", "share") or col.percent or (self.key == "summary" and i > 0 and j > 0)
                if j == 0:
                    link = r.url if self.key == "major" else ""
                else:
                    link = r.urls.get(j) or (r.url if j == 1 else "")
                cells.append((_shown(value, as_pct), link if value not in (None, "") else ""))
            out.append(cells)
        return out

    def points(self) -> list[dict[str, Any]]:
        """The charted values (for the page's charts), each with its case list."""
        out = []
        for r in self.rows:
            value = r.chart if r.chart is not None else (
                r.cells[self.chart_column] if self.chart_column < len(r.cells) else None)
            out.append({"name": str(r.cells[0]), "value": value if isinstance(value, (int, float)) else None,
                        "url": r.url})
        return out


@dataclass
class Report:
    title: str
    unit_name: str
    period: Period
    layout: str
    spec_code: str
    sections: list[Section]
    figures: Figures
    as_of: str  # the time of the last change counted (data cut-off), not the time of generation
    basis: str = ""

    @property
    def filename(self) -> str:
        return f"{self.spec_code or 'analysis'}-{self.period.code}.xlsx"


def spec_named(code: str) -> ReportSpec | None:
    return next((s for s in config_for(active_policy().pk).report_specs if s.code == code), None)


def default_spec() -> ReportSpec:
    """The analysis report of the active policy (its first `analysis` entry), or the product's."""
    specs = config_for(active_policy().pk).report_specs
    chosen = next((s for s in specs if s.layout == "analysis" and s.periods), None)
    return chosen or ReportSpec(code="analysis", name="客户投诉处理统计分析报告", periods=["month"], by=[],
                                layout="analysis", due_day=None, roles=["leader", "supervisor"], to="",
                                indicators=[], basis="")


def build(scope: Scope, period: Period, spec: ReportSpec | None = None) -> Report:
    spec = spec or default_spec()
    fig = indicators.compute(scope, period)
    layout = spec.layout if spec.layout in ("analysis", "statistics", "regulator", "volume", "major") else "analysis"
    by = [b for b in spec.by if b in SECTION_TITLES] or list(BY_DEFAULT)
    keys: list[str]
    if layout == "statistics":
        keys = ["summary", "kind", "channel", "category", "unit", "timeliness"]
    elif layout == "regulator":
        keys = ["summary", "regulator", "channel", "timeliness", "major"]
    elif layout == "volume":
        keys = ["summary", "volume", "unit"]
    elif layout == "major":
        keys = ["major"]
    else:
        keys = ["summary", "rates", *by, "timeliness", "trend", "penalties", "volume"]
    builders = {
        "summary": _summary, "rates": _rates, "timeliness": _timeliness, "handling": _handling,
        "satisfaction": _satisfaction, "unit": _units, "trend": _trend, "volume": _volume, "penalties": _penalties,
        "major": _major, "regulator": _regulator, "region": _region,
    }
    sections: list[Section] = []
    for key in dict.fromkeys(keys):
        if key in builders:
            section = builders[key](fig)
        elif key in indicators.DIMENSIONS:
            section = _dimension(fig, key)
        else:
            continue
        if section is not None:
            sections.append(section)
    for section in sections:
        _fill_shares(section)
    for number, s in enumerate(sections, start=1):  # 一、二、三 … in the order shown
        s.title = f"{_chinese_number(number)}、{s.title.split('、')[-1]}"
    unit_name = scope.unit.name if scope.unit else "、".join(u.name for u in indicators.report_units(scope))
    return Report(
        title=f"{unit_name}{period.label}{spec.name}", unit_name=unit_name, period=period, layout=layout,
        spec_code=spec.code, sections=sections, figures=fig, as_of=_as_of(scope, period), basis=spec.basis,
    )


def _shown(value: Any, as_pct: bool) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (int, float)) and as_pct:
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return str(value)


def _fill_shares(section: Section) -> None:
    """The value of each `share` column (its row's count over the column's total), for the page."""
    for j, col in enumerate(section.columns):
        if col.kind != "share":
            continue
        total = sum(r.cells[1] or 0 for r in section.rows if isinstance(r.cells[1], (int, float)))
        for r in section.rows:
            while len(r.cells) <= j:
                r.cells.append(None)
            r.cells[j] = indicators.ratio(int(r.cells[1] or 0), int(total)) if total else None


def _chinese_number(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n <= 10:
        return "十" if n == 10 else digits[n]
    return ("" if n < 20 else digits[n // 10]) + "十" + (digits[n % 10] if n % 10 else "")


def _as_of(scope: Scope, period: Period) -> str:
    """The time of the latest timeline event of the cases counted: the data's cut-off, the same
    for the same data (a report is reproducible: nothing of the moment it was made is in it)."""
    from huiyin.cases.models import Event

    cohort = indicators.apply_filters(scope.user, scope.filters(period)).values("pk")
    last = Event.objects.filter(case_id__in=cohort).order_by("-id").values_list("at", flat=True).first()
    return timezone.localtime(last).strftime("%Y-%m-%d %H:%M") if last else ""


# --- sections -------------------------------------------------------------------------------------


def _summary(fig: Figures) -> Section:
    prev = indicators.totals(fig.scope, [fig.period.previous()])[0]
    ago = indicators.totals(fig.scope, [fig.period.year_ago()])[0]
    def diff(a: Any, b: Any) -> Any:
        return round(a - b, 4) if a is not None and b not in (None, 0) else None

    rows = [Row(["受理量", fig.received, prev["counts"]["received"], ago["counts"]["received"],
                 diff(fig.received, prev["counts"]["received"]), diff(fig.received, ago["counts"]["received"])],
                url=fig.url(), urls={1: fig.url()})]
    for rate in indicators.RATES:
        if rate.name in ("second_round_rate", "third_round_rate"):
            continue
        now, before, year = fig.rates[rate.name], prev["rates"][rate.name], ago["rates"][rate.name]
        rows.append(Row([rate.short, now, before, year, diff(now, before), diff(now, year)],
                        url=fig.url(rate.numerator), urls={1: fig.url(rate.numerator)}))
    return Section("summary", SECTION_TITLES["summary"], [
        Column("指标", "text"), Column("本期"), Column("上期(环比)"), Column("去年同期(同比)"),
        Column("环比变化", "formula", "=IF(OR(C{r}=\"\",C{r}=0),\"\",B{r}-C{r})"),
        Column("同比变化", "formula", "=IF(OR(D{r}=\"\",D{r}=0),\"\",B{r}-D{r})"),
    ], rows, note=_narrative(fig, prev, ago))


def _narrative(fig: Figures, prev: dict[str, Any], ago: dict[str, Any]) -> str:
    def change(now: int, before: int) -> str:
        if not before:
            return "无可比数据"
        pct = (now - before) / before * 100
        return f"{'增长' if pct >= 0 else '下降'}{abs(pct):.1f}%"

    r = fig.rates
    parts = [(f"本期共受理{fig.received}件,环比{change(fig.received, prev['counts']['received'])},"
              f"同比{change(fig.received, ago['counts']['received'])}。")]
    kinds = fig.breakdowns.get("kind") or []
    if kinds:
        parts.append("其中" + "、".join(f"{k['label']}{k['count']}件" for k in kinds) + "。")
    if r["resolution_rate"] is not None:
        parts.append(f"已办结{fig.counts['concluded']}件,解决率{r['resolution_rate']:.1%}")
    if r["satisfaction_rate"] is not None:
        parts.append(f",回访满意率{r['satisfaction_rate']:.1%}")
    if fig.counts["redispatched"]:
        parts.append(f";二次/三次派单{fig.counts['redispatched']}件")
    return "".join(parts) + "。"


def _rates(fig: Figures) -> Section:
    rows = []
    for rate in indicators.RATES:
        den = rate.denominator or "received"
        value = indicators.ratio(fig.counts[rate.numerator], fig.counts[den])
        rows.append(Row([rate.short, fig.counts[rate.numerator], fig.counts[den], value],
                        url=fig.url(rate.numerator), urls={1: fig.url(rate.numerator), 2: fig.url(rate.denominator)},
                        chart=value))
    return Section("rates", SECTION_TITLES["rates"], [
        Column("指标", "text"), Column("分子(件)"), Column("分母(件)"),
        Column("比率", "formula", "=IF(C{r}=0,\"\",B{r}/C{r})", percent=True),
    ], rows, chart="bar", chart_column=3)


def _dimension(fig: Figures, dim: str) -> Section:
    rows = []
    for item in fig.breakdowns.get(dim, []):
        more = drill_key(dim, item["code"])
        rows.append(Row([item["label"], item["count"], None, item["resolution_rate"], item["satisfaction_rate"]],
                        url=fig.url(**more), urls={1: fig.url(**more)}))
    if dim == "customer_class":  # A–D always shown, in order (the seeds' 客户分类)
        present = {r.cells[0] for r in rows}
        for letter in "ABCD":
            if letter not in present:
                rows.append(Row([letter, 0, None, None, None], url=fig.url(customer_class=letter)))
        rows.sort(key=lambda r: (r.cells[0] not in "ABCD" or not r.cells[0], r.cells[0]))
    return Section(dim, SECTION_TITLES[dim], [
        Column("分类", "text"), Column("件数"), Column("占比", "share"), Column("解决率", "rate"),
        Column("满意率", "rate"),
    ], rows, chart="pie" if dim in ("kind", "channel", "customer_class") else "bar", total=True)


def _region(fig: Figures) -> Section:
    qs = fig.scope.facts(fig.period)
    rows = [Row([r["region"] or "未填区域", r["n"], None], url=fig.url(region=r["region"]) if r["region"] else "")
            for r in qs.values("region").annotate(n=Count("pk")).order_by("-n", "region")]
    return Section("region", SECTION_TITLES["region"], [Column("区域", "text"), Column("件数"), Column("占比", "share")],
                   rows, chart="bar", total=True)


def _handling(fig: Figures) -> Section:
    rows = [Row([label, fig.counts[key], None], url=fig.url(key), urls={1: fig.url(key)})
            for key, label in HANDLING_LABELS.items()]
    return Section("handling", SECTION_TITLES["handling"],
                   [Column("处理方式", "text"), Column("件数"), Column("占比", "share")], rows, chart="bar", total=True,
                   note="当即处理:受理时当场答复;期限内处理:一轮办结且未超期;超期处理:一轮办结但办理超期;"
                        "循环往复处理:经二次/三次派单、重办或复审。")


def _satisfaction(fig: Figures) -> Section:
    counts = dict(fig.scope.facts(fig.period).exclude(satisfaction="").values_list("satisfaction")
                  .annotate(n=Count("pk")).order_by())
    labels = {Satisfaction.VERY_SATISFIED: "非常满意", Satisfaction.SATISFIED: "满意",
              Satisfaction.NEUTRAL: "一般", Satisfaction.UNSATISFIED: "不满意"}
    rows = [Row([labels[s], counts.get(s.value, 0), None], url=fig.url(f"satisfaction:{s.value}"),
                urls={1: fig.url(f"satisfaction:{s.value}")}) for s in SATISFACTION_ORDER]
    return Section("satisfaction", SECTION_TITLES["satisfaction"],
                   [Column("回访结果", "text"), Column("件数"), Column("占比", "share")], rows, chart="pie", total=True,
                   note="以最后一次联系上客户的回访结果计。")


def _timeliness(fig: Figures) -> Section:
    rows = []
    for code in indicators.STAGES:
        if code not in fig.stages:
            continue
        decided, on_time = fig.stages[code]
        value = indicators.ratio(on_time, decided)
        rows.append(Row([STAGE_LABELS.get(code, code), decided, on_time, decided - on_time, value],
                        url=fig.url(f"late:{code}"),
                        urls={1: fig.url(f"decided:{code}"), 2: fig.url(f"on_time:{code}"), 3: fig.url(f"late:{code}")},
                        chart=value))
    return Section("timeliness", SECTION_TITLES["timeliness"], [
        Column("环节", "text"), Column("应办(件)"), Column("按时(件)"),
        Column("超期(件)", "formula", "=B{r}-C{r}"),
        Column("及时率", "formula", "=IF(B{r}=0,\"\",C{r}/B{r})", percent=True),
    ], rows, chart="bar", chart_column=4)


def _units(fig: Figures) -> Section:
    rows = []
    for u in indicators.by_unit(fig.scope, fig.period):
        c, r = u["counts"], u["rates"]
        resolve = u["timeliness"].get("resolve")
        rows.append(Row([u["name"], c["received"], c["concluded"], r["resolution_rate"], r["satisfaction_rate"],
                         resolve, r["redispatch_rate"]],
                        url=fig.url(within=u["unit"]), urls={1: fig.url(within=u["unit"]),
                                                            2: fig.url("concluded", within=u["unit"])}))
    rows.sort(key=lambda row: (-(row.cells[1] or 0), row.cells[0]))
    return Section("unit", SECTION_TITLES["unit"], [
        Column("单位", "text"), Column("受理"), Column("办结"), Column("解决率", "rate"), Column("满意率", "rate"),
        Column("办理及时率", "rate"), Column("二次/三次派单率", "rate"),
    ], rows, chart="bar", total=True)


def _trend(fig: Figures) -> Section:
    """Received per month over the twelve months to the period's end (per day for a short period)."""
    end = fig.period.end
    if fig.period.days <= 31 and fig.period.kind not in ("month",):
        points = indicators.trend(fig.scope, fig.period)
        rows = [Row([p["label"], p["count"]]) for p in points]
    else:
        span = Period(shift_month(month(end).start, -11), end, "range")
        points = indicators.trend(fig.scope, span, bucket="month")
        rows = [Row([p["label"], p["count"]], url=indicators.cases_url(fig.scope.filters(
            Period(p["start"], p["end"], "range")))) for p in points]
    return Section("trend", SECTION_TITLES["trend"], [Column("时间", "text"), Column("受理量")], rows, chart="line")


def _volume(fig: Figures) -> Section | None:
    if not fig.volumes:
        return None
    labels = {"customers": "客户数", "households": "户数", "premium": "保费(元)", "policies": "保单(张)",
              "orders": "订单"}
    rows = [Row([labels.get(v["measure"], v["measure"]), float(v["volume"]), v["complaints"], v["scale"],
                 v["per_scale"]], url=fig.url(kind="complaint"), urls={2: fig.url(kind="complaint")})
            for v in fig.volumes]
    return Section("volume", SECTION_TITLES["volume"], [
        Column("业务量", "text"), Column("数量", "int"), Column("投诉量"), Column("折算单位"),
        Column("每单位投诉量", "formula", "=IF(B{r}=0,\"\",C{r}/B{r}*D{r})"),
    ], rows, note="保费按亿元、保单按亿张、客户按万户折算;本期投诉件数除以本期业务量。")


def _penalties(fig: Figures) -> Section | None:
    from . import penalties

    summary = penalties.summary(fig.scope.user, unit=fig.scope.unit, start=fig.period.start, end=fig.period.end)
    if not summary["units"]:
        return None
    rows = [Row([u["unit"].name, u["cases"], float(u["deducted"]), float(u["rewarded"]), float(u["fine_min"]),
                 u["quality"]]) for u in summary["units"]]
    return Section("penalties", SECTION_TITLES["penalties"], [
        Column("单位", "text"), Column("有效投诉(件)"), Column("扣分"), Column("加分"), Column("罚款(元)"),
        Column("质检得分", "rate"),
    ], rows, total=True, note=f"按结案时间计;{PenaltyKind.PENALTY.label}与{PenaltyKind.REWARD.label}见考核页面。")


def _major(fig: Figures) -> Section:
    cases = (indicators.apply_filters(fig.scope.user, fig.filters(severity=Severity.MAJOR))
             .select_related("unit", "owner_unit", "category").order_by("received_at", "id")[:500])
    rows = [Row([c.number, timezone.localtime(c.received_at).strftime("%Y-%m-%d %H:%M"), c.subject,
                 c.category.name if c.category else "", (c.unit or c.owner_unit).name, c.get_state_display(),
                 c.cause, c.conclusion, c.countermeasures], url=f"/cases/{c.number}/") for c in cases]
    return Section("major", SECTION_TITLES["major"], [
        Column("工单编号", "text"), Column("受理时间", "text"), Column("主题", "text"), Column("分类", "text"),
        Column("承办单位", "text"), Column("状态", "text"), Column("原因", "text"), Column("结论", "text"),
        Column("对策与防范措施", "text"),
    ], rows, note="本期受理的重大投诉(专项报告);每件的处理经过见工单时间线。")


def _regulator(fig: Figures) -> Section:
    """The regulator's quarterly table: per category, received, concluded, concluded in time
    (办理未超期), satisfied — with the regulator's own transfers (监管转办) counted apart."""
    qs = fig.scope.facts(fig.period)
    rows = []
    for item in fig.breakdowns.get("category", []):
        more = drill_key("category", item["code"])
        sub = qs.filter(category_root_id__in=_ids_under(item["code"])) if item["code"] else qs.filter(
            category_root_id__isnull=True)
        agg = sub.aggregate(concluded=Count("pk", filter=Q(concluded=True)),
                            in_time=Count("pk", filter=Q(concluded=True) & ~Q(overdue_handling=True)),
                            satisfied=Count("pk", filter=Q(satisfied=True)),
                            regulator=Count("pk", filter=Q(channel="regulator")))
        rows.append(Row([item["label"], item["count"], agg["concluded"], agg["in_time"], agg["satisfied"],
                         agg["regulator"], indicators.ratio(agg["concluded"], item["count"])],
                        url=fig.url(**more), urls={1: fig.url(**more), 2: fig.url("concluded", **more)}))
    return Section("regulator", SECTION_TITLES["regulator"], [
        Column("问题类别", "text"), Column("受理"), Column("办结"), Column("按时办结"), Column("满意"),
        Column("其中监管转办"), Column("办结率", "formula", "=IF(B{r}=0,\"\",C{r}/B{r})", percent=True),
    ], rows, total=True)


def _ids_under(code: str) -> list[int]:
    from huiyin.cases.selectors import category_ids_under

    return category_ids_under(code)


def major_case(case: Case) -> dict[str, Any]:
    """A major case's special report (客户重大投诉专项报告): its facts, investigation, timeline
    summary, penalties and corrective actions — for the printable page."""
    from .models import CorrectiveAction, PenaltyEntry

    events = list(case.events.select_related("actor").order_by("id"))
    return {
        "case": case, "events": events,
        "penalties": list(PenaltyEntry.objects.filter(case=case).select_related("unit").order_by("id")),
        "actions": list(CorrectiveAction.objects.filter(cases=case).order_by("id")),
        "outcomes": [name for name in ("resolved", "satisfied", "redispatched", "reopened")
                     if Case.objects.filter(pk=case.pk).filter(outcomes.outcome_q(name)).exists()],
    }
