"""Throughput of the deadline arithmetic (`make bench --only deadline` runs `run()`).

The goal (DESIGN §4): at least 200,000 working-day deadlines per second on one core.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from huiyin.sla import calendar


def _rate(call: Callable[[], None], seconds: float) -> float:
    n, start, batch = 0, time.perf_counter(), 20
    while True:
        for _ in range(batch):
            call()
        n += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def run(seconds: float = 2.0) -> dict[str, float]:
    """Deadlines computed per second, per unit, over `seconds` each. Starts are varied
    across 2026 (Spring Festival, Golden Week, make-up days) in Beijing time."""
    base = datetime(2026, 1, 5, 9, 15, tzinfo=calendar.SHANGHAI)
    starts = [base + timedelta(days=d, minutes=37 * d) for d in range(0, 360, 7)]
    calendar.deadline_add(base, 1, "working_days")  # warm the year tables
    add = calendar.deadline_add

    def working_days() -> None:
        for s in starts:
            add(s, 3, "working_days")

    def business_hours() -> None:
        for s in starts:
            add(s, 4, "business_hours")

    per = len(starts)
    half = seconds / 2
    return {
        "working_days_per_s": round(_rate(working_days, half) * per),
        "business_hours_per_s": round(_rate(business_hours, half) * per),
    }


if __name__ == "__main__":
    import logging

    logging.disable(logging.WARNING)  # no database needed: the package calendar suffices
    for key, value in run().items():
        print(f"{key}: {value:,.0f}")
