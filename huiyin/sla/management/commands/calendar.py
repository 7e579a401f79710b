"""`huiyin calendar import FILE | show YEAR | missing`: the working-day calendar."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from huiyin.sla import calendar
from huiyin.sla.calendar import DayKind
from huiyin.sla.models import MissingCalendarYear
from huiyin.sla.services import CalendarFileError, calendar_import_year, parse_calendar_file

_WEEKDAYS = "一二三四五六日"


class Command(BaseCommand):
    help = "Import, show and check the working-day calendar (holidays and 调休 make-up days)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser(
            "import", help="import one year from a calendar file (see huiyin/sla/services.py)"
        )
        imp.add_argument("file", help="the calendar file, UTF-8 text or CSV; - for standard input")
        imp.add_argument("--note", default="", help="e.g. the notice's reference number")
        show = sub.add_parser("show", help="list a year's holidays and make-up working days")
        show.add_argument("year", type=int)
        sub.add_parser("missing", help="list years deadlines needed but the calendar does not know")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"handle_{options['action']}")(**options)

    def handle_import(self, *, file: str, note: str, **_: Any) -> None:
        try:
            if file == "-":
                import sys

                text = sys.stdin.read()
            else:
                text = Path(file).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        try:
            parsed = parse_calendar_file(text)
            calendar_import_year(parsed, note=note)
        except CalendarFileError as exc:
            for e in exc.errors:
                self.stderr.write(f"{file}:{e.line}: {e.code}: {e.message}")
            raise CommandError(
                f"{len(exc.errors)} error(s) in {file}; nothing was imported"
            ) from None
        holidays = sum(1 for _, kind, _ in parsed.days if kind == DayKind.HOLIDAY)
        self.stdout.write(
            f"imported {parsed.year}: {holidays} holiday(s), {len(parsed.days) - holidays} make-up day(s)"
        )
        self._print_days(parsed.year)

    def handle_show(self, *, year: int, **_: Any) -> None:
        source = calendar.year_source(year)
        status = {
            "package": "known (from the chinesecalendar package)",
            "import": "known (imported by an administrator)",
        }.get(source, "UNKNOWN: deadlines in this year are provisional (weekends only)")
        self.stdout.write(f"{year}: {status}")
        self._print_days(year)

    def _print_days(self, year: int) -> None:
        for d, kind, name in calendar.year_days(year):
            label = "holiday" if kind == DayKind.HOLIDAY else "makeup "
            self.stdout.write(f"  {d.isoformat()} 周{_WEEKDAYS[d.weekday()]} {label} {name}")

    def handle_missing(self, **_: Any) -> None:
        rows = [
            m
            for m in MissingCalendarYear.objects.order_by("year")
            if not calendar.year_known(m.year)
        ]
        if not rows:
            self.stdout.write("no missing years")
            return
        for m in rows:
            self.stdout.write(
                f"{m.year}: needed since {timezone.localtime(m.first_seen_at):%Y-%m-%d %H:%M}, last {timezone.localtime(m.last_seen_at):%Y-%m-%d %H:%M}"
                f" — import it with `huiyin calendar import FILE`"
            )
