"""A small data set, checked by hand, for the reports' tests: October 2026 at the demo bureau
(tobacco policy), around National Day (1–7 Oct holidays, Saturday 10 Oct a make-up working day),
with a case received on the eve of the period and one on its last day that is handled in November.

Every case goes through the real workflow (the API), each step at its own time. The expected
figures are worked out in test_indicators.py beside the assertions.
"""

from __future__ import annotations

from typing import Any

import time_machine

from huiyin.cases.jobs import sweep_breaches
from huiyin.cases.tests.helpers import RESULT
from huiyin.conftest import COMPLAINT, Api, bj
from huiyin.org.models import User

LIABLE = {**RESULT, "liability": "enterprise"}


class Clients:
    """API clients whose tokens are issued at the travelled time (a token lives for a while only)."""

    def __init__(self) -> None:
        self.cache: dict[tuple[str, str], Api] = {}

    def __call__(self, when: Any, username: str) -> Api:
        key = (username, f"{when:%Y-%m}")
        if key not in self.cache:
            self.cache[key] = Api(User.objects.get(username=username))
        return self.cache[key]


def step(api: Any, when: Any, user: str, number: str, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    with time_machine.travel(when, tick=False):
        r = _client(api, when, user).act(number, action, body or {})
    assert r.status_code == 200, (number, action, r.content)
    return r.json()


def _client(api: Any, when: Any, user: str) -> Api:
    clients = getattr(api, "_clients", None)
    if clients is None:
        clients = api._clients = Clients()
    return clients(when, user)


def register(api: Any, when: Any, user: str = "agent", **fields: Any) -> str:
    with time_machine.travel(when, tick=False):
        r = _client(api, when, user).post("/cases", {**COMPLAINT, **fields})
    assert r.status_code == 201, r.content
    return r.json()["number"]


def dispatch(api: Any, when: Any, number: str, unit: str) -> None:
    """派单 and the leader's 批示 ten minutes later (tobacco: complaints and reports need it)."""
    body = step(api, when, "dispatcher", number, "dispatch", {"unit": unit})
    if body["state"] == "pending_approval":
        step(api, when.replace(minute=when.minute + 10), "leader", number, "approve")


def october(api: Any) -> dict[str, str]:
    """Build the data set; returns the case numbers by letter. Ends with the worker's breach
    sweep on 10 November 2026 (open clocks past due are marked breached)."""
    n: dict[str, str] = {}
    # I: received on 30 September — the month before; handled in October.
    n["I"] = register(api, bj(2026, 9, 30, 16, 0), subject="九月最后一天的投诉", complainant={"phone": "13900000009"})
    dispatch(api, bj(2026, 10, 8, 9, 0), n["I"], "county_b")
    # J: a report received on a holiday (Sat 3 Oct); its clocks start after the holiday.
    n["J"] = register(api, bj(2026, 10, 3, 11, 0), kind="report", channel="web", subject="举报无证经营",
                      complainant={"phone": "13900000010"})
    dispatch(api, bj(2026, 10, 8, 9, 0), n["J"], "monopoly")
    step(api, bj(2026, 10, 8, 10, 0), "leader", n["J"], "classify", {"category": "counterfeit"})
    # B: the textbook case — dispatched, acknowledged, answered, satisfied, closed by the leader.
    n["B"] = register(api, bj(2026, 10, 8, 9, 0), subject="配送延误", category="logistics_delivery",
                      complainant={"phone": "13900000001", "customer_class": "A"})
    dispatch(api, bj(2026, 10, 8, 9, 30), n["B"], "county_a")
    step(api, bj(2026, 10, 8, 10, 0), "handler_a", n["B"], "acknowledge")
    step(api, bj(2026, 10, 9, 14, 0), "handler_a", n["B"], "submit_result", LIABLE)
    step(api, bj(2026, 10, 9, 15, 0), "dispatcher", n["B"], "review", {"accept": True})
    step(api, bj(2026, 10, 9, 16, 0), "agent", n["B"], "callback", {"satisfaction": "satisfied"})
    step(api, bj(2026, 10, 9, 16, 30), "leader", n["B"], "close")
    # C: acknowledged late, the customer unsatisfied, 二次派单 to county A, satisfied the second time.
    n["C"] = register(api, bj(2026, 10, 9, 10, 0), channel="web", subject="客户经理态度差", category="service",
                      complainant={"phone": "13900000002", "customer_class": "B"})
    dispatch(api, bj(2026, 10, 9, 10, 10), n["C"], "county_b")
    step(api, bj(2026, 10, 9, 15, 0), "handler_b", n["C"], "acknowledge")  # due 13:50: late
    step(api, bj(2026, 10, 10, 10, 0), "handler_b", n["C"], "submit_result", LIABLE)  # Sat 10 Oct: a working day
    step(api, bj(2026, 10, 10, 11, 0), "dispatcher", n["C"], "review", {"accept": True})
    step(api, bj(2026, 10, 10, 14, 0), "agent", n["C"], "callback", {"satisfaction": "unsatisfied"})
    step(api, bj(2026, 10, 10, 15, 0), "supervisor", n["C"], "redispatch", {"unit": "county_a"})
    step(api, bj(2026, 10, 10, 16, 0), "handler_a", n["C"], "acknowledge")
    step(api, bj(2026, 10, 12, 10, 0), "handler_a", n["C"], "submit_result", LIABLE)
    step(api, bj(2026, 10, 12, 11, 0), "dispatcher", n["C"], "review", {"accept": True})
    step(api, bj(2026, 10, 12, 14, 0), "agent", n["C"], "callback", {"satisfaction": "satisfied"})
    step(api, bj(2026, 10, 12, 15, 0), "leader", n["C"], "close")
    # D: a consultation answered on the spot.
    n["D"] = register(api, bj(2026, 10, 12, 9, 30), kind="consultation", subject="许可证延续咨询",
                      category="marketing_policy", complainant={"phone": "13900000004"})
    step(api, bj(2026, 10, 12, 9, 35), "agent", n["D"], "resolve_on_spot", {"reply": "已当场答复"})
    # E: not a valid complaint.
    n["E"] = register(api, bj(2026, 10, 13, 10, 0), subject="内容不明", category="other",
                      complainant={"phone": "13900000005"})
    step(api, bj(2026, 10, 13, 10, 30), "dispatcher", n["E"], "mark_invalid", {"reason": "投诉对象不明确"})
    # G: closed after an unsatisfied callback, then reopened (still open).
    n["G"] = register(api, bj(2026, 10, 20, 9, 0), subject="结算扣款错误", category="billing",
                      complainant={"phone": "13900000007"})
    dispatch(api, bj(2026, 10, 20, 9, 10), n["G"], "county_a")
    step(api, bj(2026, 10, 20, 9, 30), "handler_a", n["G"], "acknowledge")
    step(api, bj(2026, 10, 20, 14, 0), "handler_a", n["G"], "submit_result", LIABLE)
    step(api, bj(2026, 10, 20, 14, 30), "dispatcher", n["G"], "review", {"accept": True})
    step(api, bj(2026, 10, 20, 15, 0), "agent", n["G"], "callback", {"satisfaction": "unsatisfied"})
    step(api, bj(2026, 10, 20, 15, 30), "dispatcher", n["G"], "close", {"recourse": "可向12315申诉"})
    step(api, bj(2026, 10, 22, 10, 0), "dispatcher", n["G"], "reopen", {"reason": "客户再次反映未解决"})
    # H: the same customer as B again within 30 days of B's closing: a repeat complaint.
    n["H"] = register(api, bj(2026, 10, 26, 9, 0), subject="再次反映配送问题", complainant={"phone": "13900000001"})
    # F: received on the last day of the period (a Saturday), handled in November.
    n["F"] = register(api, bj(2026, 10, 31, 10, 0), subject="卷烟受潮", category="quality",
                      complainant={"phone": "13900000006", "customer_class": "A"})
    dispatch(api, bj(2026, 11, 2, 9, 0), n["F"], "county_b")
    step(api, bj(2026, 11, 2, 9, 30), "handler_b", n["F"], "acknowledge")
    step(api, bj(2026, 11, 3, 10, 0), "handler_b", n["F"], "submit_result", {**RESULT, "liability": "customer"})
    step(api, bj(2026, 11, 3, 10, 30), "dispatcher", n["F"], "review", {"accept": True})
    step(api, bj(2026, 11, 3, 11, 0), "agent", n["F"], "callback", {"satisfaction": "neutral"})
    step(api, bj(2026, 11, 3, 11, 30), "leader", n["F"], "close")
    with time_machine.travel(bj(2026, 11, 10, 9, 0), tick=False):
        while sweep_breaches():
            pass
    return n
