"""Generic signed webhooks to other systems.

Each delivery is an HTTP POST of JSON:

    {"delivery_id": "<uuid>", "event": "case.dispatched", "case_number": "…",
     "time": "2026-02-13T09:00:00+08:00", "data": {…the event's context…}}

with the headers

    X-Huiyin-Delivery:  the delivery id (the same on every retry of this delivery)
    X-Huiyin-Event:     the event name
    X-Huiyin-Timestamp: unix seconds at the moment of sending
    X-Huiyin-Signature: lowercase hex HMAC-SHA256, keyed with the webhook's secret, of
                        the timestamp, a ".", and the exact request body bytes

A receiver checks the signature with a constant-time comparison, refuses timestamps more
than a few minutes old, and drops delivery ids it has already processed. "time" is when
the event happened; it does not change between retries.

2xx is delivered. 408, 429 and 5xx, timeouts and connection errors are retried later with
the same delivery id; any other status is permanent (the message goes dead).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from huiyin.notify.models import Message, Webhook

from . import DeliveryError
from .http import post


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def body_for(message: Message) -> bytes:
    data = {
        "delivery_id": str(message.delivery_id),
        "event": message.event,
        "case_number": message.case_number,
        "time": timezone.localtime(message.created_at).isoformat(),
        "data": (message.payload or {}).get("context", {}),
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), cls=DjangoJSONEncoder).encode("utf-8")


def send(message: Message) -> None:
    hook = Webhook.objects.filter(pk=int(message.address or 0)).first()
    if hook is None:
        raise DeliveryError("webhook removed", permanent=True)
    if not hook.active:
        raise DeliveryError("webhook deactivated", permanent=True)
    body = body_for(message)
    timestamp = str(int(time.time()))
    resp = post(hook.url, body, {
        "Content-Type": "application/json; charset=utf-8",
        "X-Huiyin-Delivery": str(message.delivery_id),
        "X-Huiyin-Event": message.event,
        "X-Huiyin-Timestamp": timestamp,
        "X-Huiyin-Signature": signature(hook.secret, timestamp, body),
    })
    if 200 <= resp.status < 300:
        return
    permanent = not (resp.status >= 500 or resp.status in (408, 429))
    raise DeliveryError(f"HTTP {resp.status}: {resp.snippet()}", permanent=permanent)
