"""Phone numbers as Huiyin checks, stores and compares them."""

from __future__ import annotations

import phonenumbers
from django.utils.translation import gettext_lazy

SEPARATORS = " -()（）.\u3000"
# The API's message (English, a contract) and the pages' (in the reader's language).
PHONE_HINT = "a Chinese mobile or landline number with its area code, e.g. 13800138000 or 0871-12345678"
PHONE_HELP = gettext_lazy(
    "enter a mobile number (e.g. 13800138000) or a landline number with its area code "
    "(e.g. 0871-12345678); +86, spaces and dashes are fine"
)


def normalise_phone(phone: str) -> str:
    """Digits only, without the +86/0086 country prefix, as phones are stored and compared."""
    digits = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    return digits


def is_chinese_phone(phone: str) -> bool:
    """A valid mobile or landline number of mainland China (area code included for a landline),
    written with or without +86/0086, spaces, dashes or brackets."""
    if any(not (ch.isdigit() or ch == "+" or ch in SEPARATORS) for ch in phone) or "+" in phone.lstrip()[1:]:
        return False
    digits = normalise_phone(phone)
    if not 7 <= len(digits) <= 13:
        return False
    try:
        number = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException:
        return False
    return bool(number.country_code == 86 and phonenumbers.is_valid_number(number))


def check_phone(value: str) -> str:
    """Validator for the phone fields of the API and the pages: empty, or a Chinese number."""
    if value and not is_chinese_phone(value):
        raise ValueError(f"not {PHONE_HINT}")
    return value
