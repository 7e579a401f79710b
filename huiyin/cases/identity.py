"""Complainants' identities at rest: which fields are sealed, which have a keyed hash for exact
search, and how a value is normalised before it is hashed (DESIGN §8, issue 11).

The name, phone, e-mail, address, account, ID number and the representatives of every case are
sealed (org.fields); the name, phone, e-mail, account and ID number each have a keyed-hash column
(`<field>_hash`), indexed, that answers an exact match — the search box, the intake lookup, repeat
detection, the policy's "same customer" counts, data-subject requests. Who may search them is
decided in cases.access (`identity_scope`); this module only knows how.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Q

from huiyin.org import crypto

from .phones import normalise_phone


def normalise_name(value: str) -> str:
    """Without any whitespace ("王 五" is "王五"), case folded."""
    return "".join(value.split()).casefold()


def normalise_plain(value: str) -> str:
    return value.strip()


def normalise_id(value: str) -> str:
    return "".join(value.split()).upper()


def normalise_email(value: str) -> str:
    return value.strip().lower()


# sealed field → its normaliser, for the fields that have a keyed-hash column `<field>_hash`
HASHED: dict[str, Callable[[str], str]] = {
    "complainant_name": normalise_name,
    "complainant_phone": normalise_phone,
    "complainant_email": normalise_email,
    "complainant_account": normalise_plain,
    "complainant_id_number": normalise_id,
}
SEALED = (*HASHED, "complainant_address", "representatives")


def hash_column(field: str) -> str:
    return f"{field}_hash"


def purpose(field: str) -> str:
    return f"search:{field}"


def stored_hash(field: str, value: str) -> str:
    """The hash of a value under the newest key, '' for no value (a case stores `column_hash`)."""
    return crypto.blind(HASHED[field](value or ""), purpose=purpose(field))


def column_hash(field: str, value: str) -> str | None:
    """What a case stores in `<field>_hash`: the hash of `value`, or NULL (None) for no value. An
    empty field has no entry in the column's partial index (`… WHERE <field>_hash IS NOT NULL`),
    so an intake without an e-mail, account or ID number writes three index entries fewer; every
    search is for a non-empty hash, which implies the index's condition on both databases."""
    return stored_hash(field, value) or None


def search_hashes(field: str, value: str) -> list[str]:
    """The hashes under which `field` may be stored as `value` (one per listed key); none for an
    empty value."""
    return crypto.blind_all(HASHED[field](value or ""), purpose=purpose(field))


def matches(field: str, value: str) -> Q:
    """Rows whose `field` equals `value` (after normalisation), under any listed key; nothing for
    an empty value."""
    return matches_hashes(field, search_hashes(field, value))


def matches_hashes(field: str, found: list[str]) -> Q:
    """Rows whose `field` is stored under one of the hashes `found` (`search_hashes`); nothing for none."""
    if not found:
        return Q(pk__in=[])
    return Q(**{f"{hash_column(field)}__in": found})
