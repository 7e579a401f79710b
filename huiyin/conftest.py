"""Shared fixtures: the demo organisation's personas, an API client, frozen time.

Personas (demo organisation 示范市局, see huiyin/cases/demo.py):
- agent       受理员 at 监控中心 (centre): registers cases; sees the centre's cases.
- dispatcher  派单员 (and agent) at centre: dispatches, reviews, calls back.
- leader      分管领导 at 示范市局 (bureau): approves (批示); sees everything below the bureau.
- supervisor  督办 at bureau: redispatch, escalate, urge.
- handler_a   处理人/第一责任人 at 县局A: sees only cases dispatched to county_a.
- handler_b   same at 县局B: must get 404 on county_a's cases.
- auditor     审计 at bureau: read-only.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

SH = ZoneInfo("Asia/Shanghai")


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    # Password hashing at full strength costs ~0.3 s per user; tests need no strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def is_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def bj(*args: int) -> datetime:
    """A Beijing-time datetime: bj(2026, 2, 13, 9, 0)."""
    return datetime(*args, tzinfo=SH)


@pytest.fixture(autouse=True)
def _fresh_sla_calendar():  # type: ignore[no-untyped-def]
    """A calendar year imported in a rolled-back test must not stay in the process cache."""
    from huiyin.cases.grading import clear_cache as clear_categories
    from huiyin.policies.services import clear_cache as clear_policies
    from huiyin.sla.calendar import reset_cache

    for clear in (reset_cache, clear_policies, clear_categories):
        clear()
    yield
    for clear in (reset_cache, clear_policies, clear_categories):
        clear()


class Personas:
    def __init__(self) -> None:
        from huiyin.org.models import User

        for u in User.objects.all():
            setattr(self, u.username, u)


@pytest.fixture
def org(db: Any) -> Personas:
    from huiyin.cases.demo import demo_load

    demo_load(password="pw-for-tests")
    return Personas()


class Api:
    """A JSON client for /api/v1 acting as one user (bearer token)."""

    def __init__(self, user: Any):
        from huiyin.api.auth import token_issue

        self.user = user
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token_issue(user)}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get("/api/v1" + path, params, headers=self.headers)

    def post(self, path: str, body: Any = None, *, raw: str | None = None, headers: dict[str, str] | None = None) -> Any:
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(
            "/api/v1" + path, data=data, content_type="application/json", headers={**self.headers, **(headers or {})}
        )

    def act(self, number: str, action: str, body: dict[str, Any] | None = None) -> Any:
        return self.post(f"/cases/{number}/actions/{action}", body or {})


@pytest.fixture
def api(org: Personas):  # type: ignore[no-untyped-def]
    cache: dict[str, Api] = {}

    def as_(username: str) -> Api:
        if username not in cache:
            cache[username] = Api(getattr(org, username))
        return cache[username]

    return as_


COMPLAINT = {
    "kind": "complaint",
    "channel": "phone",
    "subject": "配送延误,卷烟未按时到货",
    "description": "零售户反映本周订购的卷烟延误三天送达。",
    "demands": "要求说明原因并保证以后按时配送",
    "complainant": {"name": "张三", "phone": "13800138000", "account": "RT-0001"},
}


def new_case(api: Any, user: str = "agent", **overrides: Any) -> dict[str, Any]:
    body = {**COMPLAINT, **overrides}
    r = api(user).post("/cases", body)
    assert r.status_code == 201, r.content
    return r.json()


os.environ.setdefault("HUIYIN_TESTING", "1")
