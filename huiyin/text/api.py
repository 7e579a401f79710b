"""Text assistance over the REST API, mounted at /api/v1/text:

GET /search?q=&limit=&cursor=   → ranked hits over the caller's cases: exact matches (number,
                                  phone, account) first, then by relevance, each with a snippet
                                  (HTML-escaped text, matched words in <mark>)
GET /suggest?subject=&description= → category, unit and severity suggestions with confidence (or
                                  why a target is off)
GET /similar?subject=&description=&phone=&account= → similar open cases the caller may see

The project's BearerAuth puts the User in `request.auth`. Errors are the API's `Error` component.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import ConfigDict, Field

from huiyin.org.models import User

from . import search, similar, suggest

router = Router(tags=["text"])


class Out(Schema):
    model_config = ConfigDict(extra="forbid")


class SearchHit(Out):
    number: str
    kind: str
    state: str
    subject: str
    unit: str | None
    received_at: str
    exact: bool = Field(description="An exact match of the case number, phone or account.")
    snippet: str = Field(description="The passage that matched: HTML-escaped text, the words in <mark>.")


class SearchPage(Out):
    items: list[SearchHit]
    next_cursor: int | None = Field(description="Pass it as `cursor` for the next page; null on the last.")


class Alternative(Out):
    code: str
    name: str
    confidence: float


class SuggestionOut(Out):
    target: str = Field(description="category, unit or severity")
    on: bool = Field(description="False when there is too little history (reason says why).")
    reason: str
    code: str
    name: str
    confidence: float = Field(description="How often a suggestion this confident was right on held-back cases.")
    alternatives: list[Alternative]
    model_version: int


class Suggestions(Out):
    items: list[SuggestionOut]
    millis: float


class SimilarCase(Out):
    number: str
    subject: str
    state: str
    received_at: str
    unit: str | None
    same_customer: bool
    score: float = Field(description="Text similarity (0–1); 1 for the same customer.")


class SimilarCases(Out):
    items: list[SimilarCase]
    threshold: float
    window_days: int


class SearchIn(Schema):
    q: str = Field(min_length=1, max_length=100, description="Words, a case number or a phone number.")
    limit: int = Field(default=20, ge=1, le=100)
    cursor: int | None = Field(default=None, ge=1, description="The next_cursor of the previous page.")


class TextIn(Schema):
    subject: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=20000)


class SimilarIn(TextIn):
    phone: str = Field(default="", max_length=32)
    account: str = Field(default="", max_length=100)


def _errors(*statuses: int) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Error"}
    return {"responses": {s: {"description": "Error", "content": {"application/json": {"schema": ref}}}
                          for s in statuses}}


def _iso(value: Any) -> str:
    return str(timezone.localtime(value).isoformat())


@router.get("/search", summary="Full-text search over the caller's cases (ranked, with snippets)",
            response=SearchPage, openapi_extra=_errors(401, 422))
def search_cases(request: HttpRequest, p: Query[SearchIn]) -> dict[str, Any]:
    user: User = request.auth  # type: ignore[attr-defined]
    hits, next_cursor = search.search(user, p.q, cursor=p.cursor, limit=p.limit)
    return {
        "items": [{"number": h.case.number, "kind": h.case.kind, "state": h.case.state, "subject": h.case.subject,
                   "unit": h.case.unit.code if h.case.unit_id and h.case.unit else None,
                   "received_at": _iso(h.case.received_at), "exact": h.exact, "snippet": str(h.snippet)}
                  for h in hits],
        "next_cursor": int(next_cursor) if next_cursor else None,
    }


@router.get("/suggest", summary="Category, unit and severity suggested from a text",
            response=Suggestions, openapi_extra=_errors(401, 422))
def suggest_labels(request: HttpRequest, p: Query[TextIn]) -> dict[str, Any]:
    rows, millis = suggest.timed_suggest(p.subject, p.description)
    return {"items": [{"target": s.target, "on": s.on, "reason": s.reason, "code": s.code, "name": s.name,
                       "confidence": s.confidence, "alternatives": s.alternatives, "model_version": s.version}
                      for s in rows], "millis": round(millis, 2)}


@router.get("/similar", summary="Open cases similar to a text, or of the same customer",
            response=SimilarCases, openapi_extra=_errors(401, 422))
def similar_cases(request: HttpRequest, p: Query[SimilarIn]) -> dict[str, Any]:
    user: User = request.auth  # type: ignore[attr-defined]
    found = similar.open_similar(user, subject=p.subject, description=p.description, phone=p.phone,
                                 account=p.account)
    return {"items": [{"number": s.case.number, "subject": s.case.subject, "state": s.case.state,
                       "received_at": _iso(s.case.received_at),
                       "unit": s.case.unit.code if s.case.unit_id and s.case.unit else None,
                       "same_customer": s.same_customer, "score": s.score} for s in found],
            "threshold": similar.THRESHOLD, "window_days": similar.WINDOW_DAYS}
