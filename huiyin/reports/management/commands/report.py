"""`huiyin report …`: the reports from the command line.

    huiyin report analysis --unit CODE --period 2026-11 --out FILE.xlsx [--spec CODE] [--as USER]
    huiyin report penalties --period 2026-Q4 --out FILE.xlsx [--unit CODE]
    huiyin report run-due          # the scheduled work of one worker pass (summaries, penalties, …)
    huiyin report rebuild-totals   # the per-day totals again from the per-case summaries (maintenance)
    huiyin report demo-history [--days 92]   # the demo's months of history (make run; HUIYIN_DEMO_HISTORY=0 skips)

Without `--as` the report reads the unit's whole tree (the organisation's view).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from huiyin.org.models import Unit, User


class Command(BaseCommand):
    help = "Reports: the analysis workbook of a unit and period, the accountability summary, the scheduled work."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="what", required=True)
        a = sub.add_parser("analysis", help="The analysis report (Excel) of a unit and period.")
        a.add_argument("--unit", required=True, help="The unit's code (its subtree's cases).")
        a.add_argument("--period", required=True, help="2026-11, 2026-Q4, 2026-W47, 2026 or 2026-11-01..2026-11-30")
        a.add_argument("--out", required=True, help="The .xlsx file to write.")
        a.add_argument("--spec", default="", help="A report of the policy (`reports[].code`); default its analysis.")
        a.add_argument("--as", dest="as_user", default="", help="Read as this user (their scope).")
        a.add_argument("--base-url", default="", help="Make each count a link to its case list (https://…).")
        p = sub.add_parser("penalties", help="The accountability summary per unit and person (Excel).")
        p.add_argument("--period", required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--unit", default="")
        sub.add_parser("run-due", help="Run the reports' scheduled work once (what the worker does each pass).")
        sub.add_parser("rebuild-totals", help="Build the per-day totals again from the per-case summaries "
                                              "(after the summaries' first build they are kept by the worker).")
        h = sub.add_parser("demo-history", help="Load months of demo history through the real workflow (once).")
        h.add_argument("--days", type=int, default=92, help="How many days before today (default 92).")

    def handle(self, *args: Any, **opts: Any) -> None:
        what = opts["what"]
        if what == "analysis":
            self._analysis(opts)
        elif what == "penalties":
            self._penalties(opts)
        elif what == "demo-history":
            self._history(opts)
        elif what == "rebuild-totals":
            from huiyin.reports import facts

            self.stdout.write(f"per-day totals rebuilt: {facts.rebuild_totals()} rows")
        else:
            from huiyin.reports.jobs import run_reports_jobs

            total = 0
            while (n := run_reports_jobs()) > 0:
                total += n
            self.stdout.write(f"done: {total}")

    def _history(self, opts: dict[str, Any]) -> None:
        import os
        import time

        from django.conf import settings

        from huiyin.reports import demo_history
        if os.environ.get("HUIYIN_DEMO_HISTORY", "1") == "0":
            self.stdout.write("demo history: skipped (HUIYIN_DEMO_HISTORY=0)")
            return
        if settings.PRODUCTION:
            raise CommandError("The demo history is never loaded in production (HUIYIN_PRODUCTION=1).")
        if not 1 <= opts["days"] <= 400:
            raise CommandError("--days must be between 1 and 400.")
        began = time.monotonic()
        try:
            n = demo_history.load(days=opts["days"])
        except demo_history.Skipped as exc:
            self.stdout.write(f"demo history: skipped ({exc})")
            return
        self.stdout.write(f"demo history: {n} cases in {time.monotonic() - began:.1f} s")

    def _unit(self, code: str) -> Unit:
        unit = Unit.objects.filter(code=code).first()
        if unit is None:
            raise CommandError(f"No unit {code!r}.")
        return unit

    def _period(self, text: str) -> Any:
        from huiyin.reports.periods import BadPeriod, parse

        try:
            return parse(text)
        except BadPeriod as exc:
            raise CommandError(str(exc)) from None

    def _analysis(self, opts: dict[str, Any]) -> None:
        from huiyin.reports import analysis, excel, facts
        from huiyin.reports.indicators import Scope
        from huiyin.reports.readers import organisation_reader

        unit = self._unit(opts["unit"])
        period = self._period(opts["period"])
        spec = None
        if opts["spec"]:
            spec = analysis.spec_named(opts["spec"])
            if spec is None:
                raise CommandError(f"The active policy has no report {opts['spec']!r}.")
        if opts["as_user"]:
            user = User.objects.filter(username=opts["as_user"], is_active=True).first()
            if user is None:
                raise CommandError(f"No active user {opts['as_user']!r}.")
            from huiyin.org.access import visible_unit

            if visible_unit(user, unit.code) is None:
                raise CommandError(f"{user.username} does not see {unit.code}.")
        else:
            user = organisation_reader(unit)
        if not facts.refresh(max_steps=100_000):
            raise CommandError("The summaries could not be brought up to date.")
        report = analysis.build(Scope(user, unit), period, spec)
        content = excel.render(report, base_url=opts["base_url"])
        out = Path(opts["out"])
        out.write_bytes(content)
        self.stdout.write(f"{report.title}: {len(report.sections)} sections, {report.figures.received} cases → {out}")

    def _penalties(self, opts: dict[str, Any]) -> None:
        from huiyin.reports import facts, penalties
        from huiyin.reports.readers import organisation_reader

        unit = self._unit(opts["unit"]) if opts["unit"] else None
        period = self._period(opts["period"])
        facts.refresh(max_steps=100_000)
        content = penalties.summary_xlsx(organisation_reader(unit), unit=unit, period=period)
        Path(opts["out"]).write_bytes(content)
        self.stdout.write(f"→ {opts['out']}")
