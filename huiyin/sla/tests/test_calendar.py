"""The working-day calendar and deadline arithmetic on the package's years (DESIGN §4).

Dates below were checked against chinesecalendar 1.11 (the 2026 notice):
- 春节 2026-02-15 (Sun) .. 02-23 (Mon) off; make-up Saturdays 02-14 and 02-28.
- 国庆节 2026-10-01 (Thu) .. 10-07 (Wed) off, 10-08 is a working day; make-up
  Sunday 09-20 and Saturday 10-10. 中秋 09-25 .. 09-27 off.
- 元旦 2026-01-01 .. 01-03 off; make-up Sunday 01-04. 劳动节 05-01 .. 05-05; make-up Saturday 05-09.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
import time_machine

from huiyin.sla import calendar as cal
from huiyin.sla.calendar import DEFAULT_HOURS, BusinessHours, DayInfo, TimeUnit, deadline_add

from .conftest import SH, bj


@pytest.fixture(autouse=True)
def frozen_time() -> Iterator[None]:
    with time_machine.travel(bj(2026, 1, 5, 9, 0), tick=False):
        yield


def due(start_args: tuple[int, ...], amount: int, unit: str, **kw: object) -> tuple[object, ...]:
    d = deadline_add(bj(*start_args), amount, unit, **kw)  # type: ignore[arg-type]
    assert d.due_at.tzinfo == SH
    return d.due_at.timetuple()[:6], d.provisional


# --- the calendar itself ------------------------------------------------------------------


def test_it_agrees_with_the_package_on_every_day_it_covers() -> None:
    d, end = date(2004, 1, 1), date(2026, 12, 31)
    while d <= end:
        assert cal.is_workday(d) == chinese_calendar.is_workday(d), d
        d += timedelta(days=1)


def test_it_knows_the_2026_spring_festival() -> None:
    for day in range(15, 24):
        info = cal.day_info(date(2026, 2, day))
        assert info == DayInfo(
            workday=False, holiday=True, makeup=False, known=True, name="春节"
        ), day
    for makeup in (date(2026, 2, 14), date(2026, 2, 28)):
        assert makeup.weekday() == 5
        assert cal.day_info(makeup) == DayInfo(True, False, True, True, "春节调休")
    assert cal.is_workday(date(2026, 2, 24))
    assert cal.is_workday(date(2026, 2, 13))


def test_it_knows_the_2026_national_day() -> None:
    for day in range(1, 8):
        info = cal.day_info(date(2026, 10, day))
        assert (info.workday, info.holiday, info.name) == (False, True, "国庆节"), day
    assert cal.day_info(date(2026, 10, 8)) == DayInfo(True, False, False, True, "")
    assert cal.day_info(date(2026, 9, 20)) == DayInfo(
        True, False, True, True, "国庆节调休"
    )  # a Sunday
    assert cal.day_info(date(2026, 10, 10)) == DayInfo(
        True, False, True, True, "国庆节调休"
    )  # a Saturday
    assert not cal.is_workday(date(2026, 9, 25))  # 中秋


def test_it_knows_other_2026_makeup_days() -> None:
    for d in (date(2026, 1, 4), date(2026, 5, 9)):
        assert d.weekday() >= 5
        assert cal.day_info(d).makeup and cal.is_workday(d)


def test_an_ordinary_weekend_is_neither_holiday_nor_workday() -> None:
    assert cal.day_info(date(2026, 3, 7)) == DayInfo(False, False, False, True, "")
    assert cal.day_info(date(2026, 3, 9)) == DayInfo(True, False, False, True, "")


def test_an_unknown_year_is_a_weekend_only_guess() -> None:
    assert cal.day_info(date(2027, 1, 1)) == DayInfo(True, False, False, False, "")  # a Friday
    assert cal.day_info(date(2027, 1, 2)) == DayInfo(False, False, False, False, "")
    assert cal.day_info(date(2003, 1, 1)).known is False
    assert not cal.year_known(2027)
    assert cal.year_known(2026) and cal.year_known(2004)
    assert cal.known_years() == list(range(2004, 2027))


def test_day_info_of_an_aware_datetime_uses_beijing_time() -> None:
    # 2026-02-13 20:00 UTC is Saturday 14 February 04:00 in Beijing: a make-up day.
    from datetime import datetime

    assert cal.day_info(datetime(2026, 2, 13, 20, 0, tzinfo=UTC)).makeup


# --- working days -------------------------------------------------------------------------


def test_it_counts_from_the_next_working_day() -> None:
    assert due((2026, 3, 9, 10, 0), 2, "working_days") == (
        (2026, 3, 11, 17, 30, 0),
        False,
    )  # Mon -> Wed
    assert due((2026, 3, 13, 10, 0), 2, "working_days") == (
        (2026, 3, 17, 17, 30, 0),
        False,
    )  # Fri -> Tue


def test_receipt_after_closing_counts_the_same() -> None:
    assert due((2026, 3, 9, 18, 45), 1, "working_days") == ((2026, 3, 10, 17, 30, 0), False)


def test_it_skips_the_spring_festival_and_counts_makeup_days() -> None:
    # Friday 13 Feb + 2: Saturday 14 (make-up) is day 1, then nine days off, Tuesday 24 is day 2.
    assert due((2026, 2, 13, 10, 0), 2, "working_days") == ((2026, 2, 24, 17, 30, 0), False)
    assert due((2026, 2, 13, 10, 0), 1, "working_days") == ((2026, 2, 14, 17, 30, 0), False)
    # Friday 27 Feb + 1: Saturday 28 is a make-up day.
    assert due((2026, 2, 27, 16, 0), 1, "working_days") == ((2026, 2, 28, 17, 30, 0), False)


def test_it_skips_national_day() -> None:
    # Wednesday 30 Sep + 2: 1–7 Oct off, Thursday 8 and Friday 9.
    assert due((2026, 9, 30, 10, 0), 2, "working_days") == ((2026, 10, 9, 17, 30, 0), False)
    # + 3 reaches make-up Saturday 10 Oct.
    assert due((2026, 9, 30, 10, 0), 3, "working_days") == ((2026, 10, 10, 17, 30, 0), False)
    # Saturday 19 Sep + 1: make-up Sunday 20 Sep.
    assert due((2026, 9, 19, 11, 0), 1, "working_days") == ((2026, 9, 20, 17, 30, 0), False)


def test_receipt_on_a_holiday_counts_from_the_first_working_day_after() -> None:
    assert due((2026, 10, 3, 9, 0), 1, "working_days") == ((2026, 10, 8, 17, 30, 0), False)
    assert due((2026, 2, 17, 9, 0), 3, "working_days") == ((2026, 2, 26, 17, 30, 0), False)


def test_zero_working_days_means_the_same_day() -> None:
    assert due((2026, 3, 9, 9, 0), 0, "working_days") == ((2026, 3, 9, 17, 30, 0), False)
    assert due((2026, 2, 14, 9, 0), 0, "working_days") == (
        (2026, 2, 14, 17, 30, 0),
        False,
    )  # make-up day
    # On a holiday, or after closing: the next working day's end of business.
    assert due((2026, 10, 1, 9, 0), 0, "working_days") == ((2026, 10, 8, 17, 30, 0), False)
    assert due((2026, 3, 9, 17, 30), 0, "working_days") == ((2026, 3, 10, 17, 30, 0), False)


def test_working_days_end_at_the_close_of_the_given_hours() -> None:
    hours = BusinessHours.parse([["09:00", "12:00"], ["14:00", "18:00"]])
    assert due((2026, 3, 9, 10, 0), 1, "working_days", hours=hours) == (
        (2026, 3, 10, 18, 0, 0),
        False,
    )


def test_it_converts_other_time_zones_to_beijing() -> None:
    from datetime import datetime

    # Sunday 8 March 17:00 UTC is Monday 9 March 01:00 in Beijing.
    d = deadline_add(datetime(2026, 3, 8, 17, 0, tzinfo=UTC), 1, TimeUnit.WORKING_DAYS)
    assert d.due_at == bj(2026, 3, 10, 17, 30)
    d = deadline_add(datetime(2026, 3, 9, 9, 0, tzinfo=ZoneInfo("America/New_York")), 30, "minutes")
    assert d.due_at == bj(2026, 3, 9, 21, 30) and d.due_at.tzinfo == SH


def test_it_crosses_into_an_unknown_year_provisionally() -> None:
    d = deadline_add(bj(2026, 12, 30, 10, 0), 3, "working_days")
    assert d == cal.Deadline(bj(2027, 1, 4, 17, 30), True, (2027,))
    # Not provisional while the deadline stays in a known year.
    assert deadline_add(bj(2026, 12, 30, 10, 0), 1, "working_days").provisional is False
    # Received on the last day of a known year: only 2027 was looked at.
    assert deadline_add(bj(2026, 12, 31, 10, 0), 1, "working_days").unknown_years == (2027,)


def test_it_spans_several_unknown_years() -> None:
    d = deadline_add(bj(2026, 6, 1, 10, 0), 600, "working_days")
    assert d.provisional and d.unknown_years == (2027, 2028)
    assert cal.is_workday(d.due_at.date())


def test_long_spans_across_known_years_match_a_day_by_day_count() -> None:
    start, n = date(2019, 12, 20), 1000
    d, count = start, 0
    while count < n:
        d += timedelta(days=1)
        count += chinese_calendar.is_workday(d)
    got = deadline_add(bj(2019, 12, 20, 10, 0), n, "working_days")
    assert got.due_at == bj(d.year, d.month, d.day, 17, 30) and not got.provisional


# --- business hours -----------------------------------------------------------------------


def test_business_hours_skip_the_lunch_break() -> None:
    assert due((2026, 3, 9, 11, 0), 2, "business_hours") == ((2026, 3, 9, 14, 30, 0), False)
    assert due((2026, 3, 9, 12, 30), 1, "business_hours") == ((2026, 3, 9, 14, 30, 0), False)


def test_business_hours_end_exactly_at_a_close() -> None:
    assert due((2026, 3, 9, 11, 0), 1, "business_hours") == ((2026, 3, 9, 12, 0, 0), False)
    assert due((2026, 3, 9, 16, 30), 1, "business_hours") == ((2026, 3, 9, 17, 30, 0), False)


def test_business_hours_carry_over_to_the_next_working_day() -> None:
    # Friday 16:30 + 4 h: one hour on Friday, three on Monday from 08:30.
    assert due((2026, 3, 13, 16, 30), 4, "business_hours") == ((2026, 3, 16, 11, 30, 0), False)
    # + 5 h: Monday 08:30–12:00 is 3.5 h, the last half hour after lunch.
    assert due((2026, 3, 13, 16, 30), 5, "business_hours") == ((2026, 3, 16, 14, 0, 0), False)
    # A whole working day is 7.5 hours: 15 hours from Monday 08:30 is Tuesday 17:30.
    assert due((2026, 3, 9, 8, 30), 15, "business_hours") == ((2026, 3, 10, 17, 30, 0), False)


def test_business_hours_after_closing_start_at_the_next_opening() -> None:
    assert due((2026, 3, 9, 18, 0), 1, "business_hours") == ((2026, 3, 10, 9, 30, 0), False)
    assert due((2026, 3, 9, 6, 0), 1, "business_hours") == ((2026, 3, 9, 9, 30, 0), False)
    assert due((2026, 3, 9, 18, 0), 0, "business_hours") == ((2026, 3, 10, 8, 30, 0), False)


def test_business_hours_skip_holidays_and_count_makeup_days() -> None:
    # Friday 13 Feb 16:00 + 4 h: 1.5 h on Friday, 2.5 h on make-up Saturday 14 Feb.
    assert due((2026, 2, 13, 16, 0), 4, "business_hours") == ((2026, 2, 14, 11, 0, 0), False)
    # Saturday 14 Feb 17:00 + 1 h: half an hour, then nine days off, Tuesday 24 Feb 09:00.
    assert due((2026, 2, 14, 17, 0), 1, "business_hours") == ((2026, 2, 24, 9, 0, 0), False)


def test_business_minutes_between_counts_open_time_only() -> None:
    between = cal.business_minutes_between
    assert between(bj(2026, 3, 9, 11, 0), bj(2026, 3, 9, 14, 30)) == 120
    assert between(bj(2026, 3, 13, 16, 30), bj(2026, 3, 16, 14, 30)) == 60 + 210 + 60
    assert between(bj(2026, 2, 13, 8, 0), bj(2026, 2, 25, 8, 0)) == 3 * 450  # Fri, Sat 14, Tue 24
    assert between(bj(2026, 3, 9, 14, 30), bj(2026, 3, 9, 11, 0)) == 0
    assert between(bj(2026, 3, 7, 9, 0), bj(2026, 3, 8, 17, 0)) == 0  # a weekend


def test_add_business_minutes_resumes_a_paused_deadline() -> None:
    # Paused Friday 13 Mar 15:00 with the deadline Tuesday 17:30: 150 + 450 + 450 minutes remain.
    remaining = cal.business_minutes_between(bj(2026, 3, 13, 15, 0), bj(2026, 3, 17, 17, 30))
    assert remaining == 1050
    # Resumed Wednesday 18 Mar 10:00: 360 minutes on Wednesday, 450 on Thursday, 240 on Friday.
    assert cal.add_business_minutes(bj(2026, 3, 18, 10, 0), remaining).due_at == bj(
        2026, 3, 20, 14, 0
    )


# --- natural time -------------------------------------------------------------------------


def test_minutes_and_hours_are_natural_time() -> None:
    assert due((2026, 10, 1, 23, 40), 30, "minutes") == ((2026, 10, 2, 0, 10, 0), False)
    assert due((2026, 2, 13, 10, 0), 48, "hours") == ((2026, 2, 15, 10, 0, 0), False)


def test_calendar_days_end_at_midnight_even_on_a_holiday() -> None:
    assert due((2026, 9, 16, 10, 0), 15, "calendar_days") == ((2026, 10, 1, 23, 59, 59), False)
    assert due((2026, 9, 16, 10, 0), 0, "calendar_days") == ((2026, 9, 16, 23, 59, 59), False)


def test_calendar_days_roll_to_the_next_working_day_when_asked() -> None:
    assert due((2026, 9, 16, 10, 0), 15, "calendar_days", roll_to_workday=True) == (
        (2026, 10, 8, 17, 30, 0),
        False,
    )
    # Landing on a working day: not moved.
    assert due((2026, 9, 16, 10, 0), 22, "calendar_days", roll_to_workday=True) == (
        (2026, 10, 8, 23, 59, 59),
        False,
    )
    # Landing on make-up Saturday 10 Oct: a working day, not moved.
    assert due((2026, 9, 16, 10, 0), 24, "calendar_days", roll_to_workday=True) == (
        (2026, 10, 10, 23, 59, 59),
        False,
    )


def test_calendar_days_into_an_unknown_year_are_provisional_only_when_rolled() -> None:
    assert deadline_add(bj(2026, 12, 20, 10, 0), 15, "calendar_days").provisional is False
    rolled = deadline_add(bj(2026, 12, 20, 10, 0), 14, "calendar_days", roll_to_workday=True)
    assert rolled == cal.Deadline(bj(2027, 1, 4, 17, 30), True, (2027,))  # Sunday 3 Jan rolled


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [-1, 1.5, "2"])
def test_it_rejects_bad_amounts(amount: object) -> None:
    with pytest.raises(ValueError):
        deadline_add(bj(2026, 3, 9, 10, 0), amount, "working_days")  # type: ignore[arg-type]


def test_it_rejects_unknown_units_and_naive_starts() -> None:
    from datetime import datetime

    with pytest.raises(ValueError, match="unknown time unit"):
        deadline_add(bj(2026, 3, 9, 10, 0), 1, "fortnights")
    with pytest.raises(ValueError, match="aware"):
        deadline_add(datetime(2026, 3, 9, 10, 0), 1, "working_days")
    with pytest.raises(ValueError):
        cal.business_minutes_between(datetime(2026, 3, 9), bj(2026, 3, 10))
    with pytest.raises(ValueError):
        cal.add_business_minutes(bj(2026, 3, 9), -5)


@pytest.mark.django_db  # the calendar may refresh its imported years on any call
def test_every_unit_is_accepted_as_member_or_string() -> None:
    for unit in TimeUnit:
        assert deadline_add(bj(2026, 3, 9, 10), 1, unit) == deadline_add(
            bj(2026, 3, 9, 10), 1, unit.value
        )
    assert str(TimeUnit.WORKING_DAYS.label) == "工作日"


def test_business_hours_parse_accepts_configuration() -> None:
    assert BusinessHours.parse([["08:30", "12:00"], ["13:30", "17:30"]]) == DEFAULT_HOURS
    assert DEFAULT_HOURS.closes_at == time(17, 30) and DEFAULT_HOURS.minutes_per_day == 450
    assert DEFAULT_HOURS.to_list() == [["08:30", "12:00"], ["13:30", "17:30"]]
    assert str(DEFAULT_HOURS) == "08:30–12:00, 13:30–17:30"
    assert hash(BusinessHours.parse([("8:30", "12:00"), ("13:30", "17:30")])) == hash(DEFAULT_HOURS)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "at least one period"),
        ("08:30-17:30", "list of"),
        ([["08:30"]], "pair"),
        ([["8h30", "12:00"]], "not a time"),
        ([["25:00", "26:00"]], "not a valid time"),
        ([["12:00", "08:30"]], "open before it closes"),
        ([["13:30", "17:30"], ["08:30", "12:00"]], "overlaps or precedes"),
        ([["08:30", "12:00"], ["11:00", "17:30"]], "overlaps or precedes"),
    ],
)
def test_business_hours_parse_rejects_bad_input(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessHours.parse(value)  # type: ignore[arg-type]


@pytest.mark.django_db
def test_the_hot_path_makes_no_queries(django_assert_num_queries) -> None:
    deadline_add(bj(2026, 3, 9, 10), 2, "working_days")  # first call reads the imported years
    with django_assert_num_queries(0):
        for unit in TimeUnit:
            deadline_add(bj(2026, 3, 9, 10), 2, unit)
        cal.day_info(date(2026, 10, 1))
