"""Knowledge over the REST API, mounted at /api/v1/knowledge:

GET /articles?q=                 → the articles in force matching q (the Chinese search), best first
GET /replies?case=&purpose=      → standard replies and service phrases filled from the case
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest
from ninja import Query, Router, Schema
from pydantic import ConfigDict, Field

from huiyin.cases.access import case_for
from huiyin.org.models import User

from . import services
from .models import Purpose

router = Router(tags=["knowledge"])


class Out(Schema):
    model_config = ConfigDict(extra="forbid")


class ArticleOut(Out):
    id: int
    title: str
    issuing_body: str
    effective_from: str | None
    expires_on: str | None
    snippet: str = Field(description="HTML-escaped passage, the matched words in <mark>.")


class Articles(Out):
    items: list[ArticleOut]


class ReplyOut(Out):
    id: int
    name: str
    purpose: str
    text: str = Field(description="The template with the case's fields filled in.")


class Replies(Out):
    items: list[ReplyOut]


class ArticlesIn(Schema):
    q: str = Field(min_length=1, max_length=200)


class RepliesIn(Schema):
    case: str = Field(min_length=1, max_length=20, description="The case number.")
    purpose: Purpose = Purpose.REPLY


def _errors(*statuses: int) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Error"}
    return {"responses": {s: {"description": "Error", "content": {"application/json": {"schema": ref}}}
                          for s in statuses}}


@router.get("/articles", summary="Knowledge articles in force matching a text", response=Articles,
            openapi_extra=_errors(401, 422))
def articles(request: HttpRequest, p: Query[ArticlesIn]) -> dict[str, Any]:
    q = p.q
    return {"items": [{"id": h.article.pk, "title": h.article.title, "issuing_body": h.article.issuing_body,
                       "effective_from": h.article.effective_from.isoformat() if h.article.effective_from else None,
                       "expires_on": h.article.expires_on.isoformat() if h.article.expires_on else None,
                       "snippet": str(h.snippet)} for h in services.search(q, limit=20)]}


@router.get("/replies", summary="Standard replies filled from a case", response=Replies,
            openapi_extra=_errors(401, 404, 422))
def replies(request: HttpRequest, p: Query[RepliesIn]) -> dict[str, Any]:
    user: User = request.auth  # type: ignore[attr-defined]
    found = case_for(user, p.case)
    purpose = p.purpose
    if found is None:
        raise Http404("No such case")
    return {"items": services.replies(user, found, purpose)}
