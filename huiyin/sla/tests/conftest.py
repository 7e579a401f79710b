"""sla test helpers: every test starts and ends with an empty calendar cache, so a
year imported in one (rolled-back) test never leaks into the next."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from huiyin.sla import calendar

SH = ZoneInfo("Asia/Shanghai")

# A made-up 2027 notice (the package stops at 2026): New Year Fri 1 – Sun 3 January,
# Spring Festival Sat 6 – Sat 13 February, make-up Sundays/Saturdays 14 and 20 February.
CALENDAR_2027 = """\
# 2027 年节假日安排(测试数据)
year 2027
holiday 2027-01-01..2027-01-03 元旦
holiday 2027-02-06..2027-02-13 春节
makeup 2027-02-14 春节调休
makeup 2027-02-20 春节调休
"""


def bj(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A Beijing-time datetime: bj(2026, 2, 13, 9, 0)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SH)


@pytest.fixture(autouse=True)
def fresh_calendar() -> Iterator[None]:
    calendar.reset_cache()
    yield
    calendar.reset_cache()


class FakeClock:
    """Replaces calendar._clock, to let 30 seconds pass instantly."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(calendar, "_clock", fake)
    return fake
