"""Report periods: a month, a quarter, an ISO week, a year or a range of days (Beijing dates)."""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta

KINDS = ("day", "week", "month", "quarter", "year", "range")


class BadPeriod(ValueError):
    """A period that cannot be read (the message says which forms are accepted)."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    kind: str = "range"

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise BadPeriod("the period ends before it starts")
        if (self.end - self.start).days > 3660:
            raise BadPeriod("a period is at most ten years")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def code(self) -> str:
        """The period as the command line and URLs spell it (2026-11, 2026-Q4, 2026-W47, 2026)."""
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "year":
            return str(self.start.year)
        if self.kind == "day":
            return self.start.isoformat()
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    @property
    def label(self) -> str:
        """The period in Chinese, as a report's title names it (2026年11月)."""
        if self.kind == "month":
            return f"{self.start.year}年{self.start.month}月"
        if self.kind == "quarter":
            return f"{self.start.year}年第{(self.start.month - 1) // 3 + 1}季度"
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}年第{week}周({self.start:%m月%d日}–{self.end:%m月%d日})"
        if self.kind == "year":
            return f"{self.start.year}年"
        if self.kind == "day":
            return f"{self.start.year}年{self.start.month}月{self.start.day}日"
        return f"{self.start:%Y年%m月%d日}至{self.end:%Y年%m月%d日}"

    def previous(self) -> Period:
        """The period just before (环比): the previous month, quarter, week, year, or as many days."""
        if self.kind == "month":
            return month(shift_month(self.start, -1))
        if self.kind == "quarter":
            return quarter(shift_month(self.start, -3))
        if self.kind == "year":
            return year(self.start.year - 1)
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1), self.kind)

    def year_ago(self) -> Period:
        """The same period a year earlier (同比)."""
        if self.kind == "month":
            return month(self.start.replace(year=self.start.year - 1))
        if self.kind == "quarter":
            return quarter(self.start.replace(year=self.start.year - 1))
        if self.kind == "year":
            return year(self.start.year - 1)
        if self.kind == "week":
            y, w, _ = self.start.isocalendar()
            try:
                return week(y - 1, w)
            except ValueError:
                return week(y - 1, 52)
        return Period(_year_back(self.start), _year_back(self.end), self.kind)


def _year_back(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year - 1, day=28)


def shift_month(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month(d: date) -> Period:
    first = d.replace(day=1)
    return Period(first, first.replace(day=monthrange(first.year, first.month)[1]), "month")


def quarter(d: date) -> Period:
    first = date(d.year, (d.month - 1) // 3 * 3 + 1, 1)
    last = shift_month(first, 3) - timedelta(days=1)
    return Period(first, last, "quarter")


def week(y: int, w: int) -> Period:
    start = date.fromisocalendar(y, w, 1)
    return Period(start, start + timedelta(days=6), "week")


def year(y: int) -> Period:
    return Period(date(y, 1, 1), date(y, 12, 31), "year")


FORMS = "2026-11, 2026-Q4, 2026-W47, 2026, 2026-11-05 or 2026-11-01..2026-11-30"
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*(?:\.\.|~|/)\s*(\d{4}-\d{2}-\d{2})$")


def parse(text: str) -> Period:
    """A period from its spelling (`FORMS`); BadPeriod otherwise."""
    s = (text or "").strip()
    try:
        if m := _MONTH.match(s):
            return month(date(int(m[1]), int(m[2]), 1))
        if m := _QUARTER.match(s):
            return quarter(date(int(m[1]), (int(m[2]) - 1) * 3 + 1, 1))
        if m := _WEEK.match(s):
            return week(int(m[1]), int(m[2]))
        if m := _YEAR.match(s):
            return year(int(m[1]))
        if m := _RANGE.match(s):
            return Period(date.fromisoformat(m[1]), date.fromisoformat(m[2]))
        if len(s) == 10:
            d = date.fromisoformat(s)
            return Period(d, d, "day")
    except ValueError as exc:
        raise BadPeriod(f"{s!r} is not a period ({exc}); use {FORMS}") from None
    raise BadPeriod(f"{s!r} is not a period; use {FORMS}")


def between(start: date, end: date) -> Period:
    """The period of these days, named as a month, quarter or year when it is exactly one."""
    for candidate in (month(start), quarter(start), year(start.year)):
        if candidate.start == start and candidate.end == end:
            return candidate
    return Period(start, end, "day" if start == end else "range")


def last_complete(kind: str, today: date) -> Period:
    """The last whole period of `kind` before `today` (the month's report on the 1st …)."""
    if kind == "month":
        return month(shift_month(today.replace(day=1), -1))
    if kind == "quarter":
        return quarter(shift_month(quarter(today).start, -3))
    if kind == "year":
        return year(today.year - 1)
    if kind == "week":
        monday = today - timedelta(days=today.weekday())
        y, w, _ = (monday - timedelta(days=7)).isocalendar()
        return week(y, w)
    yesterday = today - timedelta(days=1)
    return Period(yesterday, yesterday, "day")
