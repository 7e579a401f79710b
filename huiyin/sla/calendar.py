"""The Chinese working-day calendar and deadline arithmetic (DESIGN §4).

Pure functions over a per-year table cached in this module:

- a year covered by the `chinesecalendar` package (statutory holidays and 调休
  make-up working days) comes from the package;
- a year an administrator imported (`CalendarYear` rows, see `services.py`)
  overrides the package for that year;
- any other year is *unknown*: weekends alone are used, and every answer that
  needed such a day says so (`DayInfo.known=False`, `Deadline.provisional=True`,
  `Deadline.unknown_years`). Unknown years never raise: intake is never blocked.

Freshness: the imported years are read from the database on first use and then
re-checked (one cheap aggregate query) at most every `CHECK_INTERVAL` seconds,
so another process's import is seen within 30 s; the importing process calls
`reset_cache()` and sees it at once. The hot path only compares a clock value.

All local times are Asia/Shanghai. Dates are handled as proleptic ordinals
(`date.toordinal()`); each year table holds a sorted list of its working-day
ordinals, searched with `bisect`.
"""

from __future__ import annotations

import logging
import time as _time
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from django.db import models
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHECK_INTERVAL = 30.0  # seconds between checks of the imported-years version

_US_PER_MINUTE = 60_000_000
_US_PER_DAY = 86_400_000_000
_END_OF_DAY = time(23, 59, 59)


class TimeUnit(models.TextChoices):
    MINUTES = "minutes", _("分钟")
    HOURS = "hours", _("小时")
    BUSINESS_HOURS = "business_hours", _("工作小时")
    WORKING_DAYS = "working_days", _("工作日")
    CALENDAR_DAYS = "calendar_days", _("自然日")
    BUSINESS_MINUTES = "business_minutes", _("工作分钟")  # minutes counted inside business hours


class DayKind(models.TextChoices):
    """A day that differs from the Monday–Friday default."""

    HOLIDAY = "holiday", _("法定节假日")
    MAKEUP = "makeup", _("调休上班日")


# --- business hours -----------------------------------------------------------------------


def _us_of(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def _parse_time(value: Any) -> time:
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise ValueError(f"business hours: {value!r} must be a naive local time")
        return value
    if not isinstance(value, str):
        raise ValueError(f"business hours: {value!r} is not a time like '08:30'")  # noqa: TRY004
    text = value.strip()
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() and 1 <= len(p) <= 2 for p in parts):
        raise ValueError(f"business hours: {value!r} is not a time like '08:30'")
    try:
        hour, minute, *second = (int(p) for p in parts)
        return time(hour, minute, second[0] if second else 0)
    except ValueError:
        raise ValueError(f"business hours: {value!r} is not a valid time of day") from None


@dataclass(frozen=True)
class BusinessHours:
    """Opening periods of a working day, e.g. 08:30–12:00 and 13:30–17:30.

    Time between periods (the lunch break) is closed. Periods are sorted, do not
    overlap and lie within one day. Construct with `BusinessHours.parse(...)` from
    configuration; direct construction is validated too.
    """

    periods: tuple[tuple[time, time], ...]
    # Derived in __post_init__ for the arithmetic; equality and hash depend on `periods` only.
    _spans: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)
    _day_us: int = field(init=False, repr=False, compare=False)
    _close: time = field(init=False, repr=False, compare=False)
    _open_us: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        periods = tuple((p[0], p[1]) for p in self.periods)
        if not periods:
            raise ValueError("business hours: at least one period is required")
        spans: list[tuple[int, int]] = []
        for opens, closes in periods:
            if not isinstance(opens, time) or not isinstance(closes, time):
                raise ValueError("business hours: periods must be pairs of datetime.time")  # noqa: TRY004
            a, b = _us_of(opens), _us_of(closes)
            if a >= b:
                raise ValueError(
                    f"business hours: period {opens:%H:%M}–{closes:%H:%M} must open before it closes"
                )
            if spans and a < spans[-1][1]:
                raise ValueError(
                    f"business hours: period {opens:%H:%M}–{closes:%H:%M} overlaps or precedes "
                    "the previous one; list periods in order without overlap"
                )
            spans.append((a, b))
        object.__setattr__(self, "periods", periods)
        object.__setattr__(self, "_spans", tuple(spans))
        object.__setattr__(self, "_day_us", sum(b - a for a, b in spans))
        object.__setattr__(self, "_close", periods[-1][1])
        object.__setattr__(self, "_open_us", spans[0][0])

    @classmethod
    def parse(cls, value: Iterable[Sequence[Any]]) -> BusinessHours:
        """From configuration: `[["08:30", "12:00"], ["13:30", "17:30"]]`.

        Raises ValueError naming the bad value (bad time, empty list, a period that
        closes before it opens, unsorted or overlapping periods).
        """
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise ValueError(  # noqa: TRY004 (configuration errors are ValueErrors throughout)
                "business hours: expected a list of [open, close] pairs like "
                '[["08:30", "12:00"], ["13:30", "17:30"]]'
            )
        periods = []
        for item in value:
            if isinstance(item, (str, bytes)) or not isinstance(item, Sequence) or len(item) != 2:
                raise ValueError(f"business hours: {item!r} is not an [open, close] pair")
            periods.append((_parse_time(item[0]), _parse_time(item[1])))
        return cls(tuple(periods))

    def to_list(self) -> list[list[str]]:
        """The inverse of `parse`, for JSON configuration."""
        return [[a.strftime("%H:%M"), b.strftime("%H:%M")] for a, b in self.periods]

    @property
    def closes_at(self) -> time:
        """End of business: the end of the last period."""
        return self._close

    @property
    def minutes_per_day(self) -> int:
        return self._day_us // _US_PER_MINUTE

    def __str__(self) -> str:
        return ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in self.periods)


DEFAULT_HOURS = BusinessHours(((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30))))


# --- results ------------------------------------------------------------------------------


class DayInfo(NamedTuple):
    workday: bool
    holiday: bool  # a statutory holiday (法定节假日), including weekend days inside its span
    makeup: bool  # a Saturday or Sunday that is a working day (调休上班日)
    known: bool  # False: the calendar does not know this year; workday is a Mon–Fri guess
    name: str  # e.g. 春节, 国庆节, 春节调休; "" when none


class Deadline(NamedTuple):
    due_at: datetime  # aware, Asia/Shanghai
    provisional: bool  # True when a day of an unknown year had to be classified
    unknown_years: tuple[int, ...]  # sorted


# --- year tables --------------------------------------------------------------------------


class _Year:
    """One year of the calendar, precomputed."""

    __slots__ = ("first", "flags", "known", "source", "specials", "unknown", "workdays", "year")

    def __init__(
        self, year: int, known: bool, source: str, specials: dict[int, tuple[str, str]]
    ) -> None:
        first = date(year, 1, 1).toordinal()
        last = date(year, 12, 31).toordinal()
        flags = bytearray(last - first + 1)
        for o in range(first, last + 1):
            kind = specials.get(o, ("", ""))[0]
            weekday = o % 7 not in (0, 6)  # ordinal % 7: 0 is a Sunday, 6 a Saturday
            if kind == DayKind.MAKEUP or (weekday and kind != DayKind.HOLIDAY):
                flags[o - first] = 1
        self.year = year
        self.known = known
        self.source = source  # "package", "import" or "" (unknown)
        self.first = first
        self.flags = bytes(flags)
        self.workdays = [first + i for i, f in enumerate(flags) if f]
        self.specials = specials
        self.unknown: tuple[int, ...] = () if known else (year,)


# Process-wide state. Replaced wholesale, never mutated in place except `_tables`
# (a cache; a race builds the same table twice, harmlessly).
_tables: dict[int, _Year] = {}
_imported: dict[int, dict[int, tuple[str, str]]] = {}  # year -> {ordinal: (kind, name)}
_imported_source: dict[int, str] = {}
_version: object = None
_next_check = 0.0
_clock = _time.monotonic  # replaced in tests to simulate the passing of time
_package: dict[int, dict[int, tuple[str, str]]] | None = None
# services.note_missing_years: year -> clock value of the last DB write in this process.
_noted_missing: dict[int, float] = {}


def _package_years() -> dict[int, dict[int, tuple[str, str]]]:
    """The chinesecalendar data grouped by year: {year: {ordinal: (kind, name)}}."""
    global _package
    if _package is None:
        from chinese_calendar import constants

        names = {h.value: h.chinese for h in constants.Holiday}
        years = [d.year for d in constants.holidays]
        grouped: dict[int, dict[int, tuple[str, str]]] = {
            y: {} for y in range(min(years), max(years) + 1)
        }
        for d, label in constants.holidays.items():
            grouped[d.year][d.toordinal()] = (DayKind.HOLIDAY.value, names.get(label, label))
        for d, label in constants.workdays.items():
            grouped[d.year][d.toordinal()] = (
                DayKind.MAKEUP.value,
                names.get(label, label) + "调休",
            )
        _package = grouped
    return _package


def _read_imported(
    known_version: object,
) -> tuple[object, dict[int, dict[int, tuple[str, str]]] | None, dict[int, str]]:
    """(version, rows or None if unchanged, sources) from the database."""
    from django.db import connection, transaction
    from django.db.models import Count, Max

    from .models import CalendarDay, CalendarYear

    def read() -> tuple[object, dict[int, dict[int, tuple[str, str]]] | None, dict[int, str]]:
        agg = CalendarYear.objects.aggregate(n=Count("id"), m=Max("updated_at"))
        version = (agg["n"], agg["m"])
        if version == known_version:
            return version, None, {}
        years = dict(CalendarYear.objects.values_list("year", "source"))
        rows: dict[int, dict[int, tuple[str, str]]] = {y: {} for y in years}
        days = CalendarDay.objects.values_list("year__year", "date", "kind", "name")
        for year, d, kind, name in days:
            rows.setdefault(year, {})[d.toordinal()] = (kind, name)
        return version, rows, years

    if connection.in_atomic_block:
        # Inside the caller's transaction: a savepoint, so a failure cannot poison it.
        with transaction.atomic():
            return read()
    # Outside one: plain autocommit reads (an atomic block would take SQLite's write lock).
    return read()


def _refresh() -> None:
    global _next_check, _version, _imported, _imported_source, _tables
    _next_check = _clock() + CHECK_INTERVAL
    try:
        version, rows, sources = _read_imported(_version)
    except Exception as exc:  # noqa: BLE001 — no database (yet), tables not migrated, async context …
        logger.warning(
            "sla calendar: cannot read imported years (%s); using the package calendar", exc
        )
        return
    if rows is not None:
        _imported, _imported_source, _version, _tables = rows, sources, version, {}


def _check() -> None:
    if _clock() >= _next_check:
        _refresh()


def _build(year: int) -> _Year:
    if year in _imported:
        t = _Year(year, True, _imported_source.get(year, "import"), _imported[year])
    else:
        package = _package_years()
        if year in package:
            t = _Year(year, True, "package", package[year])
        else:
            t = _Year(year, False, "", {})
    _tables[year] = t
    return t


def _year(year: int) -> _Year:
    t = _tables.get(year)
    return t if t is not None else _build(year)


def reset_cache() -> None:
    """Forget every cached table and re-read the imported years on the next call."""
    global _tables, _imported, _imported_source, _version, _next_check
    _tables, _imported, _imported_source, _version, _next_check = {}, {}, {}, None, 0.0
    _noted_missing.clear()


def invalidate() -> None:
    """Re-check the imported years on the next call (after a write in this process)."""
    global _next_check
    _next_check = 0.0


def year_known(year: int) -> bool:
    _check()
    return _year(year).known


def year_source(year: int) -> str:
    """ "package", "import", or "" for a year the calendar does not know."""
    _check()
    return _year(year).source


def known_years() -> list[int]:
    _check()
    return sorted(set(_package_years()) | set(_imported))


def year_days(year: int) -> list[tuple[date, str, str]]:
    """The holidays and make-up days of a year: [(date, kind, name)], sorted by date."""
    _check()
    t = _year(year)
    return [(date.fromordinal(o), kind, name) for o, (kind, name) in sorted(t.specials.items())]


# --- days ---------------------------------------------------------------------------------


def day_info(d: date) -> DayInfo:
    _check()
    if isinstance(d, datetime):
        d = d.astimezone(SHANGHAI).date() if d.tzinfo is not None else d.date()
    t = _year(d.year)
    o = d.toordinal()
    kind, name = t.specials.get(o, ("", ""))
    return DayInfo(
        bool(t.flags[o - t.first]), kind == DayKind.HOLIDAY, kind == DayKind.MAKEUP, t.known, name
    )


def is_workday(d: date) -> bool:
    _check()
    if isinstance(d, datetime):
        d = d.astimezone(SHANGHAI).date() if d.tzinfo is not None else d.date()
    t = _year(d.year)
    return bool(t.flags[d.toordinal() - t.first])


def _merge(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    if not b or a == b:
        return a
    if not a:
        return b
    return tuple(sorted(set(a) | set(b)))


def _nth_workday_after(o: int, year: int, n: int) -> tuple[int, tuple[int, ...]]:
    """The ordinal of the n-th (n >= 1) working day strictly after ordinal `o` (in `year`),
    and the unknown years whose days were classified on the way."""
    t = _tables.get(year) or _build(year)
    wd = t.workdays
    i = bisect_right(wd, o)
    if i + n <= len(wd):
        return wd[i + n - 1], t.unknown
    unknown: set[int] = set()
    if o < t.first + len(t.flags) - 1:  # some days of this year were looked at
        unknown.update(t.unknown)
    n -= len(wd) - i
    while True:
        year += 1
        if year > 9998:
            raise ValueError("deadline beyond the supported range of dates")
        t = _year(year)
        unknown.update(t.unknown)
        wd = t.workdays
        if n <= len(wd):
            return wd[n - 1], tuple(sorted(unknown))
        n -= len(wd)


def _count_workdays(a: int, b: int) -> int:
    """Working days with a <= ordinal <= b."""
    if b < a:
        return 0
    count = 0
    for year in range(date.fromordinal(a).year, date.fromordinal(b).year + 1):
        wd = _year(year).workdays
        count += bisect_right(wd, b) - bisect_left(wd, a)
    return count


# --- deadlines ----------------------------------------------------------------------------

_MINUTES, _HOURS, _BUSINESS_HOURS, _WORKING_DAYS, _CALENDAR_DAYS, _BUSINESS_MINUTES = range(6)
# Keyed by both the plain strings and the enum members: Enum hashes members by name.
_UNIT_CODES: dict[object, int] = {}
for _code, _member in enumerate(
    (
        TimeUnit.MINUTES,
        TimeUnit.HOURS,
        TimeUnit.BUSINESS_HOURS,
        TimeUnit.WORKING_DAYS,
        TimeUnit.CALENDAR_DAYS,
        TimeUnit.BUSINESS_MINUTES,
    )
):
    _UNIT_CODES[_member] = _code
    _UNIT_CODES[str(_member.value)] = _code


def _at(o: int, us: int) -> datetime:
    d = date.fromordinal(o)
    s, us = divmod(us, 1_000_000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return datetime(d.year, d.month, d.day, h, m, s, us, tzinfo=SHANGHAI)


def _end_of_business(o: int, hours: BusinessHours) -> datetime:
    return datetime.combine(date.fromordinal(o), hours._close, SHANGHAI)


def _local(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {value!r}")
    return value.astimezone(SHANGHAI)


def in_business_hours(at: datetime, hours: BusinessHours = DEFAULT_HOURS) -> bool:
    """Whether `at` (aware) falls on a working day, inside one of the opening periods, in
    Beijing time — the test of notification routes for office hours (`when: {hours: in|out}`)."""
    local = _local(at, "at")
    if not is_workday(local.date()):
        return False
    us = _us_of(local.time())
    return any(a <= us < b for a, b in hours._spans)


def deadline_add(
    start: datetime,
    amount: int,
    unit: str | TimeUnit,
    *,
    hours: BusinessHours | None = None,
    roll_to_workday: bool = False,
) -> Deadline:
    """The deadline `amount` `unit`s after `start` (DESIGN §4).

    - minutes, hours: natural time.
    - business_hours: `amount` hours of business time on working days; outside
      business time counting begins at the next opening.
    - business_minutes: the same in minutes (e.g. 20 minutes of business time).
    - working_days: counted from the next working day after receipt; due at the end
      of business of the N-th working day (holidays skipped, make-up days counted).
      0 means "the same day": the receipt day's end of business if it is a working
      day and receipt is before closing, else the next working day's.
    - calendar_days: 23:59:59 of start's date + amount, natural days.

    `roll_to_workday` moves a natural-time deadline (minutes, hours, calendar days)
    that falls on a non-working day to the end of business of the next working day.
    Never raises for years the calendar does not know: the result is provisional.
    """
    if _clock() >= _next_check:
        _refresh()
    code = _UNIT_CODES.get(unit)
    if code is None:
        raise ValueError(
            f"unknown time unit {unit!r}; expected one of {', '.join(TimeUnit.values)}"
        )
    if not isinstance(amount, int) or amount < 0:
        raise ValueError(f"amount must be an integer >= 0, got {amount!r}")
    if start.tzinfo is None:
        raise ValueError(f"start must be an aware datetime, got {start!r}")
    local = start.astimezone(SHANGHAI)
    if hours is None:
        hours = DEFAULT_HOURS

    if code == _WORKING_DAYS:
        o = local.toordinal()
        if amount:
            due, unknown = _nth_workday_after(o, local.year, amount)
        else:
            t = _tables.get(local.year) or _build(local.year)
            if t.flags[o - t.first] and local.time() < hours._close:
                due, unknown = o, t.unknown
            else:
                due, unknown = _nth_workday_after(o, local.year, 1)
                unknown = _merge(t.unknown, unknown)
        return Deadline(
            datetime.combine(date.fromordinal(due), hours._close, SHANGHAI),
            bool(unknown),
            unknown,
        )

    if code in (_BUSINESS_HOURS, _BUSINESS_MINUTES):
        minutes = amount * 60 if code == _BUSINESS_HOURS else amount
        o, us, unknown = _add_business_us(local, minutes * _US_PER_MINUTE, hours)
        return Deadline(_at(o, us), bool(unknown), unknown)

    if code == _CALENDAR_DAYS:
        due_at = datetime.combine(local.date() + timedelta(days=amount), _END_OF_DAY, SHANGHAI)
    else:  # natural time: absolute arithmetic, whatever the zone of `start`
        delta = timedelta(hours=amount) if code == _HOURS else timedelta(minutes=amount)
        due_at = (start.astimezone(UTC) + delta).astimezone(SHANGHAI)
    if not roll_to_workday:
        return Deadline(due_at, False, ())
    o = due_at.toordinal()
    t = _year(due_at.year)
    if t.flags[o - t.first]:
        return Deadline(due_at, bool(t.unknown), t.unknown)
    due, unknown = _nth_workday_after(o, due_at.year, 1)
    unknown = _merge(t.unknown, unknown)
    return Deadline(_end_of_business(due, hours), bool(unknown), unknown)


def _add_business_us(
    local: datetime, rem: int, hours: BusinessHours
) -> tuple[int, int, tuple[int, ...]]:
    """(ordinal, microsecond of day, unknown years) `rem` business microseconds after `local`."""
    spans: tuple[tuple[int, int], ...] = hours._spans
    o = local.toordinal()
    sod = ((local.hour * 60 + local.minute) * 60 + local.second) * 1_000_000 + local.microsecond
    t = _tables.get(local.year) or _build(local.year)
    unknown = t.unknown
    if t.flags[o - t.first]:
        for a, b in spans:
            if sod < b:
                begin = max(sod, a)
                avail = b - begin
                if rem <= avail:
                    return o, begin + rem, unknown
                rem -= avail
    if rem <= 0:  # amount 0 outside business time: the next opening
        o, more = _nth_workday_after(o, local.year, 1)
        return o, spans[0][0], _merge(unknown, more)
    day_us: int = hours._day_us
    full = (rem - 1) // day_us
    rem -= full * day_us
    o, more = _nth_workday_after(o, local.year, full + 1)
    unknown = _merge(unknown, more)
    for a, b in spans:
        if rem <= b - a:
            return o, a + rem, unknown
        rem -= b - a
    raise AssertionError("unreachable: the remainder fits in one working day")


def add_business_minutes(
    start: datetime, minutes: int, *, hours: BusinessHours = DEFAULT_HOURS
) -> Deadline:
    """`minutes` of business time after `start` (e.g. the remaining time of a resumed case)."""
    _check()
    if not isinstance(minutes, int) or minutes < 0:
        raise ValueError(f"minutes must be an integer >= 0, got {minutes!r}")
    local = _local(start, "start")
    o, us, unknown = _add_business_us(local, minutes * _US_PER_MINUTE, hours or DEFAULT_HOURS)
    return Deadline(_at(o, us), bool(unknown), unknown)


def _overlap(spans: tuple[tuple[int, int], ...], x: int, y: int) -> int:
    total = 0
    for a, b in spans:
        lo, hi = max(x, a), min(y, b)
        if hi > lo:
            total += hi - lo
    return total


def business_minutes_between(
    start: datetime, end: datetime, *, hours: BusinessHours = DEFAULT_HOURS
) -> int:
    """Whole minutes of business time in [start, end); 0 if end <= start."""
    _check()
    s, e = _local(start, "start"), _local(end, "end")
    if e <= s:
        return 0
    hours = hours or DEFAULT_HOURS
    spans: tuple[tuple[int, int], ...] = hours._spans
    so, eo = s.toordinal(), e.toordinal()
    ssod = ((s.hour * 60 + s.minute) * 60 + s.second) * 1_000_000 + s.microsecond
    esod = ((e.hour * 60 + e.minute) * 60 + e.second) * 1_000_000 + e.microsecond
    st, et = _year(s.year), _year(e.year)
    s_work, e_work = st.flags[so - st.first], et.flags[eo - et.first]
    if so == eo:
        total = _overlap(spans, ssod, esod) if s_work else 0
    else:
        total = _overlap(spans, ssod, _US_PER_DAY) if s_work else 0
        total += _count_workdays(so + 1, eo - 1) * hours._day_us
        total += _overlap(spans, 0, esod) if e_work else 0
    return total // _US_PER_MINUTE
