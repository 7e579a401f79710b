"""GET /healthz: what a load balancer or an operator's probe asks."""

from __future__ import annotations

from django.test import Client


def test_it_answers_ok_without_a_login() -> None:
    r = Client().get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
