"""The reports the policy schedules (`reports[].period`): on the first day after a whole month,
quarter, week or year, the report of that period for each organisation is generated, kept as
delivered (`ReportRun`: the workbook's bytes and their SHA-256) and announced to the roles the
entry names (by default the leader and the supervisor), with its due date (`due_day`, e.g. the
10th: 每月10日前上报). A bulletin entry makes a draft bulletin for the supervisors to publish.
Once per entry, organisation and period: a second worker finds the row there.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from huiyin.notify.services import enqueue
from huiyin.org.access import users_with_roles_over
from huiyin.org.models import Unit, User
from huiyin.policies.config import ReportSpec
from huiyin.policies.services import active_policy, config_for

from . import analysis, bulletins
from .indicators import Scope
from .models import Bulletin, ReportRun
from .periods import Period, last_complete, shift_month
from .readers import organisation_reader

SCHEDULED = ("week", "month", "quarter", "year")


def due_date(spec: ReportSpec, period: Period) -> date | None:
    """The day the report is due: `due_day` of the month after the period (每月10日前上报)."""
    if not spec.due_day:
        return None
    first = shift_month(period.end.replace(day=1), 1)
    last_day = (shift_month(first, 1) - first).days
    return first.replace(day=min(spec.due_day, last_day))


def generate(spec: ReportSpec, unit: Unit, period: Period, *, by: User | None = None,
             reader: User | None = None) -> ReportRun:
    """Generate and keep the report (idempotent per entry, unit and period: the kept one is
    returned when it exists)."""
    found = ReportRun.objects.filter(spec=spec.code, unit=unit, period_start=period.start,
                                     period_end=period.end).first()
    if found is not None:
        return found
    from . import excel  # openpyxl is loaded when a workbook is made, not by every process that loads the apps

    report = analysis.build(Scope(reader or organisation_reader(unit), unit), period, spec)
    content = excel.render(report)
    try:
        with transaction.atomic():
            run = ReportRun.objects.create(
                spec=spec.code, name=report.title[:200], layout=report.layout, unit=unit, period_start=period.start,
                period_end=period.end, due_date=due_date(spec, period), content=content,
                sha256=hashlib.sha256(content).hexdigest(), generated_at=timezone.now(), generated_by=by,
            )
            _announce(spec, unit, run.name, f"/reports/runs/{run.pk}/", due=run.due_date, dedupe=f"report.ready:{run.pk}")
    except IntegrityError:
        return ReportRun.objects.get(spec=spec.code, unit=unit, period_start=period.start, period_end=period.end)
    return run


def _announce(spec: ReportSpec, unit: Unit, subject: str, url: str, *, due: date | None, dedupe: str) -> None:
    ids = users_with_roles_over(spec.roles, [unit])
    if ids:
        enqueue("report.ready", case_number="", recipients=ids, dedupe=dedupe,
                context={"subject": subject, "unit": unit.name, "deadline": f"{due:%Y-%m-%d}" if due else "",
                         "note": spec.basis[:200], "url": url})


def step(now: datetime | None = None) -> int:
    """Generate one report (or bulletin draft) that is due and missing; 1 if one was made."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    specs = [s for s in config_for(active_policy().pk).report_specs if s.periods]
    for root in Unit.objects.filter(parent__isnull=True, active=True).order_by("path"):
        for spec in specs:
            for kind in spec.periods:
                if kind not in SCHEDULED:
                    continue
                period = last_complete(kind, today)
                if spec.layout == "bulletin":
                    if Bulletin.objects.filter(spec=spec.code, unit=root, period_start=period.start,
                                               period_end=period.end).exists():
                        continue
                    try:
                        with transaction.atomic():
                            b = bulletins.draft(by=None, reader=organisation_reader(root), unit=root, period=period,
                                                spec=spec)
                    except IntegrityError:
                        continue  # another worker drafted it
                    _announce(spec, root, f"{b.title}(草稿,待发布)", f"/reports/bulletins/{b.pk}/", due=None,
                              dedupe=f"bulletin.draft:{b.pk}")
                    return 1
                if ReportRun.objects.filter(spec=spec.code, unit=root, period_start=period.start,
                                            period_end=period.end).exists():
                    continue
                generate(spec, root, period)
                return 1
    return 0


def runs_for(user: User) -> Any:
    from huiyin.org.access import visible_unit_ids

    return ReportRun.objects.filter(unit_id__in=visible_unit_ids(user)).select_related("unit").order_by(
        "-period_end", "-id").defer("content")
