"""Reading a case the way a user sees it, for the preset tests."""

from __future__ import annotations

from typing import Any

from huiyin.conftest import Api


def deadline(body: dict[str, Any], timer: str) -> dict[str, Any]:
    """The case JSON's deadline of stage `timer` ({timer, due_at, state, provisional, …})."""
    return next(d for d in body["deadlines"] if d["timer"] == timer)


def due(body: dict[str, Any], timer: str) -> str:
    return deadline(body, timer)["due_at"]


def rule_names(number: str) -> list[str]:
    """The rules that fired on the case, in order, as its timeline shows them (read by the
    auditor with a token issued now, so frozen time never finds it expired)."""
    from huiyin.org.models import User

    events = Api(User.objects.get(username="auditor")).get(f"/cases/{number}/timeline").json()["events"]
    return [e["comment"] for e in events if e["action"] == "rule"]


def fresh(username: str) -> Api:
    """An API client for `username` with a token issued now (tokens last 30 days, and some
    tests travel further than that)."""
    from huiyin.org.models import User

    return Api(User.objects.get(username=username))
