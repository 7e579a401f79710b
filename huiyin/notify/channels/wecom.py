"""WeCom (企业微信) group robot: POST JSON to the robot's webhook URL (…/webhook/send?key=…).

Success is errcode 0. Rate limiting (45009) and a busy system (-1) are retried; any other
errcode (93000 invalid key, 40008 bad message …) is permanent. Text mentions the
recipients by mobile number (`mentioned_mobile_list`); markdown cannot mention by number.
"""

from __future__ import annotations

from huiyin.notify.models import Message, Transport

from . import DeliveryError
from .http import check_status, post_json
from .robots import cut_bytes, mentions, options_for

RETRY_CODES = {-1, 45009}


def payload_for(message: Message, msgtype: str) -> dict[str, object]:
    if msgtype == "markdown":
        return {"msgtype": "markdown", "markdown": {"content": cut_bytes(message.body, 4096)}}
    text: dict[str, object] = {"content": cut_bytes(message.body, 2048)}
    if mentions(message):
        text["mentioned_mobile_list"] = mentions(message)
    return {"msgtype": "text", "text": text}


def send(message: Message) -> None:
    options = options_for(Transport.WECOM)
    resp = post_json(options["url"], payload_for(message, options.get("msgtype", "text")))
    check_status(resp, "WeCom robot")
    data = resp.json()
    if not isinstance(data, dict) or "errcode" not in data:
        raise DeliveryError(f"WeCom robot: unexpected answer {resp.snippet()}")
    code = data["errcode"]
    if code != 0:
        raise DeliveryError(f"WeCom robot errcode {code}",  # the code only: no text of the answer
                            permanent=code not in RETRY_CODES)
