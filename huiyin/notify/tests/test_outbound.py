"""Webhooks, robots and gateways cannot be pointed inside (issue 11 item 8): only public addresses
unless HUIYIN_OUTBOUND_ALLOW names the exception, checked when saved and again after DNS resolution
at every delivery, and no answer's body is ever shown back.

The addresses below that are not loopback appear only as input that must be refused: nothing is
ever delivered to them (deliveries go to loopback listeners only)."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client, override_settings

from huiyin.notify import outbound
from huiyin.notify.delivery import deliver_batch
from huiyin.notify.models import Attempt, Message, Status, TransportConfig, Webhook
from huiyin.notify.services import NotifyError, enqueue, webhook_add

from .conftest import configure
from .servers import LocalHTTPServer

pytestmark = pytest.mark.django_db

INSIDE = [
    "http://127.0.0.1:8080/x", "http://localhost/x", "http://LOCALHOST./x", "http://foo.localhost/x",
    "http://10.0.0.5/x", "http://172.16.3.4/x", "http://192.168.1.1/x", "http://169.254.169.254/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/", "http://169.254.0.23/", "http://0.0.0.0/", "http://[::1]/x",
    "http://[::ffff:127.0.0.1]/x", "http://[fe80::1]/x", "http://[fd00::1]/x", "http://2130706433/x",
    "http://0x7f000001/x", "http://0177.0.0.1/x", "http://127.1/x", "http://017700000001/x",
    "https://user:pw@hooks.example.com/x", "http://hooks.example.com@127.0.0.1/x", "ftp://hooks.example.com/x",
    "http://[2002:7f00:1::]/x",  # 6to4 of 127.0.0.1
]


@pytest.fixture
def nothing_allowed(settings: Any) -> None:
    settings.OUTBOUND_ALLOW = []


@pytest.mark.parametrize("url", INSIDE)
def test_an_inside_address_is_refused_when_saved(nothing_allowed: None, url: str) -> None:
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_url(url)
    with pytest.raises(NotifyError):
        webhook_add(url, secret="s")
    with pytest.raises(ValidationError):
        Webhook(url=url, secret="s").full_clean()
    with pytest.raises(ValidationError):
        TransportConfig(transport="wecom", enabled=True, options={"url": url}).full_clean()
    with pytest.raises(ValidationError):
        TransportConfig(transport="sms", enabled=True, options={"gateway": "aliyun", "endpoint": url}).full_clean()
    assert not Webhook.objects.exists()


@pytest.mark.parametrize("url", ["https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "https://203.0.113.9.nip.example/x",
                                 "https://dysmsapi.aliyuncs.com", "http://8.8.8.8/hook"])
def test_public_addresses_are_accepted(nothing_allowed: None, url: str) -> None:
    outbound.check_url(url)


def test_the_allow_list_names_hosts_addresses_and_ranges(settings: Any) -> None:
    settings.OUTBOUND_ALLOW = ["sms-gw.intra", "10.20.0.0/16", "192.168.5.5"]
    for url in ("http://sms-gw.intra/send", "http://10.20.3.4/send", "http://192.168.5.5:8080/"):
        outbound.check_url(url)
    for url in ("http://10.21.0.1/", "http://192.168.5.6/", "http://127.0.0.1/", "http://169.254.169.254/"):
        with pytest.raises(outbound.OutboundRefused):
            outbound.check_url(url)


def only_webhooks() -> None:
    configure("email", enabled=False)
    configure("sms", enabled=False)


def closed(number: str = "HY20260213-000001") -> int:
    return enqueue("case.closed", case_number=number, context={"unit": "县局A"}, recipients=[],
                   dedupe=f"closed:{number}")


def test_a_name_that_resolves_inside_is_refused_at_delivery(db: Any, settings: Any, monkeypatch: Any) -> None:
    """DNS rebinding: a public name when saved, 127.0.0.1 when delivered — the listener on
    127.0.0.1 never hears from the worker."""
    only_webhooks()
    hits: list[Any] = []

    def record(r: Any) -> tuple[int, Any]:
        hits.append(r)
        return 200, {}

    with LocalHTTPServer(record) as server:
        port = server.server.server_address[1]
        Webhook.objects.create(url=f"http://hooks.example.test:{port}/in", secret="s")
        settings.OUTBOUND_ALLOW = []
        real = socket.getaddrinfo

        def resolver(host: str, *args: Any, **kwargs: Any) -> Any:
            if host == "hooks.example.test":  # the network boundary: the name's answer
                return real("127.0.0.1", *args, **kwargs)
            return real(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", resolver)
        closed()
        deliver_batch("w1")
    assert hits == []
    msg = Message.objects.get()
    assert msg.status in (Status.FAILED, Status.DEAD) and "not a public address" in msg.last_error


def test_a_loopback_receiver_is_reached_only_when_allowed(db: Any, settings: Any) -> None:
    only_webhooks()
    hits: list[Any] = []

    def record(r: Any) -> tuple[int, Any]:
        hits.append(r)
        return 200, {}

    with LocalHTTPServer(record) as server:
        settings.OUTBOUND_ALLOW = ["127.0.0.1"]
        Webhook.objects.create(url=server.url + "/in", secret="s")
        settings.OUTBOUND_ALLOW = []
        closed("HY20260213-000001")
        deliver_batch("w1")
        assert hits == []
        assert Message.objects.get().status == Status.DEAD, "an address refused at delivery is not retried"
        settings.OUTBOUND_ALLOW = ["127.0.0.1"]
        closed("HY20260213-000002")
        deliver_batch("w1")
    assert len(hits) == 1


def test_no_answer_body_is_shown_back(db: Any) -> None:
    only_webhooks()
    secret_page = b"<h1>internal admin</h1> root:x:0:0 SECRET-TOKEN-123"
    with LocalHTTPServer(lambda r: (500, secret_page)) as server:
        Webhook.objects.create(url=server.url + "/in", secret="s")
        closed()
        deliver_batch("w1")
    msg = Message.objects.get()
    assert "HTTP 500" in msg.last_error
    shown = msg.last_error + " ".join(Attempt.objects.values_list("error", flat=True))
    assert "SECRET-TOKEN" not in shown and "internal admin" not in shown


def test_a_redirect_to_the_inside_is_not_followed(db: Any) -> None:
    only_webhooks()
    with LocalHTTPServer(lambda r: (302, b"")) as server:
        Webhook.objects.create(url=server.url + "/in", secret="s")
        closed()
        deliver_batch("w1")
    assert "HTTP 302" in Message.objects.get().last_error


@override_settings(OUTBOUND_ALLOW=[])
def test_secrets_are_sealed_at_rest_and_write_only_in_the_admin(org: Any) -> None:
    from django.db import connection

    hook = webhook_add("https://crm.example.test/in", secret="whsec-very-secret")
    config = TransportConfig.objects.create(transport="sms", enabled=True, options={
        "gateway": "aliyun", "access_key_id": "LTAI-id", "access_key_secret": "ali-very-secret"})
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM notify_webhook WHERE id = %s", [hook.pk])
        (stored_secret,) = cursor.fetchone()
        cursor.execute("SELECT options FROM notify_transportconfig WHERE id = %s", [config.pk])
        (stored_options,) = cursor.fetchone()
    assert "very-secret" not in stored_secret and stored_secret.startswith("hy1:")
    assert "very-secret" not in stored_options and "LTAI" not in stored_options
    assert Webhook.objects.get(pk=hook.pk).secret == "whsec-very-secret"
    admin = Client()
    admin.force_login(org.admin)
    for path in (f"/admin/notify/webhook/{hook.pk}/change/", f"/admin/notify/transportconfig/{config.pk}/change/"):
        page = admin.get(path).content.decode()
        assert "very-secret" not in page, path
    # saving the page without typing the secret again keeps it
    r = admin.post(f"/admin/notify/webhook/{hook.pk}/change/", {"url": "https://crm.example.test/in2", "secret": "",
                                                                 "events": "[]", "active": "on", "description": ""})
    assert r.status_code == 302, r.content.decode()[:1500]
    assert Webhook.objects.get(pk=hook.pk).secret == "whsec-very-secret"
    r = admin.post(f"/admin/notify/transportconfig/{config.pk}/change/", {
        "transport": "sms", "enabled": "on",
        "options": '{"gateway": "aliyun", "access_key_id": "LTAI-id", "access_key_secret": "******"}'})
    assert r.status_code == 302, r.content.decode()[:1500]
    assert TransportConfig.objects.get(pk=config.pk).options["access_key_secret"] == "ali-very-secret"
    r = admin.post(f"/admin/notify/webhook/{hook.pk}/change/", {"url": "http://169.254.169.254/", "secret": "",
                                                                 "events": "[]", "active": "on", "description": ""})
    assert r.status_code == 200 and Webhook.objects.get(pk=hook.pk).url == "https://crm.example.test/in2"
