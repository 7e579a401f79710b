"""Properties of the deadline arithmetic, checked against day-by-day oracles.

Starts are drawn over 2025–2026 (package years with Golden Week, the Spring
Festival and make-up days), minute-aligned, in Beijing time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import chinese_calendar
from hypothesis import given, settings
from hypothesis import strategies as st

from huiyin.sla import calendar as cal
from huiyin.sla.calendar import DEFAULT_HOURS, BusinessHours

from .conftest import SH

FIRST, LAST = datetime(2025, 1, 1), datetime(2026, 10, 15)
MINUTES = int((LAST - FIRST).total_seconds() // 60)

starts = st.integers(0, MINUTES).map(lambda m: (FIRST + timedelta(minutes=m)).replace(tzinfo=SH))
hours_choices = st.sampled_from(
    [
        DEFAULT_HOURS,
        BusinessHours.parse([["09:00", "17:00"]]),
        BusinessHours.parse([["08:00", "11:30"], ["12:00", "12:45"], ["14:00", "18:15"]]),
    ]
)
FAST = settings(max_examples=150, deadline=None, derandomize=True, database=None)


def oracle_working_days(start: datetime, n: int) -> date:
    d = start.date()
    if n == 0:
        if chinese_calendar.is_workday(d) and start.time() < time(17, 30):
            return d
        n = 1
    while n:
        d += timedelta(days=1)
        n -= chinese_calendar.is_workday(d)
    return d


def oracle_business_minutes(start: datetime, end: datetime, hours: BusinessHours) -> int:
    total, day = 0, start.date()
    while day <= end.date():
        if chinese_calendar.is_workday(day):
            for a, b in hours.periods:
                lo = max(start, datetime.combine(day, a, SH))
                hi = min(end, datetime.combine(day, b, SH))
                if hi > lo:
                    total += int((hi - lo).total_seconds())
        day += timedelta(days=1)
    return total // 60


@FAST
@given(starts, st.integers(0, 40))
def test_working_day_deadlines_match_a_day_by_day_count(start: datetime, n: int) -> None:
    d = cal.deadline_add(start, n, "working_days")
    assert d.due_at == datetime.combine(oracle_working_days(start, n), time(17, 30), SH)
    assert not d.provisional


@FAST
@given(starts, st.integers(0, 60), hours_choices)
def test_working_day_deadline_is_end_of_business_on_a_working_day(
    start: datetime, n: int, hours: BusinessHours
) -> None:
    d = cal.deadline_add(start, n, "working_days", hours=hours)
    assert cal.is_workday(d.due_at.date())
    assert d.due_at.timetz() == hours.closes_at.replace(tzinfo=SH)
    assert d.due_at > start
    later = cal.deadline_add(start, n + 1, "working_days", hours=hours)
    assert later.due_at >= d.due_at
    if n >= 1:
        assert later.due_at > d.due_at


@FAST
@given(starts, st.integers(0, 5000), hours_choices)
def test_business_minutes_round_trip(start: datetime, minutes: int, hours: BusinessHours) -> None:
    due = cal.add_business_minutes(start, minutes, hours=hours).due_at
    assert due >= start
    assert cal.business_minutes_between(start, due, hours=hours) == minutes


@FAST
@given(starts, st.integers(0, 2000), st.integers(0, 2000))
def test_business_minutes_are_additive(start: datetime, a: int, b: int) -> None:
    step = cal.add_business_minutes(start, a).due_at
    assert cal.add_business_minutes(step, b).due_at == cal.add_business_minutes(start, a + b).due_at


@FAST
@given(starts, st.integers(0, 60 * 24 * 12), hours_choices)
def test_business_minutes_between_matches_a_day_by_day_sum(
    start: datetime, span: int, hours: BusinessHours
) -> None:
    end = start + timedelta(minutes=span)
    assert cal.business_minutes_between(start, end, hours=hours) == oracle_business_minutes(
        start, end, hours
    )


@FAST
@given(starts, st.integers(0, 100))
def test_business_hours_deadline_agrees_with_business_minutes(start: datetime, h: int) -> None:
    assert cal.deadline_add(start, h, "business_hours") == cal.add_business_minutes(start, h * 60)
