"""Writes to the working-day calendar: importing a year, noting missing years.

The calendar file format (what an administrator types from the 国务院办公厅
holiday notice), one statement per line::

    # 2027 年节假日安排            <- a comment; blank lines are ignored too
    year 2027                     <- required, once, before or after the days
    holiday 2027-01-01 元旦        <- a statutory holiday (any day of the week)
    holiday 2027-02-06..2027-02-12 春节   <- an inclusive range
    makeup 2027-02-14 春节调休      <- a make-up working day (must be Sat or Sun)

Dates are YYYY-MM-DD (YYYY/MM/DD is accepted too); the name is optional and may
contain spaces. List every holiday day, including weekend days inside a holiday
span, so the calendar can name them.

A CSV file with the header `date,kind,name` is accepted as well (one day per
row, kind `holiday` or `makeup`; the year is the year of the dates).

Every problem is reported with its line number; nothing is stored unless the
whole file is valid.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import calendar
from .calendar import DayKind
from .models import CalendarDay, CalendarYear, MissingCalendarYear, YearSource
from .signals import calendar_year_imported

logger = logging.getLogger(__name__)

NOTE_MISSING_EVERY = 3600.0  # seconds: at most one write per missing year per process per hour
MAX_DAYS_PER_YEAR = 120  # a sanity bound: real notices list about 30 holiday and 6 make-up days

_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
_WEEKDAYS = "一二三四五六日"


class LineError(NamedTuple):
    line: int  # 1-based; 0 for a problem with the file as a whole
    code: str  # stable English code, e.g. "makeup_not_weekend"
    message: str  # for the administrator, in Chinese

    def __str__(self) -> str:
        where = f"第 {self.line} 行" if self.line else "文件"
        return f"{where}: {self.message} [{self.code}]"


class CalendarFileError(Exception):
    """The file has errors; `errors` lists every one of them."""

    def __init__(self, errors: list[LineError]):
        self.errors = sorted(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass(frozen=True)
class ParsedYear:
    year: int
    days: list[tuple[date, str, str]] = field(default_factory=list)  # (date, kind, name), sorted


def _parse_date(text: str) -> date | None:
    m = _DATE.match(text)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _parse_text(
    lines: list[str],
) -> tuple[int | None, list[tuple[int, date, str, str]], list[LineError]]:
    errors: list[LineError] = []
    year: int | None = None
    year_line = 0
    entries: list[tuple[int, date, str, str]] = []
    for no, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 2)  # also splits on the full-width space
        keyword = parts[0].lower()
        if keyword == "year":
            if len(parts) != 2 or not parts[1].isdigit() or len(parts[1]) != 4:
                errors.append(LineError(no, "bad_year", f"年份应写作 `year 2027`: {line}"))
            elif year is not None:
                errors.append(LineError(no, "year_twice", f"年份已在第 {year_line} 行声明"))
            else:
                year, year_line = int(parts[1]), no
            continue
        if keyword not in (DayKind.HOLIDAY, DayKind.MAKEUP):
            errors.append(
                LineError(
                    no,
                    "unknown_keyword",
                    f"无法识别 `{parts[0]}`: 每行应以 year、holiday 或 makeup 开头",
                )
            )
            continue
        if len(parts) < 2:
            errors.append(LineError(no, "missing_date", "缺少日期,例如 `holiday 2027-01-01 元旦`"))
            continue
        name = parts[2].strip() if len(parts) > 2 else ""
        first_text, sep, last_text = parts[1].partition("..")
        first = _parse_date(first_text)
        last = _parse_date(last_text) if sep else first
        if first is None or last is None:
            bad = first_text if first is None else last_text
            errors.append(LineError(no, "bad_date", f"日期无效: `{bad}`,应为 YYYY-MM-DD"))
            continue
        if last < first:
            errors.append(LineError(no, "bad_range", f"日期范围的结束早于开始: {parts[1]}"))
            continue
        if (last - first).days > 60:
            errors.append(LineError(no, "range_too_long", f"日期范围超过 60 天: {parts[1]}"))
            continue
        d = first
        while d <= last:
            entries.append((no, d, keyword, name))
            d += timedelta(days=1)
    if year is None and (entries or not errors):
        errors.append(LineError(0, "missing_year", "缺少年份声明,例如 `year 2027`"))
    return year, entries, errors


def _parse_csv(
    lines: list[str], header_no: int
) -> tuple[int | None, list[tuple[int, date, str, str]], list[LineError]]:
    errors: list[LineError] = []
    entries: list[tuple[int, date, str, str]] = []
    for no, raw in enumerate(lines, start=1):
        if no <= header_no or not raw.strip() or raw.lstrip().startswith("#"):
            continue
        row = next(csv.reader([raw]))
        if len(row) not in (2, 3):
            errors.append(
                LineError(no, "bad_columns", f"应有 date,kind,name 三列,实有 {len(row)} 列")
            )
            continue
        d = _parse_date(row[0].strip())
        kind = row[1].strip().lower()
        name = row[2].strip() if len(row) == 3 else ""
        if d is None:
            errors.append(
                LineError(no, "bad_date", f"日期无效: `{row[0].strip()}`,应为 YYYY-MM-DD")
            )
            continue
        if kind not in (DayKind.HOLIDAY, DayKind.MAKEUP):
            errors.append(
                LineError(no, "bad_kind", f"类型应为 holiday 或 makeup,实为 `{row[1].strip()}`")
            )
            continue
        entries.append((no, d, kind, name))
    year = entries[0][1].year if entries else None
    if year is None and not errors:
        errors.append(LineError(0, "no_days", "文件中没有任何节假日或调休日"))
    return year, entries, errors


def _check_days(year: int, entries: list[tuple[int, date, str, str]]) -> list[LineError]:
    errors: list[LineError] = []
    seen: dict[date, int] = {}
    for no, d, kind, name in entries:
        if d.year != year:
            errors.append(LineError(no, "outside_year", f"{d} 不在 {year} 年内"))
        elif d in seen:
            errors.append(LineError(no, "duplicate_date", f"{d} 已在第 {seen[d]} 行出现"))
        elif kind == DayKind.MAKEUP and d.weekday() < 5:
            errors.append(
                LineError(
                    no,
                    "makeup_not_weekend",
                    f"调休上班日 {d} 是星期{_WEEKDAYS[d.weekday()]},应为星期六或星期日",
                )
            )
        elif kind not in (DayKind.HOLIDAY, DayKind.MAKEUP):
            errors.append(LineError(no, "bad_kind", f"类型应为 holiday 或 makeup,实为 `{kind}`"))
        elif len(name) > 50:
            errors.append(LineError(no, "name_too_long", "名称不能超过 50 个字"))
        seen.setdefault(d, no)
    if not entries:
        errors.append(LineError(0, "no_days", "文件中没有任何节假日或调休日"))
    elif len(entries) > MAX_DAYS_PER_YEAR:
        errors.append(
            LineError(0, "too_many_days", f"共 {len(entries)} 天,超过上限 {MAX_DAYS_PER_YEAR} 天")
        )
    if not 1900 <= year <= 9998:
        errors.append(LineError(0, "bad_year", f"年份 {year} 超出范围"))
    return errors


def parse_calendar_file(text: str) -> ParsedYear:
    """Parse a calendar file (see the module docstring); raise CalendarFileError listing
    every bad line. Stores nothing."""
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    header_no = 0
    for no, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if stripped and not stripped.startswith("#"):
            if stripped.replace(" ", "").lower() == "date,kind,name":
                header_no = no
            break
    if header_no:
        year, entries, errors = _parse_csv(lines, header_no)
    else:
        year, entries, errors = _parse_text(lines)
    if year is not None:
        errors += _check_days(year, entries)
    if errors:
        raise CalendarFileError(errors)
    assert year is not None
    return ParsedYear(year, sorted((d, kind, name) for _, d, kind, name in entries))


def calendar_import_year(
    parsed: ParsedYear, *, actor_id: int | None = None, note: str = ""
) -> CalendarYear:
    """Store a year's holidays and make-up days, replacing any earlier import of it.

    Atomic; the year then overrides the package. Marks the year no longer missing,
    makes this process use it at once (others within `calendar.CHECK_INTERVAL`), and
    after the commit sends `calendar_year_imported`. Repeating it is harmless.
    """
    errors = _check_days(parsed.year, [(0, d, kind, name) for d, kind, name in parsed.days])
    if errors:
        raise CalendarFileError(errors)
    now = timezone.now()
    with transaction.atomic(durable=True):
        cy, _ = CalendarYear.objects.select_for_update().get_or_create(year=parsed.year)
        CalendarDay.objects.filter(year=cy).delete()
        CalendarDay.objects.bulk_create(
            CalendarDay(year=cy, date=d, kind=kind, name=name) for d, kind, name in parsed.days
        )
        cy.source, cy.imported_at, cy.imported_by_id, cy.note = (
            YearSource.IMPORT,
            now,
            actor_id,
            note[:200],
        )
        cy.save()  # bumps updated_at after the days: other processes re-read the year
        MissingCalendarYear.objects.filter(year=parsed.year, resolved_at__isnull=True).update(
            resolved_at=now
        )
        calendar.invalidate()
        year = parsed.year
        transaction.on_commit(lambda: _after_import(year))
    return cy


def _after_import(year: int) -> None:
    calendar.invalidate()
    calendar._noted_missing.pop(year, None)
    calendar_year_imported.send(sender=CalendarYear, year=year)


def note_missing_years(years: Iterable[int]) -> None:
    """Record that deadlines needed these years and the calendar does not know them, so
    administrators are warned naming the year. Cheap to call on every computation:
    at most one write per year per process per hour. Never raises."""
    clock = calendar._clock()
    due = [
        y
        for y in sorted(set(years))
        if clock >= calendar._noted_missing.get(y, float("-inf")) + NOTE_MISSING_EVERY
        and not calendar.year_known(y)
    ]
    if not due:
        return
    now = timezone.now()
    for y in due:
        try:
            # A savepoint inside the caller's transaction: a failure leaves it usable.
            with transaction.atomic():
                updated = MissingCalendarYear.objects.filter(year=y).update(
                    last_seen_at=now, resolved_at=None
                )
                if not updated:
                    MissingCalendarYear.objects.create(year=y, first_seen_at=now, last_seen_at=now)
        except IntegrityError:  # another process created it meanwhile: it is recorded
            pass
        except Exception:  # never block the caller (intake) over a warning
            logger.warning("sla: cannot record missing calendar year %s", y, exc_info=True)
            continue
        calendar._noted_missing[y] = clock
