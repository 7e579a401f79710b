"""Query codes (查询码): 24 characters from 32 unambiguous symbols — 120 bits from `secrets` —
shown once on the receipt, stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed from a phone
LENGTH = 24  # 24 × 5 bits = 120 bits (≥ 112)
BITS = LENGTH * 5
_NOT_CODE = re.compile(r"[^0-9A-Z]")


def code_new() -> str:
    """A new query code, grouped by four for reading: `7KQ2-M9XD-…`."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, LENGTH, 4))


def normalise(code: str) -> str:
    """What the complainant typed, as stored: upper case, without spaces or dashes. Anything that
    cannot be a code becomes "" (it matches nothing)."""
    if not isinstance(code, str) or len(code) > 64:
        return ""
    plain = _NOT_CODE.sub("", code.upper())
    return plain if len(plain) == LENGTH and all(c in ALPHABET for c in plain) else ""


def code_hash(code: str) -> str:
    return hashlib.sha256(b"huiyin-portal-query-code:" + normalise(code).encode()).hexdigest()


# The hash compared against when a case has no code (or does not exist): the same work either way.
_NOTHING = hashlib.sha256(b"huiyin-portal-query-code:-").hexdigest()


def matches(code: str, stored: str | None) -> bool:
    """Whether `code` is the one whose hash is `stored`, in constant time (a missing case costs
    the same as a wrong code)."""
    given = code_hash(code) if normalise(code) else _NOTHING
    return hmac.compare_digest(given, stored or _NOTHING) and stored is not None and bool(normalise(code))
