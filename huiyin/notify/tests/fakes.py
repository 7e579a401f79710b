"""Fake provider servers that check what the real ones check, written from the providers'
public documentation independently of our client code (e.g. Aliyun's encoding is derived
here the way its docs describe for Java: form-encode, then + → %20, * → %2A, %7E → ~)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from .servers import Handler, Request

# --- Aliyun SMS (dysmsapi, RPC signature v1) ---------------------------------------------------


def _aliyun_encode(value: str) -> str:
    return quote_plus(value, safe="").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def aliyun_sms(keys: dict[str, str]) -> tuple[Handler, list[dict[str, str]]]:
    """keys: AccessKeyId → AccessKeySecret. Returns the handler and the list of sent SMS."""
    sent: list[dict[str, str]] = []
    nonces: set[str] = set()
    lock = threading.Lock()

    def error(status: int, code: str, message: str) -> tuple[int, Any]:
        return status, {"RequestId": str(uuid.uuid4()), "Code": code, "Message": message,
                        "HostId": "dysmsapi.aliyuncs.com"}

    def handle(req: Request) -> tuple[int, Any]:
        params = req.form() if req.body else dict(req.query)
        signature = params.pop("Signature", "")
        for name in ("AccessKeyId", "Action", "Format", "SignatureMethod", "SignatureNonce",
                     "SignatureVersion", "Timestamp", "Version"):
            if not params.get(name):
                return error(400, f"MissingParameter.{name}", f"{name} is mandatory for this action.")
        if params["AccessKeyId"] not in keys:
            return error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            return error(400, "InvalidSignatureMethod", "Specified signature method is not supported.")
        try:
            ts = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return error(400, "InvalidTimeStamp.Format", "Specified time stamp is not valid.")
        if abs(time.time() - ts.timestamp()) > 900:
            return error(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        canonical = "&".join(f"{_aliyun_encode(k)}={_aliyun_encode(params[k])}" for k in sorted(params))
        string_to_sign = req.method + "&" + _aliyun_encode("/") + "&" + _aliyun_encode(canonical)
        secret = keys[params["AccessKeyId"]]
        expected = base64.b64encode(
            hmac.new((secret + "&").encode(), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
        ).decode()
        if not hmac.compare_digest(signature, expected):
            return error(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        with lock:
            if params["SignatureNonce"] in nonces:
                return error(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            nonces.add(params["SignatureNonce"])
        if params["Action"] != "SendSms" or params["Version"] != "2017-05-25":
            return error(400, "InvalidAction.NotFound", "Specified api is not found.")
        if not re.fullmatch(r"1\d{10}", params.get("PhoneNumbers", "")):
            return error(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if not params.get("SignName"):
            return error(200, "isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        if not re.fullmatch(r"SMS_\d+", params.get("TemplateCode", "")):
            return error(200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        try:
            tp = json.loads(params.get("TemplateParam", "{}"))
            assert isinstance(tp, dict) and all(isinstance(v, str) for v in tp.values())
        except (ValueError, AssertionError):
            return error(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        with lock:
            sent.append(params)
        return 200, {"Code": "OK", "Message": "OK", "BizId": f"{len(sent)}^0", "RequestId": str(uuid.uuid4())}

    return handle, sent


# --- Tencent Cloud SMS (SendSms 2021-01-11, TC3-HMAC-SHA256) -------------------------------------

_AUTH = re.compile(
    r"TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[a-z]+)/tc3_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})"
)


def tencent_sms(keys: dict[str, str], app_id: str) -> tuple[Handler, list[dict[str, Any]]]:
    """keys: SecretId → SecretKey. Errors come back as HTTP 200 with Response.Error, as the
    real API answers."""
    sent: list[dict[str, Any]] = []

    def error(code: str, message: str) -> tuple[int, Any]:
        return 200, {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}}

    def handle(req: Request) -> tuple[int, Any]:
        m = _AUTH.fullmatch(req.headers.get("authorization", ""))
        if m is None:
            return error("AuthFailure.InvalidAuthorization", "Authorization is invalid.")
        if m["id"] not in keys:
            return error("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
        try:
            ts = int(req.headers["x-tc-timestamp"])
        except (KeyError, ValueError):
            return error("MissingParameter", "X-TC-Timestamp is missing.")
        if abs(time.time() - ts) > 300:
            return error("AuthFailure.SignatureExpire", "Signature expired.")
        date = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
        signed = m["signed"].split(";")
        if m["date"] != date or m["service"] != "sms" or not {"content-type", "host"} <= set(signed):
            return error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
        canonical_headers = "".join(f"{h}:{req.headers.get(h, '').strip().lower()}\n" for h in signed)
        canonical_request = "\n".join([
            req.method, "/", "", canonical_headers, m["signed"], hashlib.sha256(req.body).hexdigest()
        ])
        string_to_sign = "\n".join([
            "TC3-HMAC-SHA256", str(ts), f"{date}/sms/tc3_request",
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ])

        def h(key: bytes, msg: str) -> bytes:
            return hmac.new(key, msg.encode(), hashlib.sha256).digest()

        k = h(h(h(("TC3" + keys[m["id"]]).encode(), date), "sms"), "tc3_request")
        expected = hmac.new(k, string_to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, m["sig"]):
            return error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
        if req.headers.get("x-tc-action") != "SendSms":
            return error("InvalidAction", "The action does not exist.")
        if req.headers.get("x-tc-version") != "2021-01-11":
            return error("NoSuchVersion", "The version does not exist.")
        body = json.loads(req.body)
        if body.get("SmsSdkAppId") != app_id:
            return error("FailedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId verify fail.")
        params = body.get("TemplateParamSet", [])
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            return error("InvalidParameterValue.TemplateParameterFormatError", "Template parameters must be strings.")
        statuses = []
        for phone in body.get("PhoneNumberSet", []):
            ok = re.fullmatch(r"\+861\d{10}", phone) is not None
            statuses.append({
                "SerialNo": str(uuid.uuid4()) if ok else "", "PhoneNumber": phone, "Fee": 1 if ok else 0,
                "SessionContext": body.get("SessionContext", ""),
                "Code": "Ok" if ok else "InvalidParameterValue.IncorrectPhoneNumber",
                "Message": "send success" if ok else "incorrect number", "IsoCode": "CN",
            })
            if ok:
                sent.append(body)
        return 200, {"Response": {"SendStatusSet": statuses, "RequestId": str(uuid.uuid4())}}

    return handle, sent


# --- Group robots ------------------------------------------------------------------------------


def dingtalk_robot(token: str, secret: str) -> tuple[Handler, list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    def handle(req: Request) -> tuple[int, Any]:
        if req.query.get("access_token") != token:
            return 200, {"errcode": 300001, "errmsg": "token is not exist"}
        ts, sign = req.query.get("timestamp", ""), req.query.get("sign", "")
        if not ts.isdigit() or abs(time.time() * 1000 - int(ts)) > 3600 * 1000:
            return 200, {"errcode": 310000, "errmsg": "sign not match, more: [timestamp expired]"}
        expected = base64.b64encode(
            hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
        ).decode()
        if sign != expected:  # parse_qs has already url-decoded it
            return 200, {"errcode": 310000, "errmsg": "sign not match"}
        data = req.json()
        kind = data.get("msgtype")
        if kind == "text" and isinstance(data.get("text", {}).get("content"), str) or kind == "markdown" and data.get("markdown", {}).get("title") and data["markdown"].get("text"):
            pass
        else:
            return 200, {"errcode": 40035, "errmsg": "缺少参数 json"}
        received.append(data)
        return 200, {"errcode": 0, "errmsg": "ok"}

    return handle, received


def feishu_robot(secret: str) -> tuple[Handler, list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    def handle(req: Request) -> tuple[int, Any]:
        data = req.json()
        ts = str(data.get("timestamp", ""))
        if not ts.isdigit() or abs(time.time() - int(ts)) > 3600:
            return 200, {"code": 19021, "data": {},
                         "msg": "sign match fail or timestamp is not within one hour from current time"}
        expected = base64.b64encode(hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()
        if data.get("sign") != expected:
            return 200, {"code": 19021, "data": {},
                         "msg": "sign match fail or timestamp is not within one hour from current time"}
        if data.get("msg_type") != "text" or not isinstance(data.get("content", {}).get("text"), str):
            return 400, {"code": 9499, "data": {}, "msg": "Bad Request"}
        received.append(data)
        return 200, {"code": 0, "data": {}, "msg": "success"}

    return handle, received


def wecom_robot(key: str) -> tuple[Handler, list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    def handle(req: Request) -> tuple[int, Any]:
        if req.path != "/cgi-bin/webhook/send" or req.query.get("key") != key:
            return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
        data = req.json()
        kind = data.get("msgtype")
        content = data.get(kind, {}).get("content") if kind in ("text", "markdown") else None
        if not isinstance(content, str) or len(content.encode()) > (2048 if kind == "text" else 4096):
            return 200, {"errcode": 40008, "errmsg": "invalid message type"}
        received.append(data)
        return 200, {"errcode": 0, "errmsg": "ok"}

    return handle, received


# --- A generic webhook receiver --------------------------------------------------------------


class WebhookReceiver:
    """Checks X-Huiyin-Signature like a careful receiver would, answers the next status of
    `script` (then 200), and records (delivery_id, event, status answered)."""

    def __init__(self, secret: str, script: list[int] | None = None, delay: float = 0.0):
        self.secret = secret
        self.script = list(script or [])
        self.delay = delay
        self.deliveries: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.lock = threading.Lock()

    def __call__(self, req: Request) -> tuple[int, Any]:
        if self.delay:
            time.sleep(self.delay)
        ts = req.headers.get("x-huiyin-timestamp", "")
        expected = hmac.new(self.secret.encode(), ts.encode() + b"." + req.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, req.headers.get("x-huiyin-signature", "")) or \
                abs(time.time() - int(ts or 0)) > 300:
            with self.lock:
                self.bad_signatures += 1
            return 401, {"error": "bad signature"}
        body = req.json()
        assert body["delivery_id"] == req.headers["x-huiyin-delivery"]
        assert body["event"] == req.headers["x-huiyin-event"]
        with self.lock:
            status = self.script.pop(0) if self.script else 200
            self.deliveries.append(body["delivery_id"])
            self.bodies.append(body)
        return status, {"ok": status < 300}
