"""The rate-limit counters in the shared cache last their whole window: an address that pauses,
or many other addresses, do not reset them."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import caches

from huiyin.conftest import bj
from huiyin.portal import limits

pytestmark = pytest.mark.django_db


def test_a_pause_does_not_reset_an_addresss_count(settings) -> None:
    settings.PORTAL_LIMITS = {**settings.PORTAL_LIMITS, "submit": (2, 5, 3600)}
    with time_machine.travel(bj(2026, 3, 2, 9, 1), tick=False) as clock:
        assert [limits.use("submit", "192.0.2.1").count for _ in range(2)] == [1, 2]
        clock.shift(timedelta(minutes=20))  # longer than the cache's default timeout, inside the window
        use = limits.use("submit", "192.0.2.1")
        assert use.count == 3 and use.challenged
        clock.shift(timedelta(hours=1))  # the next window starts afresh
        assert limits.use("submit", "192.0.2.1").count == 1


def test_many_addresses_do_not_evict_a_counter_or_a_challenge(settings) -> None:
    settings.PORTAL_LIMITS = {**settings.PORTAL_LIMITS, "track": (2, 5, 3600)}
    with time_machine.travel(bj(2026, 3, 2, 9, 1), tick=False) as clock:
        limits.use("track", "192.0.2.1")
        challenge = limits.challenge_new()
        for i in range(400):  # more than Django's database cache keeps (MAX_ENTRIES 300)
            limits.use("track", f"10.0.{i // 256}.{i % 256}")
        assert limits.use("track", "192.0.2.1").count == 2
        assert limits.challenge_answer(challenge)
        clock.shift(timedelta(hours=3))
        assert caches["shared"].add("x", 1, 60)  # expired rows are taken over, never counted again
        assert limits.use("track", "192.0.2.1").count == 1
