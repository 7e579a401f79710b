"""Server time of the staff pages, in-process (django.test.Client): for `make bench` (issue 5, item 10).

    from bench.web import run
    result = run()                      # demo users, the database Django is configured with
    result = run(client_factory=f)      # f(username) -> a logged-in django.test.Client

Measures p50/p95/max of the whole request (middleware, session, permission-checked queries,
template rendering) for the workbench, the case page and filtered lists, as the demo users,
against whatever is in the database (the harness loads 1,000,000 cases first). Read-only:
it never writes a case. Each entry also reports how many SQL statements one request runs.
Goal (issue 5): p95 under 150 ms each.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

GOAL_MS = 150.0


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)] if s else 0.0


def default_client(username: str) -> Any:
    from django.test import Client

    from huiyin.org.models import User

    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def _statements(client: Any, path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get(path)
    return len(ctx.captured_queries)


def measure(client: Any, paths: list[str], *, samples: int, warmup: int, budget_s: float) -> dict[str, Any]:
    """Time GETs of `paths` (cycled) `samples` times after `warmup` untimed ones."""
    for i in range(warmup):
        r = client.get(paths[i % len(paths)])
        if r.status_code != 200:
            return {"error": f"GET {paths[i % len(paths)]} answered {r.status_code}"}
    times: list[float] = []
    start = time.perf_counter()
    for i in range(samples):
        path = paths[i % len(paths)]
        t0 = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            return {"error": f"GET {path} answered {r.status_code}"}
        if time.perf_counter() - start > budget_s:
            break
    p95 = pct(times, 95)
    return {
        "n": len(times), "p50_ms": round(pct(times, 50), 1), "p95_ms": round(p95, 1), "max_ms": round(max(times), 1),
        "statements": _statements(client, paths[0]), "goal_ms": GOAL_MS, "ok": p95 < GOAL_MS, "path": paths[0],
    }


def _sample_numbers(username: str, count: int) -> list[str]:
    """Case numbers the user sees, spread over the table: the newest and some older ones."""
    from huiyin.cases.access import cases_for
    from huiyin.org.models import User

    user = User.objects.get(username=username)
    visible = cases_for(user)
    newest = list(visible.order_by("-id").values_list("id", flat=True)[:1])
    if not newest:
        return []
    top = newest[0]
    numbers: list[str] = []
    for k in range(count):
        below = top - (top * k) // max(1, count)
        n = visible.filter(id__lte=below).order_by("-id").values_list("number", flat=True).first()
        if n and n not in numbers:
            numbers.append(n)
    return numbers


def run(client_factory: Callable[[str], Any] | None = None, *, samples: int = 40, warmup: int = 3,
        budget_s: float = 30.0, log: Callable[[str], None] = print) -> dict[str, Any]:
    from django.db.models import Max, Min

    from huiyin.cases.models import Case

    factory = client_factory or default_client
    clients: dict[str, Any] = {}

    def client(username: str) -> Any:
        if username not in clients:
            clients[username] = factory(username)
        return clients[username]

    results: dict[str, Any] = {"cases": Case.objects.count(), "goal_ms": GOAL_MS, "pages": {}}
    phone = Case.objects.order_by("-id").values_list("complainant_phone", flat=True).first() or "13800138000"
    plan: list[tuple[str, str, list[str]]] = [
        ("workbench_dispatcher", "dispatcher", ["/"]),
        ("workbench_leader", "leader", ["/"]),
        ("workbench_handler_a", "handler_a", ["/"]),
        ("workbench_overdue_tab_handler_a", "handler_a", ["/?tab=overdue"]),
        ("case_page_dispatcher", "dispatcher", [f"/cases/{n}/" for n in _sample_numbers("dispatcher", 20)]),
        ("case_page_handler_a", "handler_a", [f"/cases/{n}/" for n in _sample_numbers("handler_a", 20)]),
        ("workbench_oldest_first_handler_a", "handler_a", ["/?sort=id"]),
        ("list_filtered", "dispatcher", ["/cases/?state=accepted&kind=complaint&unit=county_a"]),
        ("list_overdue", "dispatcher", ["/cases/?overdue=yes"]),
        # most urgent first and the deadline filters: from the (next_due_at, id) index
        ("list_by_time_left", "dispatcher", ["/cases/?sort=due"]),
        ("list_by_time_left_filtered", "dispatcher", ["/cases/?sort=due&state=accepted&unit=county_a"]),
        ("list_by_time_left_handler_b", "handler_b", ["/cases/?sort=due"]),
        ("list_at_risk", "dispatcher", ["/cases/?deadline=at_risk&sort=due"]),
        ("list_by_time_left_closed", "dispatcher", ["/cases/?sort=due&state=closed"]),
        ("board_supervisor", "supervisor", ["/board/"]),
        ("approvals_leader", "leader", ["/approvals/"]),
        ("list_phone", "dispatcher", [f"/cases/?q={phone}"]),
        ("list_handler_b", "handler_b", ["/cases/?kind=complaint&severity=major"]),
        ("intake_lookup", "agent", [f"/intake/lookup?complainant_phone={phone}"]),
    ]
    # A deep page by keyset: the cursor of a page far down the list.
    bounds = Case.objects.aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["hi"]:
        middle = (bounds["lo"] + bounds["hi"]) // 2
        plan.append(("list_deep_cursor", "dispatcher", [f"/cases/?state=closed&cursor={middle}"]))
    # A page deep in the most-urgent-first order: the cursor of the 1,000th case with a deadline.
    deep = (Case.objects.filter(next_due_at__isnull=False).order_by("next_due_at", "id")
            .values_list("next_due_at", "id")[1000:1001])
    if deep:
        from huiyin.cases.selectors import due_cursor

        probe = Case(pk=deep[0][1], next_due_at=deep[0][0])
        plan.append(("list_by_time_left_deep_cursor", "dispatcher", [f"/cases/?sort=due&cursor={due_cursor(probe)}"]))
    name_of = Case.objects.order_by("-id").values_list("complainant_name", flat=True).first()
    if name_of:
        plan.append(("list_by_name", "dispatcher", [f"/cases/?q={name_of}"]))
    for name, username, paths in plan:
        if not paths:
            results["pages"][name] = {"skipped": "no case visible"}
            continue
        log(f"web bench: {name} as {username}")
        results["pages"][name] = measure(client(username), paths, samples=samples, warmup=warmup, budget_s=budget_s)
    results["ok"] = all(v.get("ok", True) for v in results["pages"].values())
    return results

