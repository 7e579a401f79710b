"""The caller's in-app inbox over the REST API, mounted at /api/v1/notifications.

GET  ""            → {"items": [{id, event, case_number, title, body, created_at, read}],
                      "unread": n, "next_cursor": id | null}   newest first;
                     `limit` (1–100, default 20) and `cursor` (the `next_cursor` of the
                     previous page) page through older items.
POST "/{id}/read"  → {"id", "read": true, "read_at"}; repeating it is a no-op; someone
                     else's item is a 404, exactly like a missing one.

The project's BearerAuth on the whole API puts the User in `request.auth`.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Router

from huiyin.org.models import User

from .models import InboxItem
from .selectors import unread_count
from .services import inbox_item_for, inbox_mark_read

router = Router(tags=["notifications"])


def _iso(value: Any) -> str | None:
    return timezone.localtime(value).isoformat() if value is not None else None


def item_json(item: InboxItem) -> dict[str, Any]:
    return {
        "id": item.pk, "event": item.event, "case_number": item.case_number, "title": item.title,
        "body": item.body, "created_at": _iso(item.created_at), "read": item.read_at is not None,
    }


@router.get("", summary="The caller's in-app inbox (newest first)")
def inbox(request: HttpRequest, limit: int = 20, cursor: int | None = None) -> dict[str, Any]:
    user: User = request.auth  # type: ignore[attr-defined]
    limit = max(1, min(limit, 100))
    rows = InboxItem.objects.filter(user=user).order_by("-id")
    if cursor is not None:
        rows = rows.filter(id__lt=cursor)
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "items": [item_json(i) for i in page],
        "unread": unread_count(user),
        "next_cursor": page[-1].pk if more and page else None,
    }


@router.post("/{item_id}/read", summary="Mark one inbox item read")
def read(request: HttpRequest, item_id: int) -> dict[str, Any]:
    user: User = request.auth  # type: ignore[attr-defined]
    item = inbox_item_for(user, item_id)
    if item is None:
        raise Http404("No such notification")
    inbox_mark_read(item)
    return {"id": item.pk, "read": True, "read_at": _iso(item.read_at)}
