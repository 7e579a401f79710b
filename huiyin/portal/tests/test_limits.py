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


@pytest.mark.parametrize("made_up", ["Received by", "短短的挑战编号不是真的", "a" * 65, "abc", "x\x00" * 8, "../" * 5])
def test_a_challenge_id_that_was_never_issued_is_wrong_without_a_look_in_the_cache(made_up: str) -> None:
    """Only what `challenge_new` gives (URL-safe base64) is looked up: a made-up id answers as a
    wrong one, and no key of a stranger's making reaches the shared cache."""
    issued = limits.challenge_new()
    answer = limits.challenge_answer(issued)
    assert answer and limits.challenge_answer(issued) == answer
    assert limits.challenge_answer(made_up) is None
    assert not limits.challenge_verify(made_up, answer)
    assert limits.challenge_verify(issued, answer)
    assert limits.challenge_answer(issued) is None  # used up
