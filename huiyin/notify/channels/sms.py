"""SMS through a gateway: a file (the default), Aliyun SMS or Tencent Cloud SMS.

Chinese SMS gateways only send texts from templates approved in advance: the gateways
receive a template id (per event from `Template.gateway_template_id`, else the configured
default `template_id`) and the template's parameters, taken from the event's context by
name (`template_params`, default case_number and event_label). The rendered text is kept
on the message for the file gateway and for the administrators.

Both cloud gateways carry the delivery id (Aliyun `OutId`, Tencent `SessionContext`), so
their delivery receipts can be matched to our messages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.utils import timezone

from huiyin.notify.models import Message, Transport, TransportConfig

from . import DeliveryError
from .http import check_status, post

DEFAULT_PARAMS = ["case_number", "event_label"]


class SmsGateway(Protocol):
    def send(self, *, phone: str, text: str, template_id: str, params: dict[str, str], delivery_id: str) -> None:
        """Send one SMS or raise DeliveryError."""


def gateway_for(options: dict[str, Any]) -> SmsGateway:
    kind = options.get("gateway", "file")
    if kind == "file":
        return FileGateway(options)
    if kind == "aliyun":
        return AliyunGateway(options)
    if kind == "tencent":
        return TencentGateway(options)
    raise DeliveryError(f"unknown SMS gateway {kind!r}", permanent=True)


def send(message: Message) -> None:
    _enabled, options = TransportConfig.lookup(Transport.SMS)
    payload = message.payload or {}
    context = payload.get("context", {})
    names = options.get("template_params") or DEFAULT_PARAMS
    params = {name: str(context.get(name, "")) for name in names}
    template_id = payload.get("sms_template") or options.get("template_id", "")
    gateway_for(options).send(
        phone=message.address, text=message.body, template_id=template_id, params=params,
        delivery_id=str(message.delivery_id),
    )


def _require(options: dict[str, Any], *names: str) -> None:
    missing = [n for n in names if not options.get(n)]
    if missing:
        raise DeliveryError(f"SMS gateway not configured: missing {', '.join(missing)}", permanent=True)


# --- file -----------------------------------------------------------------------------------


def inside_var_dir(path: Path) -> bool:
    """Where the admin may point the file gateway (TransportConfig.clean): the data directory."""
    var = Path(settings.VAR_DIR).resolve()
    return path.resolve() == var or var in path.resolve().parents


class FileGateway:
    """Appends one JSON line per SMS to a file (development, demos, and as the default)."""

    def __init__(self, options: dict[str, Any]):
        self.path = Path(options.get("path") or Path(settings.VAR_DIR) / "sms" / "outbox.log")

    def send(self, *, phone: str, text: str, template_id: str, params: dict[str, str], delivery_id: str) -> None:
        line = json.dumps({
            "time": timezone.localtime().isoformat(timespec="seconds"),
            "delivery_id": delivery_id, "phone": phone, "text": text,
            "template_id": template_id, "params": params,
        }, ensure_ascii=False) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line.encode("utf-8"))  # one write per line: lines never interleave
            finally:
                os.close(fd)
        except OSError as exc:
            raise DeliveryError(f"cannot write {self.path}: {exc}") from None


# --- Aliyun (dysmsapi 2017-05-25, RPC style, signature v1 HMAC-SHA1) -------------------------

ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
# Codes worth retrying: throttling and the server's own failures. Anything else non-OK
# (wrong signature or key, bad number, template or sign not approved …) is permanent.
ALIYUN_RETRY = {
    "isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR", "isp.GATEWAY_ERROR", "isp.UNKNOWN",
    "Throttling", "Throttling.User", "Throttling.Api", "Throttling.Api.Sms", "ServiceUnavailable",
    "InternalError", "SignatureNonceUsed", "isv.DAY_LIMIT_CONTROL",
}


def aliyun_percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun's POP signature wants it: A–Z a–z 0–9 - _ . ~ are kept,
    everything else (space included, as %20) becomes %XY of its UTF-8 bytes."""
    return quote(value, safe="~")


def aliyun_signature(secret: str, method: str, params: dict[str, str]) -> str:
    canonical = "&".join(
        f"{aliyun_percent_encode(k)}={aliyun_percent_encode(v)}" for k, v in sorted(params.items())
    )
    string_to_sign = f"{method}&{aliyun_percent_encode('/')}&{aliyun_percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


class AliyunGateway:
    def __init__(self, options: dict[str, Any]):
        _require(options, "access_key_id", "access_key_secret", "sign_name")
        self.options = options
        self.endpoint = options.get("endpoint") or ALIYUN_ENDPOINT

    def send(self, *, phone: str, text: str, template_id: str, params: dict[str, str], delivery_id: str) -> None:
        if not template_id:
            raise DeliveryError("no Aliyun TemplateCode configured for this event", permanent=True)
        o = self.options
        number = phone.removeprefix("+86") if phone.startswith("+86") else phone
        query = {
            "AccessKeyId": o["access_key_id"],
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": o.get("region") or "cn-hangzhou",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
            "PhoneNumbers": number,
            "SignName": o["sign_name"],
            "TemplateCode": template_id,
            "TemplateParam": json.dumps(params, ensure_ascii=False, separators=(",", ":")),
            "OutId": delivery_id,
        }
        query["Signature"] = aliyun_signature(o["access_key_secret"], "POST", query)
        body = "&".join(f"{aliyun_percent_encode(k)}={aliyun_percent_encode(v)}" for k, v in query.items())
        resp = post(self.endpoint, body.encode("ascii"),
                    {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                     "Accept": "application/json"})
        data = resp.json()
        code = data.get("Code", "") if isinstance(data, dict) else ""
        if resp.status == 200 and code == "OK":
            return
        if not code:
            check_status(resp, "Aliyun SMS")
            raise DeliveryError(f"Aliyun SMS: unexpected answer {resp.snippet()}")
        permanent = code not in ALIYUN_RETRY and resp.status < 500
        raise DeliveryError(f"Aliyun SMS {str(code)[:100]}", permanent=permanent)  # the code only


# --- Tencent Cloud (SendSms 2021-01-11, signature v3 TC3-HMAC-SHA256) ------------------------

TENCENT_ENDPOINT = "https://sms.tencentcloudapi.com"


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def tencent_authorization(*, secret_id: str, secret_key: str, service: str, host: str,
                          headers: dict[str, str], signed: list[str], body: bytes, timestamp: int) -> str:
    """The Authorization header of Tencent Cloud API signature v3 for a POST to "/"."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    lower = {k.lower(): v for k, v in headers.items()}
    lower["host"] = host
    # Names and values in lower case, trimmed ("x-tc-action:sendsms").
    canonical_headers = "".join(f"{name}:{lower[name].strip().lower()}\n" for name in signed)
    signed_headers = ";".join(signed)
    canonical_request = "\n".join(["POST", "/", "", canonical_headers, signed_headers, _sha256_hex(body)])
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope,
                                _sha256_hex(canonical_request.encode("utf-8"))])
    secret_date = _hmac(f"TC3{secret_key}".encode(), date)
    secret_service = _hmac(secret_date, service)
    secret_signing = _hmac(secret_service, "tc3_request")
    signature = hmac.new(secret_signing, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return (f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}")


def _e164(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    if phone.startswith("+"):
        return "+" + digits
    if len(digits) == 11 and digits.startswith("1"):
        return "+86" + digits
    return "+" + digits


def _tencent_retryable(code: str) -> bool:
    """Throttling and the server's own failures; wrong keys, numbers or templates are final."""
    return code.startswith(("RequestLimitExceeded", "InternalError")) or code in (
        "LimitExceeded.PhoneNumberThirtySecondLimit", "LimitExceeded.PhoneNumberOneHourLimit",
        "LimitExceeded.DeliveryFrequencyLimit",
    )


class TencentGateway:
    def __init__(self, options: dict[str, Any]):
        _require(options, "secret_id", "secret_key", "sms_sdk_app_id", "sign_name")
        self.options = options
        self.endpoint = options.get("endpoint") or TENCENT_ENDPOINT

    def send(self, *, phone: str, text: str, template_id: str, params: dict[str, str], delivery_id: str) -> None:
        if not template_id:
            raise DeliveryError("no Tencent TemplateId configured for this event", permanent=True)
        o = self.options
        body = json.dumps({
            "PhoneNumberSet": [_e164(phone)],
            "SmsSdkAppId": o["sms_sdk_app_id"],
            "SignName": o["sign_name"],
            "TemplateId": template_id,
            "TemplateParamSet": list(params.values()),
            "SessionContext": delivery_id,
        }, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = int(time.time())
        host = urlsplit(self.endpoint).netloc
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-TC-Action": "SendSms",
            "X-TC-Version": "2021-01-11",
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": o.get("region") or "ap-guangzhou",
        }
        headers["Authorization"] = tencent_authorization(
            secret_id=o["secret_id"], secret_key=o["secret_key"], service="sms", host=host,
            headers=headers, signed=["content-type", "host", "x-tc-action"], body=body, timestamp=timestamp,
        )
        resp = post(self.endpoint, body, headers)
        check_status(resp, "Tencent SMS")
        data = resp.json()
        response = data.get("Response") if isinstance(data, dict) else None
        if not isinstance(response, dict):
            raise DeliveryError(f"Tencent SMS: unexpected answer {resp.snippet()}")
        error = response.get("Error")
        if error:
            code = str(error.get("Code", ""))
            raise DeliveryError(f"Tencent SMS {code}",  # the code only: no text of the answer
                                permanent=not _tencent_retryable(code))
        statuses = response.get("SendStatusSet") or []
        if not statuses:
            raise DeliveryError(f"Tencent SMS: no send status in {resp.snippet()}")
        status = statuses[0]
        code = str(status.get("Code", ""))
        if code != "Ok":
            raise DeliveryError(f"Tencent SMS {code}",  # the code only: no text of the answer
                                permanent=not _tencent_retryable(code))
