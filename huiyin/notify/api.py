"""The caller's in-app inbox over the REST API, mounted at /api/v1/notifications.

GET  ""            → {"items": [{id, event, case_number, title, body, created_at, read}],
                      "unread": n, "next_cursor": id | null}   newest first;
                     `limit` (1–100, default 20) and `cursor` (the `next_cursor` of the
                     previous page) page through older items.
POST "/{id}/read"  → {"id", "read": true, "read_at"}; repeating it is a no-op; someone
                     else's item is a 404, exactly like a missing one.

The project's BearerAuth on the whole API puts the User in `request.auth`. The bodies are
described by the schemas below (published in /api/v1/openapi.json); errors are the API's own
`Error` shape, named here by its component (notify does not import the API).
"""

from __future__ import annotations

from typing import Annotated, Any

from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Router, Schema
from pydantic import ConfigDict, Field, WithJsonSchema

from huiyin.org.models import User

from . import models
from .scope import visible_numbers
from .selectors import unread_count
from .services import inbox_item_for, inbox_mark_read

router = Router(tags=["notifications"])

Timestamp = Annotated[
    str, WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-02-24T17:30:00+08:00"]})
]


class InboxItem(Schema):
    model_config = ConfigDict(extra="forbid")

    id: int
    event: str = Field(description="What happened, e.g. case.dispatched.")
    case_number: str
    title: str
    body: str
    created_at: Timestamp
    read: bool


class Inbox(Schema):
    """The caller's inbox, newest first."""

    model_config = ConfigDict(extra="forbid")

    items: list[InboxItem]
    unread: int = Field(description="Unread items in the whole inbox.")
    next_cursor: int | None = Field(description="Pass it as `cursor` for older items; null on the last page.")


class InboxRead(Schema):
    model_config = ConfigDict(extra="forbid")

    id: int
    read: bool
    read_at: Timestamp = Field(description="When it was first read.")


def _errors(*statuses: int) -> dict[str, Any]:
    """The error answers of an operation: the API's `Error` component."""
    ref = {"$ref": "#/components/schemas/Error"}
    return {"responses": {s: {"description": "Error", "content": {"application/json": {"schema": ref}}}
                          for s in statuses}}


def _iso(value: Any) -> str | None:
    return timezone.localtime(value).isoformat() if value is not None else None


def item_json(item: models.InboxItem) -> dict[str, Any]:
    return {
        "id": item.pk, "event": item.event, "case_number": item.case_number, "title": item.title,
        "body": item.body, "created_at": _iso(item.created_at), "read": item.read_at is not None,
    }


@router.get("", summary="The caller's in-app inbox (newest first)", response=Inbox,
            openapi_extra=_errors(401, 422))
def inbox(request: HttpRequest, limit: int = 20, cursor: int | None = None) -> dict[str, Any]:
    user: User = request.auth  # type: ignore[attr-defined]
    limit = max(1, min(limit, 100))
    rows = models.InboxItem.objects.filter(user=user).order_by("-id")
    if cursor is not None:
        if not 0 < cursor < 2**63:  # beyond a 64-bit id: nothing older, not a database error
            return {"items": [], "unread": unread_count(user), "next_cursor": None}
        rows = rows.filter(id__lt=cursor)
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    # a case that has moved out of the reader's units is not named any more (notify.scope)
    seen = visible_numbers(user, (i.case_number for i in page))
    return {
        "items": [item_json(i) for i in page if not i.case_number or i.case_number in seen],
        "unread": unread_count(user),
        "next_cursor": page[-1].pk if more and page else None,
    }


@router.post("/{item_id}/read", summary="Mark one inbox item read", response=InboxRead,
             openapi_extra=_errors(401, 404, 422))
def read(request: HttpRequest, item_id: int) -> dict[str, Any]:
    user: User = request.auth  # type: ignore[attr-defined]
    item = inbox_item_for(user, item_id)
    if item is None:
        raise Http404("No such notification")
    inbox_mark_read(item)
    return {"id": item.pk, "read": True, "read_at": _iso(item.read_at)}
