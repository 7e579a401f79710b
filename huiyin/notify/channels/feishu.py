"""Feishu (飞书) custom group robot: POST JSON to …/open-apis/bot/v2/hook/….

With signature verification on, the body carries `timestamp` (seconds, as a string) and
`sign` = base64(HMAC-SHA256(key=timestamp + "\\n" + secret, msg="")) — note that, unlike
DingTalk, the string is the key and the message is empty. Success is code 0 (older
deployments answer StatusCode 0); rate limiting (11232) is retried, other codes (19021
sign mismatch or stale timestamp, 19024 keyword check, 9499 bad request …) are permanent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from huiyin.notify.models import Message, Transport

from . import DeliveryError
from .http import check_status, post_json
from .robots import cut_bytes, options_for

RETRY_CODES = {11232}


def sign(secret: str, timestamp: str) -> str:
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def payload_for(message: Message, secret: str) -> dict[str, object]:
    data: dict[str, object] = {"msg_type": "text", "content": {"text": cut_bytes(message.body, 18000)}}
    if secret:
        timestamp = str(int(time.time()))
        data = {"timestamp": timestamp, "sign": sign(secret, timestamp), **data}
    return data


def send(message: Message) -> None:
    options = options_for(Transport.FEISHU)
    resp = post_json(options["url"], payload_for(message, options.get("secret", "")))
    data = resp.json()
    if isinstance(data, dict) and ("code" in data or "StatusCode" in data):
        code = data.get("code", data.get("StatusCode"))
        if code == 0 and 200 <= resp.status < 300:
            return
        if code != 0:
            retry = code in RETRY_CODES or resp.status >= 500 or resp.status == 429
            raise DeliveryError(f"Feishu robot code {code}", permanent=not retry)  # the code only
    check_status(resp, "Feishu robot")
    raise DeliveryError(f"Feishu robot: unexpected answer {resp.snippet()}")
