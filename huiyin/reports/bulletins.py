"""Bulletins (通报, e.g. tobacco 二(四) 通报全市): the units of a tree ranked by the policy's
indicators for a period, each mark with the case list behind it; drafted (by a person or by the
schedule), then published to the organisation — every user working in the bulletin's tree sees
it, as a page and as a workbook. The drill-down links stay the case list: a reader sees only the
cases of their own units behind another unit's marks.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from huiyin.cases.errors import Forbidden, InvalidTransition
from huiyin.notify.services import enqueue
from huiyin.org.access import grants, roles_over
from huiyin.org.models import Membership, Role, Unit, User
from huiyin.policies.config import ReportSpec

from . import indicators
from .indicators import Scope
from .models import Bulletin
from .periods import Period

DEFAULT_INDICATORS = ("received", "timeliness:resolve", "resolution_rate", "satisfaction_rate", "redispatch_rate")
# Indicators where less is better (the others: more is better).
LOWER_IS_BETTER = {"received", "repeat_rate", "reopen_rate", "redispatch_rate", "second_round_rate",
                   "third_round_rate", "escalation_rate", "invalid_rate"}
PUBLISHERS = (Role.SUPERVISOR, Role.LEADER)


def indicator_label(name: str) -> str:
    if name == "received":
        return "受理量"
    if name.startswith("timeliness:"):
        from .analysis import STAGE_LABELS

        return f"{STAGE_LABELS.get(name.split(':', 1)[1], name)}及时率"
    rate = indicators.RATE.get(name)
    return rate.short if rate else name


def _mark(row: dict[str, Any], name: str, fig_url: Any) -> dict[str, Any]:
    """The value of one indicator for one unit, with its counts and the case list behind it."""
    counts = row["counts"]
    if name == "received":
        return {"value": counts["received"], "numerator": counts["received"], "denominator": None,
                "url": fig_url(None)}
    if name.startswith("timeliness:"):
        code = name.split(":", 1)[1]
        decided, on_time = row["stages"].get(code, (0, 0))
        return {"value": indicators.ratio(on_time, decided), "numerator": on_time, "denominator": decided,
                "url": fig_url(f"late:{code}")}
    rate = indicators.RATE[name]
    den = counts[rate.denominator or "received"]
    return {"value": indicators.ratio(counts[rate.numerator], den), "numerator": counts[rate.numerator],
            "denominator": den, "url": fig_url(rate.numerator)}


def ranking(scope: Scope, period: Period, names: list[str]) -> list[dict[str, Any]]:
    """The compared units with a mark per indicator, each ranked (1 = best; units without a figure
    are not ranked on it), and the overall place by the sum of ranks."""
    rows = indicators.by_unit(scope, period)
    out = []
    for row in rows:
        unit = row["unit"]

        def url(outcome: str | None, unit: Unit = unit) -> str:
            return indicators.cases_url(scope.filters(period, outcome=outcome, within=unit))

        out.append({"unit": unit.code, "name": unit.name, "marks": {n: _mark(row, n, url) for n in names}})
    for name in names:
        valued = [r for r in out if r["marks"][name]["value"] is not None]
        valued.sort(key=lambda r: r["marks"][name]["value"], reverse=name not in LOWER_IS_BETTER)
        place = 0
        last: Any = object()
        for i, r in enumerate(valued, start=1):
            if r["marks"][name]["value"] != last:
                place, last = i, r["marks"][name]["value"]
            r["marks"][name]["rank"] = place
        for r in out:
            r["marks"][name].setdefault("rank", None)
    worst = len(out) + 1
    for r in out:
        r["score"] = sum(m["rank"] if m["rank"] is not None else worst for m in r["marks"].values())
    out.sort(key=lambda r: (r["score"], r["unit"]))
    for i, r in enumerate(out, start=1):
        r["place"] = i
    return out


def draft(*, by: User | None, reader: User, unit: Unit, period: Period, spec: ReportSpec | None = None) -> Bulletin:
    """A draft bulletin of `unit`'s tree for the period (`reader`'s view of the cases)."""
    if by is not None and not roles_over(by, unit) & set(PUBLISHERS):
        raise Forbidden("A supervisor or leader over the unit drafts bulletins.")
    names = [n for n in (spec.indicators if spec and spec.indicators else DEFAULT_INDICATORS)
             if n == "received" or n in indicators.RATE or n.startswith("timeliness:")]
    rows = ranking(Scope(reader, unit), period, names)
    return Bulletin.objects.create(
        unit=unit, period_start=period.start, period_end=period.end, spec=spec.code if spec else "",
        title=f"{unit.name}{period.label}{spec.name if spec else '投诉情况通报'}", indicators=names, rows=rows,
        created_by=by, created_at=timezone.now(),
    )


def publish(bulletin: Bulletin, *, by: User, remarks: str = "") -> Bulletin:
    """Publish to everyone working in the bulletin's tree (a page, a workbook, a notification)."""
    if not roles_over(by, bulletin.unit) & set(PUBLISHERS):
        raise Forbidden("A supervisor or leader over the unit publishes bulletins.")
    now = timezone.now()
    changed = Bulletin.objects.filter(pk=bulletin.pk, published_at__isnull=True).update(
        published_at=now, published_by=by, remarks=remarks.strip()[:5000] or bulletin.remarks)
    if not changed:
        raise InvalidTransition("The bulletin is already published.")
    bulletin.refresh_from_db()
    ids = set(Membership.objects.filter(unit__path__startswith=bulletin.unit.path, user__is_active=True)
              .values_list("user_id", flat=True))
    if ids:
        enqueue("bulletin.published", case_number="", recipients=ids, dedupe=f"bulletin.published:{bulletin.pk}",
                context={"subject": bulletin.title, "unit": bulletin.unit.name, "actor": str(by),
                         "url": f"/reports/bulletins/{bulletin.pk}/"})
    return bulletin


def bulletins_for(user: User) -> QuerySet[Bulletin]:
    """Published bulletins of a tree the user works in; drafts only to those who may publish them."""
    paths = {g.path for g in grants(user)}
    if not paths:
        return Bulletin.objects.none()
    tree = Q()
    for p in paths:  # the bulletin's unit is the user's unit or one above it
        ancestors = [int(x) for x in p.strip("/").split("/") if x]
        tree |= Q(unit_id__in=ancestors)
    drafts = Q()
    for g in grants(user):
        if g.role in PUBLISHERS:
            drafts |= Q(unit__path__startswith=g.path)
    visible = Q(published_at__isnull=False) & tree
    if drafts.children:
        visible |= Q(published_at__isnull=True) & drafts
    return Bulletin.objects.filter(visible).select_related("unit").order_by("-period_end", "-id")


def bulletin_for(user: User, pk: int) -> Bulletin | None:
    return bulletins_for(user).filter(pk=pk).first()


def may_publish(user: User, bulletin: Bulletin) -> bool:
    return bulletin.published_at is None and bool(roles_over(user, bulletin.unit) & set(PUBLISHERS))


def xlsx(bulletin: Bulletin) -> bytes:
    """The bulletin as a workbook: place, unit, each mark with its rank."""
    from . import excel

    headers = ["名次", "单位"]
    for name in bulletin.indicators:
        headers += [indicator_label(name), "排名"]
    headers.append("排名合计")
    rows = []
    for r in bulletin.rows:
        line: list[Any] = [r["place"], r["name"]]
        for name in bulletin.indicators:
            m = r["marks"][name]
            line += [m["value"] if m["value"] is not None else "—", m["rank"] if m["rank"] is not None else "—"]
        line.append(r["score"])
        rows.append(line)
    numeric = {0, len(headers) - 1} | {2 + 2 * i for i in range(len(bulletin.indicators))} | {
        3 + 2 * i for i in range(len(bulletin.indicators))}
    stamp = datetime.combine(bulletin.period_end, time(23, 59, 59))
    return excel.table(bulletin.title, headers, rows, sheet="通报", stamp=stamp, numeric=numeric)
