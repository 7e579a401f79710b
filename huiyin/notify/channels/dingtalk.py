"""DingTalk (钉钉) custom group robot: POST JSON to …/robot/send?access_token=….

With a signing secret ("加签", SEC…), the URL also carries `timestamp` (milliseconds) and
`sign` = urlencode(base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret))).
Success is errcode 0; "sending too fast" (130101, 410100) and a busy system (-1) are
retried, other errcodes (310000 sign or keyword check failed, 300001 bad token …) are
permanent. Recipients are mentioned by mobile number (`at.atMobiles`, and "@number" in
the text, which DingTalk needs to highlight the mention).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote_plus

from huiyin.notify.models import Message, Transport

from . import DeliveryError
from .http import check_status, post_json
from .robots import cut_bytes, mentions, options_for

RETRY_CODES = {-1, 130101, 410100}


def sign(secret: str, timestamp_ms: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(url: str, secret: str) -> str:
    if not secret:
        return url
    timestamp = str(int(time.time() * 1000))
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp}&sign={quote_plus(sign(secret, timestamp))}"


def payload_for(message: Message, msgtype: str) -> dict[str, object]:
    phones = mentions(message)
    tail = ("\n" + " ".join(f"@{p}" for p in phones)) if phones else ""
    at = {"atMobiles": phones, "isAtAll": False}
    if msgtype == "markdown":
        return {"msgtype": "markdown", "at": at,
                "markdown": {"title": message.subject or message.case_number,
                             "text": cut_bytes(message.body, 18000) + tail}}
    return {"msgtype": "text", "at": at, "text": {"content": cut_bytes(message.body, 18000) + tail}}


def send(message: Message) -> None:
    options = options_for(Transport.DINGTALK)
    url = signed_url(options["url"], options.get("secret", ""))
    resp = post_json(url, payload_for(message, options.get("msgtype", "text")))
    check_status(resp, "DingTalk robot")
    data = resp.json()
    if not isinstance(data, dict) or "errcode" not in data:
        raise DeliveryError(f"DingTalk robot: unexpected answer {resp.snippet()}")
    code = data["errcode"]
    if code != 0:
        raise DeliveryError(f"DingTalk robot errcode {code}",  # the code only: no text of the answer
                            permanent=code not in RETRY_CODES)
