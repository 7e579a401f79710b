"""SMS gateways (Aliyun, Tencent Cloud) and group robots (DingTalk, Feishu, WeCom) against
local fake servers that recompute the signatures and check the JSON as the real ones do."""

from __future__ import annotations

import json
from typing import Any

import pytest

from huiyin.notify.delivery import deliver_batch
from huiyin.notify.models import Attempt, Message, Status, Template
from huiyin.notify.services import enqueue

from .conftest import People, configure
from .fakes import aliyun_sms, dingtalk_robot, feishu_robot, tencent_sms, wecom_robot
from .servers import LocalHTTPServer

CTX = {"subject": "配送延误", "deadline": "2月15日17:30"}


def breach(people: People, number: str = "HY20260213-000001") -> None:
    enqueue("case.breached", case_number=number, context=CTX,
            recipients=[people.alice.pk, people.bob.pk], dedupe=f"breach:{number}")


@pytest.fixture
def sms_only(people: People) -> People:
    configure("email", enabled=False)
    Template.objects.filter(event="case.breached", transport="sms").update(gateway_template_id="SMS_465780123")
    return people


# --- Aliyun -----------------------------------------------------------------------------------


def aliyun_options(url: str, secret: str = "aliyun-secret-0123") -> dict[str, Any]:
    return {"gateway": "aliyun", "endpoint": url + "/", "access_key_id": "LTAI5tExampleKeyId",
            "access_key_secret": secret, "sign_name": "回音科技", "template_params": ["case_number", "deadline"]}


def test_aliyun_sms_is_signed_and_accepted(sms_only: People) -> None:
    handler, sent = aliyun_sms({"LTAI5tExampleKeyId": "aliyun-secret-0123"})
    with LocalHTTPServer(handler) as server:
        configure("sms", **aliyun_options(server.url))
        breach(sms_only)
        deliver_batch("w1")
    msg = Message.objects.get(transport="sms")
    assert msg.status == Status.SENT, msg.last_error
    [params] = sent
    assert params["PhoneNumbers"] == "13800138000"
    assert params["SignName"] == "回音科技" and params["TemplateCode"] == "SMS_465780123"
    assert json.loads(params["TemplateParam"]) == {"case_number": "HY20260213-000001", "deadline": "2月15日17:30"}
    assert params["OutId"] == str(msg.delivery_id)


def test_aliyun_with_a_wrong_secret_fails_permanently(sms_only: People) -> None:
    handler, sent = aliyun_sms({"LTAI5tExampleKeyId": "aliyun-secret-0123"})
    with LocalHTTPServer(handler) as server:
        configure("sms", **aliyun_options(server.url, secret="a-wrong-secret"))
        breach(sms_only)
        deliver_batch("w1")
    msg = Message.objects.get(transport="sms")
    assert msg.status == Status.DEAD and msg.attempts == 1
    assert msg.last_error.startswith("Aliyun SMS SignatureDoesNotMatch")
    assert sent == []


def test_aliyun_throttling_is_retried(sms_only: People) -> None:
    def throttled(req: Any) -> tuple[int, Any]:
        return 200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发小时级流控Permits:5"}

    with LocalHTTPServer(throttled) as server:
        configure("sms", **aliyun_options(server.url))
        breach(sms_only)
        deliver_batch("w1")
    assert Message.objects.get(transport="sms").status == Status.FAILED


# --- Tencent Cloud ----------------------------------------------------------------------------


def tencent_options(url: str, key: str = "tencent-secret-key-0123") -> dict[str, Any]:
    return {"gateway": "tencent", "endpoint": url, "secret_id": "AKIDExampleSecretId", "secret_key": key,
            "sms_sdk_app_id": "1400787878", "sign_name": "回音科技", "region": "ap-guangzhou"}


def test_tencent_sms_is_signed_and_accepted(sms_only: People) -> None:
    handler, sent = tencent_sms({"AKIDExampleSecretId": "tencent-secret-key-0123"}, app_id="1400787878")
    with LocalHTTPServer(handler) as server:
        configure("sms", **tencent_options(server.url))
        breach(sms_only)
        deliver_batch("w1")
    msg = Message.objects.get(transport="sms")
    assert msg.status == Status.SENT, msg.last_error
    [body] = sent
    assert body["PhoneNumberSet"] == ["+8613800138000"]
    assert body["TemplateId"] == "SMS_465780123"
    assert body["TemplateParamSet"] == ["HY20260213-000001", "工单超期"]
    assert body["SessionContext"] == str(msg.delivery_id)


def test_tencent_with_a_wrong_key_fails_permanently(sms_only: People) -> None:
    handler, sent = tencent_sms({"AKIDExampleSecretId": "tencent-secret-key-0123"}, app_id="1400787878")
    with LocalHTTPServer(handler) as server:
        configure("sms", **tencent_options(server.url, key="wrong"))
        breach(sms_only)
        deliver_batch("w1")
    msg = Message.objects.get(transport="sms")
    assert msg.status == Status.DEAD
    assert msg.last_error.startswith("Tencent SMS AuthFailure.SignatureFailure")
    assert sent == []


def test_tencent_rate_limit_is_retried_and_a_bad_number_is_not(sms_only: People) -> None:
    from huiyin.org.models import User

    User.objects.filter(pk=sms_only.bob.pk).update(phone="12345")

    def answer(req: Any) -> tuple[int, Any]:
        phone = json.loads(req.body)["PhoneNumberSet"][0]
        code = "LimitExceeded.PhoneNumberThirtySecondLimit" if phone == "+8613800138000" else \
            "InvalidParameterValue.IncorrectPhoneNumber"
        return 200, {"Response": {"RequestId": "r", "SendStatusSet": [
            {"PhoneNumber": phone, "Code": code, "Message": "x", "SerialNo": "", "Fee": 0}]}}

    with LocalHTTPServer(answer) as server:
        configure("sms", **tencent_options(server.url))
        breach(sms_only)
        deliver_batch("w1")
    statuses = dict(Message.objects.filter(transport="sms").values_list("address", "status"))
    assert statuses == {"13800138000": Status.FAILED, "12345": Status.DEAD}


def test_a_cloud_gateway_without_a_template_id_says_so(people: People) -> None:
    configure("email", enabled=False)
    configure("sms", **tencent_options("http://127.0.0.1:9"))
    breach(people)
    deliver_batch("w1")
    msg = Message.objects.get(transport="sms")
    assert msg.status == Status.DEAD and "TemplateId" in msg.last_error


# --- Group robots -----------------------------------------------------------------------------


@pytest.fixture
def robots_only(people: People) -> People:
    configure("email", enabled=False)
    configure("sms", enabled=False)
    return people


def test_dingtalk_robot_signs_and_mentions_by_mobile(robots_only: People) -> None:
    handler, received = dingtalk_robot("token123", "SECabc123")
    with LocalHTTPServer(handler) as server:
        configure("dingtalk", url=f"{server.url}/robot/send?access_token=token123", secret="SECabc123")
        breach(robots_only)
        deliver_batch("w1")
    assert Message.objects.get().status == Status.SENT
    [data] = received
    assert data["msgtype"] == "text"
    assert data["at"] == {"atMobiles": ["13800138000"], "isAtAll": False}
    assert data["text"]["content"].startswith("【工单超期】工单 HY20260213-000001")
    assert data["text"]["content"].endswith("@13800138000")


def test_dingtalk_markdown(robots_only: People) -> None:
    handler, received = dingtalk_robot("token123", "SECabc123")
    with LocalHTTPServer(handler) as server:
        configure("dingtalk", url=f"{server.url}/robot/send?access_token=token123", secret="SECabc123",
                  msgtype="markdown")
        breach(robots_only)
        deliver_batch("w1")
    assert received[0]["markdown"]["title"] == "工单超期 HY20260213-000001"


def test_dingtalk_with_a_wrong_secret_fails_permanently(robots_only: People) -> None:
    handler, received = dingtalk_robot("token123", "SECabc123")
    with LocalHTTPServer(handler) as server:
        configure("dingtalk", url=f"{server.url}/robot/send?access_token=token123", secret="SECwrong")
        breach(robots_only)
        deliver_batch("w1")
    msg = Message.objects.get()
    assert msg.status == Status.DEAD and "errcode 310000" in msg.last_error
    assert received == []


def test_dingtalk_sending_too_fast_is_retried(robots_only: People) -> None:
    with LocalHTTPServer(lambda req: (200, {"errcode": 130101, "errmsg": "send too fast"})) as server:
        configure("dingtalk", url=f"{server.url}/robot/send?access_token=t")
        breach(robots_only)
        deliver_batch("w1")
    assert Message.objects.get().status == Status.FAILED


def test_feishu_robot_signs_its_body(robots_only: People) -> None:
    handler, received = feishu_robot("feishu-secret")
    with LocalHTTPServer(handler) as server:
        configure("feishu", url=f"{server.url}/open-apis/bot/v2/hook/abc", secret="feishu-secret")
        breach(robots_only)
        deliver_batch("w1")
    assert Message.objects.get().status == Status.SENT
    assert received[0]["content"]["text"].startswith("【工单超期】")


def test_feishu_with_a_wrong_secret_fails_permanently(robots_only: People) -> None:
    handler, _received = feishu_robot("feishu-secret")
    with LocalHTTPServer(handler) as server:
        configure("feishu", url=f"{server.url}/open-apis/bot/v2/hook/abc", secret="other")
        breach(robots_only)
        deliver_batch("w1")
    msg = Message.objects.get()
    assert msg.status == Status.DEAD and "code 19021" in msg.last_error
    assert Attempt.objects.get().permanent


def test_wecom_robot_text_mentions_and_markdown(robots_only: People) -> None:
    handler, received = wecom_robot("key-693a91f6")
    with LocalHTTPServer(handler) as server:
        configure("wecom", url=f"{server.url}/cgi-bin/webhook/send?key=key-693a91f6")
        breach(robots_only, "N1")
        deliver_batch("w1")
        configure("wecom", url=f"{server.url}/cgi-bin/webhook/send?key=key-693a91f6", msgtype="markdown")
        breach(robots_only, "N2")
        deliver_batch("w1")
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SENT}
    text, markdown = received
    assert text["msgtype"] == "text" and text["text"]["mentioned_mobile_list"] == ["13800138000"]
    assert markdown["msgtype"] == "markdown" and "N2" in markdown["markdown"]["content"]


def test_wecom_with_a_wrong_key_fails_permanently(robots_only: People) -> None:
    handler, _received = wecom_robot("key-693a91f6")
    with LocalHTTPServer(handler) as server:
        configure("wecom", url=f"{server.url}/cgi-bin/webhook/send?key=stale")
        breach(robots_only)
        deliver_batch("w1")
    msg = Message.objects.get()
    assert msg.status == Status.DEAD and "errcode 93000" in msg.last_error


def test_a_robot_http_503_is_retried(robots_only: People) -> None:
    with LocalHTTPServer(lambda req: (503, b"busy")) as server:
        configure("wecom", url=f"{server.url}/cgi-bin/webhook/send?key=k")
        breach(robots_only)
        deliver_batch("w1")
    assert Message.objects.get().status == Status.FAILED
