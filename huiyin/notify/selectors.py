"""Reads for other apps and pages: plain data, no model instances across app boundaries."""

from __future__ import annotations

from typing import TypedDict

from django.db.models import Count

from huiyin.org.models import User

from .models import InboxItem, Message, Status


class DeliveryRow(TypedDict):
    id: int
    delivery_id: str
    event: str
    transport: str
    recipient_id: int | None
    address: str
    status: str
    attempts: int
    created_at: str
    sent_at: str | None
    last_error: str


def delivery_status(case_number: str) -> list[DeliveryRow]:
    """Every outbox message of one case, oldest first — for the case's timeline.

    Addresses are shown masked for phones (138****8000) and e-mails (z***@example.com)."""
    from django.utils import timezone

    rows = Message.objects.filter(case_number=case_number).order_by("created_at", "id")
    return [
        DeliveryRow(
            id=m.pk, delivery_id=str(m.delivery_id), event=m.event, transport=m.transport,
            recipient_id=m.recipient_id, address=_mask(m.transport, m.address), status=m.status,
            attempts=m.attempts, created_at=timezone.localtime(m.created_at).isoformat(),
            sent_at=timezone.localtime(m.sent_at).isoformat() if m.sent_at else None,
            last_error=m.last_error[:300],
        )
        for m in rows
    ]


def _mask(transport: str, address: str) -> str:
    if transport == "sms" and len(address) >= 7:
        return address[:3] + "*" * (len(address) - 7) + address[-4:]
    if transport == "email" and "@" in address:
        name, domain = address.split("@", 1)
        return f"{name[:1]}***@{domain}"
    return address if transport != "webhook" else f"webhook#{address}"


def unread_count(user: User) -> int:
    return InboxItem.objects.filter(user=user, read_at=None).count()


def outbox_stats() -> dict[str, int]:
    """Messages per status, for the operators (`huiyin outbox stats`, health pages)."""
    counts = dict(Message.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    return {s.value: counts.get(s.value, 0) for s in Status}


def messages_existing(ids: list[int]) -> set[int]:
    """Which of `ids` are messages of the outbox (`huiyin outbox retry` tells the others apart)."""
    return set(Message.objects.filter(pk__in=ids).values_list("pk", flat=True))


__all__ = ["delivery_status", "messages_existing", "outbox_stats", "unread_count"]
