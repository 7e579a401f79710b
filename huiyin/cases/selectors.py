"""Read-side helpers over cases shared by the API and the pages."""

from __future__ import annotations

import re

from django.db.models import Q

from .services import normalise_phone

CASE_NUMBER = re.compile(r"^[A-Za-z]{2}\d{8}-\d{6}$")
PHONE_LIKE = re.compile(r"^[0-9+\-() ]{5,20}$")


def text_query(text: str) -> Q:
    """The search box, by the shape of what was typed, so each form is one indexed lookup:
    a case number exactly; a phone number (normalised as stored) or an account; else words in
    the subject (a trigram index serves it on PostgreSQL)."""
    q = text.strip()
    if CASE_NUMBER.match(q):
        return Q(number=q.upper())
    if PHONE_LIKE.match(q) and sum(ch.isdigit() for ch in q) >= 5:
        return Q(complainant_phone=normalise_phone(q)) | Q(complainant_account=q)
    return Q(subject__icontains=q)
