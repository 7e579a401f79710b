"""Rate limits of the portal per client address, counted in the shared cache (every web worker
counts in the same place), and the self-hosted challenge asked after repeated use.

Each scope (`submit`, `track`, `act`) has `(free, max, window)` in settings.PORTAL_LIMITS: the
first `free` uses of an address in a window pass untouched — a first submission never meets a
challenge; the next ones each need a challenge answered (a picture of characters drawn here,
no third-party service); past `max` the address is refused until the window ends (429).
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import time
from contextlib import nullcontext
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.db import router, transaction
from django.http import HttpRequest

from .challenge import ANSWER_LENGTH, answer_new

CHALLENGE_SECONDS = 600


class Limited(Exception):
    """The address used the portal too often: refused until `retry_after` seconds have passed."""

    def __init__(self, retry_after: int):
        super().__init__("Too many requests from this address; try again later.")
        self.retry_after = retry_after


class ChallengeRequired(Exception):
    """The address used the portal repeatedly: this use needs a challenge answered. `wrong` when
    an answer was given and it was not right (or the challenge had expired)."""

    def __init__(self, *, wrong: bool):
        super().__init__("Answer the challenge (POST /api/v1/portal/challenges) and send X-Challenge-Id and "
                         "X-Challenge-Answer." if not wrong else "The challenge's answer was wrong or it expired; "
                         "answer a new one.")
        self.wrong = wrong


def _cache():  # type: ignore[no-untyped-def]
    return caches["shared"]


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind `TRUSTED_PROXIES` reverse proxies the address
    the first trusted proxy saw (X-Forwarded-For read from the right). IPv6 addresses count per /64
    (one subscriber's whole prefix), so changing the last bits does not reset a limit."""
    address = request.META.get("REMOTE_ADDR", "") or ""
    hops = settings.TRUSTED_PROXIES
    if hops > 0:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(frozen=True)
class Use:
    count: int
    free: int
    max: int
    window: int

    @property
    def challenged(self) -> bool:
        return self.count > self.free


def use(scope: str, address: str) -> Use:
    """Count one use of `scope` by `address` in the current window (fixed windows, aligned to the
    epoch, so every worker agrees on the key)."""
    free, most, window = settings.PORTAL_LIMITS[scope]
    slot = int(time.time()) // window
    key = f"portal:{scope}:{address}:{slot}"
    cache = _cache()
    model = getattr(cache, "cache_model_class", None)  # the database cache: one commit, not two
    with transaction.atomic(using=router.db_for_write(model)) if model is not None else nullcontext():
        cache.add(key, 0, window + 60)
        try:
            count = int(cache.incr(key))
        except ValueError:  # expired between add and incr
            cache.set(key, 1, window + 60)
            count = 1
    return Use(count, free, most, window)


def would_challenge(scope: str, address: str) -> bool:
    """Whether the next use of `scope` by `address` will need the challenge (the form shows it)."""
    free, _most, window = settings.PORTAL_LIMITS[scope]
    slot = int(time.time()) // window
    return int(_cache().get(f"portal:{scope}:{address}:{slot}", 0)) >= free


def check(scope: str, address: str, *, challenge_id: str = "", answer: str = "") -> None:
    """Count this use; raise Limited past the maximum, ChallengeRequired past the free uses unless
    the right answer to an unused, unexpired challenge comes with it (each challenge answers once)."""
    u = use(scope, address)
    if u.count > u.max:
        raise Limited(retry_after=u.window - int(time.time()) % u.window)
    if not u.challenged:
        return
    if not challenge_id or not answer:
        raise ChallengeRequired(wrong=False)
    if not challenge_verify(challenge_id, answer):
        raise ChallengeRequired(wrong=True)


CHALLENGE_ID = re.compile(r"[A-Za-z0-9_-]{10,64}")  # what secrets.token_urlsafe gives, with room


def challenge_new() -> str:
    """A new challenge: its id; the answer stays in the shared cache (the picture is drawn from it)."""
    challenge_id = secrets.token_urlsafe(18)
    _cache().set(f"portal:challenge:{challenge_id}", answer_new(), CHALLENGE_SECONDS)
    return challenge_id


def challenge_answer(challenge_id: str) -> str | None:
    """The answer of a live challenge (to draw its picture), or None."""
    if not isinstance(challenge_id, str) or not CHALLENGE_ID.fullmatch(challenge_id):
        return None  # never issued (`challenge_new`): not looked up, so no odd key reaches the cache
    value = _cache().get(f"portal:challenge:{challenge_id}")
    return str(value) if value else None


def challenge_verify(challenge_id: str, answer: str) -> bool:
    """Whether `answer` answers the challenge; the challenge is used up either way (one guess)."""
    expected = challenge_answer(challenge_id)
    if expected is None:
        return False
    _cache().delete(f"portal:challenge:{challenge_id}")
    given = "".join(answer.split()).upper()[:ANSWER_LENGTH * 2]
    return secrets.compare_digest(given, expected)
