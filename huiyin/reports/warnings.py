"""Warnings (预警, DESIGN §10): graded yellow / orange / red from the policy's `warnings`.

- **Above the usual level**: for each category, compared unit and region, the cases received in
  the last `window_days` days (up to yesterday) against the same count in each of the
  `baseline_weeks` windows before it. The usual level is the median of those counts; the spread is
  the median absolute deviation (MAD). The score is (count − median) / scale with
  scale = max(1.4826 × MAD, √median, 1) — the MAD scaled to a normal distribution's standard
  deviation, floored so that a handful of cases over a quiet baseline is not an alarm. A score at
  or above the policy's `levels` (2 / 3 / 5 by default) raises a warning of that colour, when the
  count is at least `min_cases` and above the median. Robust: one past spike does not move a median.
- **Group complaints forming**: `group.cases` or more valid cases of one category and region within
  `group.hours`, or a case of five or more people (or tagged `group` by a rule).
- **At risk of going to regulators or the media**: an open case with a risk flag (媒体/监管: red;
  诉讼/极端: orange), a keyword of `risk.keywords` in its text (orange), or urged `risk.urges`
  times or more (yellow; twice that: orange).

Each warning lists its cases, notifies the roles the policy names over its unit, and is
acknowledged and closed by a person. Evaluated by the worker: surges once a day, groups and risks
every ten minutes; a warning is raised once per subject and window (unique `dedupe`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from huiyin.cases.errors import BadInput, Forbidden, InvalidTransition
from huiyin.cases.models import FINAL_STATES, Case, Category, State
from huiyin.notify.services import enqueue
from huiyin.org.access import roles_over, subtree_ids, users_with_roles_over, visible_unit_ids
from huiyin.org.models import Role, Unit, User
from huiyin.policies.services import active_policy, config_for

from .follow import move, position
from .models import CaseFact, EarlyWarning, WarningKind, WarningLevel, WarningState

ORDER = (WarningLevel.YELLOW, WarningLevel.ORANGE, WarningLevel.RED)
CASES_KEPT = 200  # cases listed on one warning
DECIDERS = (Role.LEADER, Role.SUPERVISOR, Role.DISPATCHER)


def robust_score(count: int, baseline: list[int]) -> tuple[float, float, float]:
    """(median, MAD, score) of `count` against the earlier windows' counts."""
    if not baseline:
        return 0.0, 0.0, 0.0
    median = float(statistics.median(baseline))
    mad = float(statistics.median([abs(b - median) for b in baseline]))
    scale = max(1.4826 * mad, math.sqrt(median), 1.0)
    return median, mad, round((count - median) / scale, 2)


def level_of(score: float, levels: dict[str, float]) -> str | None:
    found = None
    for level in ORDER:
        if score >= float(levels[level]):
            found = level
    return found


def roots() -> list[Unit]:
    return list(Unit.objects.filter(parent__isnull=True, active=True).order_by("path"))


# --- surges -----------------------------------------------------------------------------------


def evaluate_surges(today: Any) -> int:
    """Warnings for the window ending yesterday (`today` is the Beijing date of the evaluation)."""
    cfg = config_for(active_policy().pk).warnings
    w, weeks = int(cfg["window_days"]), int(cfg["baseline_weeks"])
    end = today  # exclusive
    first = end - timedelta(days=w * (weeks + 1))
    raised = 0
    for root in roots():
        units = list(Unit.objects.filter(parent=root, active=True).order_by("path")) or [root]
        home: dict[int, Unit] = {}
        for u in units:
            for uid in subtree_ids({u.path}):
                home.setdefault(uid, u)
        scope = CaseFact.objects.filter(received_day__gte=first, received_day__lt=end, invalid=False).filter(
            Q(owner_unit_id__in=subtree_ids({root.path})) | Q(unit_id__in=subtree_ids({root.path})))
        series: dict[tuple[str, str], list[int]] = {}
        for row in scope.values("received_day", "category_id", "region", "unit_id", "owner_unit_id").annotate(
                n=Count("pk")).order_by():
            index = (end - row["received_day"]).days - 1
            slot = index // w  # 0: the current window, 1..weeks: the baseline
            if slot > weeks:
                continue
            keys = []
            if "category" in cfg["by"] and row["category_id"] is not None:
                keys.append(("category", str(row["category_id"])))
            if "region" in cfg["by"] and row["region"]:
                keys.append(("region", row["region"]))
            home_unit = home.get(row["unit_id"] if row["unit_id"] is not None else row["owner_unit_id"])
            if "unit" in cfg["by"] and home_unit is not None and home_unit.pk != root.pk:
                keys.append(("unit", str(home_unit.pk)))
            for series_key in keys:
                series.setdefault(series_key, [0] * (weeks + 1))[slot] += row["n"]
        start_dt = timezone.make_aware(datetime.combine(end - timedelta(days=w), time.min))
        end_dt = timezone.make_aware(datetime.combine(end, time.min))
        categories = {str(c.pk): c for c in Category.objects.all()}
        units_by_id = {str(u.pk): u for u in units}
        for (kind, key), counts in sorted(series.items()):
            current, baseline = counts[0], counts[1:]
            median, mad, score = robust_score(current, baseline)
            level = level_of(score, cfg["levels"])
            if level is None or current < int(cfg["min_cases"]) or current <= median:
                continue
            cases = Case.objects.filter(received_at__gte=start_dt, received_at__lt=end_dt).exclude(
                state=State.INVALID).filter(Q(owner_unit_id__in=subtree_ids({root.path}))
                                            | Q(unit_id__in=subtree_ids({root.path})))
            if kind == "category":
                cat = categories[key]
                code, label, unit = cat.code, f"{cat.name}类投诉高于常态", root
                cases = cases.filter(category_id=cat.pk)
            elif kind == "region":
                code, label, unit = key, f"{key}地区投诉高于常态", root
                cases = cases.filter(region=key)
            else:
                u = units_by_id[key]
                code, label, unit = u.code, f"{u.name}投诉高于常态", u
                ids = subtree_ids({u.path})
                cases = cases.filter(Q(unit_id__in=ids) | Q(unit__isnull=True, owner_unit_id__in=ids))
            reason = (f"近{w}日{current}件,前{weeks}个周期中位数{median:g}件、MAD {mad:g},"
                      f"稳健Z值{score:g}")
            raised += _raise(kind, level, code, label, unit, start_dt, end_dt, list(cases.values_list("pk", flat=True)
                                                                                    [:CASES_KEPT]),
                             observed=current, median=median, mad=mad, score=score, reason=reason,
                             dedupe=f"{kind}:{code}:{end.isoformat()}", recent_days=w)
    return raised


# --- groups and risks ----------------------------------------------------------------------------


def evaluate_cases(now: datetime) -> int:
    """Group complaints forming and open cases at risk."""
    cfg = config_for(active_policy().pk).warnings
    raised = 0
    group = cfg["group"]
    since = now - timedelta(hours=int(group["hours"]))
    recent = Case.objects.filter(received_at__gte=since, received_at__lte=now).exclude(state=State.INVALID)
    for row in (recent.exclude(category__isnull=True).values("category_id", "region").annotate(n=Count("pk"))
                .filter(n__gte=int(group["cases"])).order_by()):
        cases = recent.filter(category_id=row["category_id"], region=row["region"]).select_related("owner_unit", "unit")
        first = cases.order_by("received_at").first()
        if first is None:
            continue
        n, need = row["n"], int(group["cases"])
        group_level = (WarningLevel.RED if n >= 3 * need
                       else WarningLevel.ORANGE if n >= 2 * need else WarningLevel.YELLOW)
        cat = Category.objects.get(pk=row["category_id"])
        region = row["region"] or "本单位"
        raised += _raise(WarningKind.GROUP, group_level, f"{cat.code}|{row['region']}", f"{region}{cat.name}群体投诉苗头",
                         _root_of(first.owner_unit), since, now, list(cases.values_list("pk", flat=True)[:CASES_KEPT]),
                         observed=n, reason=f"{int(group['hours'])}小时内同类同区域{n}件(≥{need})",
                         dedupe=f"group:{cat.code}|{row['region']}:{timezone.localdate(now).isoformat()}:{group_level}",
                         recent_days=1)
    open_cases = Case.objects.exclude(state__in=list(FINAL_STATES)).filter(
        received_at__gte=now - timedelta(days=90)).select_related("owner_unit", "unit")
    risk = cfg["risk"]
    flags_red = {"media", "regulator"} & set(risk["flags"])
    flags_orange = set(risk["flags"]) - flags_red
    keywords = [k for k in risk["keywords"] if k]
    for case in open_cases.order_by("id")[:5000]:
        if case.people_count >= 5 or "group" in (case.tags or []):
            raised += _raise(WarningKind.GROUP, WarningLevel.ORANGE, case.number, f"群体投诉:{case.subject[:60]}",
                             case.unit or case.owner_unit, case.received_at, now, [case.pk],
                             observed=case.people_count, reason=f"涉及{case.people_count}人",
                             dedupe=f"group:{case.number}")
        level: str | None = None
        why = ""
        flags = set(case.flags or [])
        text = f"{case.subject}\n{case.description}\n{case.demands}"
        words = [k for k in keywords if k in text]
        if flags & flags_red:
            level, why = WarningLevel.RED, "风险标记:" + "、".join(sorted(flags & flags_red))
        elif flags & flags_orange:
            level, why = WarningLevel.ORANGE, "风险标记:" + "、".join(sorted(flags & flags_orange))
        elif words:
            level, why = WarningLevel.ORANGE, "关键词:" + "、".join(words[:5])
        elif case.urge_count >= int(risk["urges"]):
            level = WarningLevel.ORANGE if case.urge_count >= 2 * int(risk["urges"]) else WarningLevel.YELLOW
            why = f"被催办{case.urge_count}次"
        if level is None:
            continue
        raised += _raise(WarningKind.RISK, level, case.number, f"{case.number} {case.subject[:60]}",
                         case.unit or case.owner_unit, case.received_at, now, [case.pk], observed=1, reason=why,
                         dedupe=f"risk:{case.number}:{level}")
    return raised


def _root_of(unit: Unit) -> Unit:
    top = unit.path.strip("/").split("/")[0]
    return Unit.objects.get(pk=int(top))


def _raise(kind: str, level: str, key: str, label: str, unit: Unit, start: datetime, end: datetime,
           case_ids: list[int], *, observed: int, reason: str, dedupe: str, median: float | None = None,
           mad: float | None = None, score: float | None = None, recent_days: int = 0) -> int:
    """Write the warning once and tell the policy's roles over its unit; 0 when it exists (or a
    warning of the same subject and at least this level is still open from the last days)."""
    if EarlyWarning.objects.filter(dedupe=dedupe[:200]).exists():
        return 0
    if recent_days:
        since = timezone.now() - timedelta(days=recent_days)
        same = EarlyWarning.objects.filter(kind=kind, key=key[:100], raised_at__gte=since).exclude(
            state=WarningState.CLOSED)
        if any(ORDER.index(WarningLevel(w.level)) >= ORDER.index(WarningLevel(level)) for w in same):
            return 0
    now = timezone.now()
    try:
        with transaction.atomic():
            w = EarlyWarning.objects.create(
                kind=kind, level=level, key=key[:100], label=label[:200], unit=unit, window_start=start,
                window_end=end, observed=observed, median=median, mad=mad, score=score, reason=reason[:300],
                raised_at=now, dedupe=dedupe[:200],
            )
            w.cases.set(case_ids)
            roles = config_for(active_policy().pk).warnings["notify"]
            ids = users_with_roles_over(roles, [unit])
            if ids:
                number = key if kind == WarningKind.RISK else ""
                enqueue("warning.raised", case_number=number, recipients=ids, urgent=level == WarningLevel.RED,
                        dedupe=f"warning.raised:{w.pk}",
                        context={"subject": f"【{w.get_level_display()}】{label}"[:200], "unit": unit.name,
                                 "note": reason[:200], "url": f"/reports/warnings/{w.pk}/"})
    except IntegrityError:
        return 0
    return 1


# --- the job ------------------------------------------------------------------------------------


CASES_EVERY = timedelta(minutes=10)


def step(now: datetime | None = None) -> int:
    """Surges once a day (for the window up to yesterday), groups and risks every ten minutes."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    done = 0
    if position("warnings_day") < today.toordinal():
        move("warnings_day", today.toordinal())
        evaluate_surges(today)
        done += 1
    stamp = int(now.timestamp())
    if position("warnings_cases") <= stamp - int(CASES_EVERY.total_seconds()):
        move("warnings_cases", stamp)
        evaluate_cases(now)
        done += 1
    return done


# --- reading and handling them -------------------------------------------------------------------


def warnings_for(user: User, *, state: str = "") -> QuerySet[EarlyWarning]:
    """The warnings about units in the user's subtrees, newest first."""
    qs = EarlyWarning.objects.filter(unit_id__in=visible_unit_ids(user)).select_related("unit").order_by("-id")
    return qs.filter(state=state) if state else qs


def warning_for(user: User, pk: int) -> EarlyWarning | None:
    return warnings_for(user).filter(pk=pk).first()


def warning_json(w: EarlyWarning) -> dict[str, Any]:
    iso = lambda v: timezone.localtime(v).isoformat()
    return {
        "id": w.pk, "kind": w.kind, "level": w.level, "key": w.key, "label": w.label, "unit": w.unit.code,
        "observed": w.observed, "median": w.median, "mad": w.mad, "score": w.score, "reason": w.reason,
        "window_start": iso(w.window_start), "window_end": iso(w.window_end), "state": w.state,
        "raised_at": iso(w.raised_at), "cases": list(w.cases.order_by("id").values_list("number", flat=True)),
    }


def may_handle(user: User, w: EarlyWarning) -> bool:
    return bool(roles_over(user, w.unit) & set(DECIDERS))


def acknowledge(w: EarlyWarning, *, by: User, note: str = "") -> EarlyWarning:
    """确认: a person takes the warning in hand."""
    if not may_handle(by, w):
        raise Forbidden("A leader, supervisor or dispatcher over the unit acknowledges warnings.")
    changed = EarlyWarning.objects.filter(pk=w.pk, state=WarningState.OPEN).update(
        state=WarningState.ACKNOWLEDGED, acknowledged_by=by, acknowledged_at=timezone.now(),
        note=(note.strip() or w.note)[:2000])
    if not changed:
        raise InvalidTransition("The warning is not open.")
    w.refresh_from_db()
    return w


def close(w: EarlyWarning, *, by: User, note: str) -> EarlyWarning:
    """关闭: what was done, in a sentence; an open or acknowledged warning may be closed."""
    if not note.strip():
        raise BadInput("Say how the warning was dealt with.", fields={"note": "required"})
    if not may_handle(by, w):
        raise Forbidden("A leader, supervisor or dispatcher over the unit closes warnings.")
    now = timezone.now()
    changed = EarlyWarning.objects.filter(pk=w.pk).exclude(state=WarningState.CLOSED).update(
        state=WarningState.CLOSED, closed_by=by, closed_at=now, note=note.strip()[:2000])
    if not changed:
        raise InvalidTransition("The warning is already closed.")
    EarlyWarning.objects.filter(pk=w.pk, acknowledged_at__isnull=True).update(acknowledged_by=by, acknowledged_at=now)
    w.refresh_from_db()
    return w


def case_ids(ws: Iterable[EarlyWarning]) -> list[int]:
    return sorted({c for w in ws for c in w.cases.values_list("pk", flat=True)})
