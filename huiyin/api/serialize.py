"""JSON shapes of the API. Times are ISO 8601 in Beijing time (+08:00).

What a reader may see of a case is decided in `cases.selectors` / `cases.access` (the same for
the pages); this module only shapes the API's own objects."""

from __future__ import annotations

from typing import Any

from huiyin.cases.models import Attachment, Event
from huiyin.cases.selectors import iso


def event_json(e: Event) -> dict[str, Any]:
    return {
        "id": e.pk,
        "action": e.action,
        "actor": e.actor.username if e.actor_id and e.actor else None,
        "at": iso(e.at),
        "from_state": e.from_state or None,
        "to_state": e.to_state or None,
        "changes": e.changes,
        "comment": e.comment,
        "source": e.source,
    }


def attachment_json(a: Attachment) -> dict[str, Any]:
    return {
        "token": a.token,
        "name": a.name,
        "content_type": a.content_type,
        "size": a.size,
        "sha256": a.sha256,
        "uploaded_by": a.uploaded_by.username,
        "uploaded_at": iso(a.uploaded_at),
    }
