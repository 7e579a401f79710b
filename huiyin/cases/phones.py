"""Phone numbers as Huiyin stores and compares them."""

from __future__ import annotations


def normalise_phone(phone: str) -> str:
    """Digits only, without the +86/0086 country prefix, as phones are stored and compared."""
    digits = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    return digits
