"""Demo history (issue 10 item 9): several months of cases for the demo organisation, produced by
the real workflow (`cases.services.case_register`, `cases.workflow.perform`) each step at its own
time, so that a newcomer's dashboard, report and bulletin have something true to show.

- The history ends the day before it is loaded; every history case is closed (or made invalid).
- Its customers use a reserved range of phone numbers (HISTORY_PHONES: 1390000 followed by four
  digits from 5000) that no walkthrough or test uses.
- Nothing of it is left in the notification outbox (what it queued is removed at the end).
- The clock is moved with time-machine (a dev dependency, installed by `make venv`); without it
  the history is skipped with a message. `HUIYIN_DEMO_HISTORY=0` skips it in `make run`.

The draw is seeded: the same day gives the same history.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from huiyin.cases.models import Case, State
from huiyin.org.models import User

MARKER = "(演示历史数据)"
PHONE_PREFIX = "1390000"
FIRST_PHONE = 5000  # 13900005000 … 13900009999
CATEGORIES = ("logistics_delivery", "service", "billing", "quality", "marketing_policy", "counterfeit")
SUBJECTS = {
    "logistics_delivery": ["配送延误,卷烟未按时到货", "送货员未按约定时间送货", "到货件数与订单不符"],
    "service": ["客户经理服务态度差", "客户经理长期未走访", "热线电话无人接听"],
    "billing": ["结算扣款金额错误", "电子结算重复扣款", "发票信息有误"],
    "quality": ["卷烟受潮霉变", "条盒破损", "烟支空头"],
    "marketing_policy": ["货源分配不合理", "新品投放不公平", "订货量限制有异议"],
    "counterfeit": ["疑似售假", "无证经营"],
}
UNITS = ("county_a", "county_b")
HANDLER = {"county_a": "handler_a", "county_b": "handler_b"}


class Skipped(Exception):
    """The history cannot be loaded here (the reason is the message)."""


@dataclass
class Clock:
    traveller: Any

    def at(self, when: datetime) -> None:
        self.traveller.move_to(when, tick=False)


def history_numbers() -> Any:
    # (phones are sealed at rest: the history is found by the marker its descriptions begin with)
    return Case.objects.filter(description__startswith=MARKER)


def exists() -> bool:
    return history_numbers().exists()


def _users() -> dict[str, User]:
    names = ("agent", "dispatcher", "leader", "supervisor", "handler_a", "handler_b")
    users = {u.username: u for u in User.objects.filter(username__in=names, is_active=True)}
    missing = sorted(set(names) - set(users))
    if missing:
        raise Skipped(f"the demo organisation is not loaded (no {', '.join(missing)})")
    return users


def load(*, days: int = 92, per_day: float = 0.8, today: date | None = None,
         progress: Callable[[str], None] | None = None) -> int:
    """Load the history of the `days` days before `today`; returns how many cases. Refuses when
    a history is already there."""
    try:
        import time_machine
    except ImportError:  # pragma: no cover - installed by make venv (dev dependency)
        raise Skipped("time-machine is not installed (a dev dependency: make venv)") from None
    if exists():
        raise Skipped("a history is already loaded")
    users = _users()
    today = today or timezone.localdate()
    rng = random.Random(today.toordinal())
    marks = _outbox_marks()
    plans: list[tuple[datetime, int]] = []
    phone = FIRST_PHONE
    start = today - timedelta(days=days)
    for offset in range(days):
        day = start + timedelta(days=offset)
        weekday = day.weekday() < 5
        n = sum(1 for _ in range(6) if rng.random() < per_day / 6 * (1.0 if weekday else 0.4))
        for _i in range(n):
            minute = rng.randrange(8 * 60 + 30, 16 * 60 + 30)
            plans.append((timezone.make_aware(datetime.combine(day, time(minute // 60, minute % 60))), phone))
            phone = FIRST_PHONE + (phone - FIRST_PHONE + 1) % 5000
    plans.sort()
    end_of_history = timezone.make_aware(datetime.combine(today, time.min)) - timedelta(minutes=1)
    done = 0
    with time_machine.travel(plans[0][0] if plans else end_of_history, tick=False) as traveller:
        clock = Clock(traveller)
        for when, number in plans:
            # a returning customer now and then: a repeat complaint (重复投诉) of an earlier number
            if done > 10 and rng.random() < 0.06:
                number = FIRST_PHONE + rng.randrange(0, max(1, number - FIRST_PHONE))
            _one_case(clock, rng, users, when, f"{PHONE_PREFIX}{number:04d}", end_of_history)
            done += 1
            if progress and done % 25 == 0:
                progress(f"{done}/{len(plans)}")
        # the summaries, penalties, warnings and last period's report, as of the history's last
        # minute (its penalty events too), not at the worker's first pass
        from .jobs import run_reports_jobs

        clock.at(end_of_history)
        while run_reports_jobs() > 0:
            pass
    _clear_outbox(marks)
    return done


def _outbox_models() -> list[Any]:
    """The notification app's outbox: its `Notice` and every model that points at one (messages,
    inbox items), dependents first."""
    from django.apps import apps

    notify = apps.get_app_config("notify")
    notice = notify.get_model("Notice")
    dependents = [m for m in notify.get_models() if m is not notice and any(
        f.many_to_one and f.related_model is notice for f in m._meta.get_fields())]
    return [*dependents, notice]


def _outbox_marks() -> dict[Any, int]:
    return {m: m.objects.order_by("-pk").values_list("pk", flat=True).first() or 0 for m in _outbox_models()}


def _clear_outbox(marks: dict[Any, int]) -> None:
    """Remove what the history queued: the rows written since `marks` (nothing of it is delivered)."""
    from django.db.models import ProtectedError

    left = dict(marks)
    for _round in range(len(marks) + 1):  # a row another one protects goes in a later round
        for model, last in list(left.items()):
            try:
                model.objects.filter(pk__gt=last).delete()
                del left[model]
            except ProtectedError:
                continue
        if not left:
            return


def _one_case(clock: Clock, rng: random.Random, users: dict[str, User], received: datetime, phone: str,
              end: datetime) -> None:
    from huiyin.cases.services import case_register

    room = end - received  # every step must happen before the history ends
    roomy = room > timedelta(days=12)
    t = received

    def at(delta: timedelta) -> datetime:
        nonlocal t
        t = min(t + delta, end - timedelta(minutes=1))
        clock.at(t)
        return t

    clock.at(t)
    category = rng.choice(CATEGORIES)
    roll = rng.random()
    kind = "consultation" if roll < 0.15 else "report" if category == "counterfeit" else "complaint"
    data = {
        "kind": kind, "channel": rng.choice(("phone", "phone", "phone", "web", "wechat")),
        "subject": rng.choice(SUBJECTS[category]), "category": category,
        "description": MARKER + "客户来电反映:" + rng.choice(SUBJECTS[category]) + "。",
        "demands": "要求尽快处理并答复",
        "complainant": {"name": "历史客户", "phone": phone, "customer_class": rng.choice("AABBBCCD")},
    }
    case, created = case_register(data, actor=users["agent"], source="web")
    if not created or case.state in (State.CLOSED, State.INVALID):
        return  # an urge of an open case of the same customer: the earlier case carries on
    if kind == "consultation":
        _act(case, "resolve_on_spot", users["agent"], {"reply": "已当场答复政策规定"}, clock, at(timedelta(minutes=6)))
        return
    if rng.random() < 0.05:
        _act(case, "mark_invalid", users["dispatcher"], {"reason": "投诉对象不明确,无法核实"}, clock,
             at(timedelta(minutes=30)))
        return
    late = roomy and rng.random() < 0.18
    unit = rng.choice(UNITS)
    handler = users[HANDLER[unit]]
    case = _act(case, "dispatch", users["dispatcher"], {"unit": unit}, clock, at(timedelta(minutes=rng.randrange(5, 40))))
    if case.state == State.PENDING_APPROVAL:
        case = _act(case, "approve", users["leader"], {}, clock, at(timedelta(minutes=10)))
    case = _act(case, "acknowledge", handler, {}, clock,
                at(timedelta(hours=rng.choice((6, 26))) if late else timedelta(minutes=rng.randrange(10, 90))))
    liable = rng.random() < 0.55
    result = {"cause": "经核查,情况属实" if liable else "经核查,系客户误解", "course": "实地走访核实",
              "responsible_person": handler.username, "conclusion": "已整改" if liable else "已解释",
              "countermeasures": "加强管理", "reply": "已向客户说明处理结果",
              "liability": "enterprise" if liable else "customer"}
    case = _act(case, "submit_result", handler, result, clock,
                at(timedelta(days=rng.choice((4, 6))) if late else timedelta(hours=rng.randrange(2, 20))))
    case = _act(case, "review", users["dispatcher"], {"accept": True}, clock, at(timedelta(minutes=30)))
    unhappy = rng.random() < 0.12
    if unhappy and roomy and rng.random() < 0.6:
        # 不满意 → 二次派单 to the same unit, satisfied the second time
        case = _act(case, "callback", users["agent"], {"satisfaction": "unsatisfied"}, clock, at(timedelta(hours=2)))
        case = _act(case, "redispatch", users["supervisor"], {"unit": unit}, clock, at(timedelta(hours=1)))
        case = _act(case, "acknowledge", handler, {}, clock, at(timedelta(minutes=40)))
        case = _act(case, "submit_result", handler, {**result, "conclusion": "再次整改"}, clock, at(timedelta(days=1)))
        case = _act(case, "review", users["dispatcher"], {"accept": True}, clock, at(timedelta(minutes=30)))
        unhappy = False
    satisfaction = "unsatisfied" if unhappy else rng.choice(("very_satisfied", "satisfied", "satisfied", "neutral"))
    case = _act(case, "callback", users["agent"], {"satisfaction": satisfaction}, clock, at(timedelta(hours=2)))
    if case.state != State.CLOSED:
        body = {"recourse": "可向12315申诉"} if unhappy else {}
        closer = users["dispatcher"] if unhappy else users["leader"]
        case = _act(case, "close", closer, body, clock, at(timedelta(minutes=30)))


def _act(case: Case, action: str, actor: User, body: dict[str, Any], clock: Clock, when: datetime) -> Case:
    from huiyin.cases.workflow import perform

    clock.at(when)
    return perform(case, action, actor=actor, data=body, source="web")
