"""What the three group robots share: their configuration and text limits."""

from __future__ import annotations

from typing import Any

from huiyin.notify.models import Message, TransportConfig

from . import DeliveryError


def options_for(transport: str) -> dict[str, Any]:
    _enabled, options = TransportConfig.lookup(transport)
    if not options.get("url"):
        raise DeliveryError(f"{transport} robot has no webhook url configured", permanent=True)
    return options


def mentions(message: Message) -> list[str]:
    return [m for m in (message.payload or {}).get("mentions", []) if m]


def cut_bytes(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` UTF-8 bytes without splitting a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "…"
