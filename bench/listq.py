"""List and filter latency, in-process (django.test.Client): server time, not network.

Each query runs through the whole stack — middleware, bearer-token lookup, scope filter,
the list query, JSON — as the given demo user. For every query the SQL of one request is
captured (with each statement's time) and the list statement is EXPLAINed:
EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL, EXPLAIN QUERY PLAN on SQLite.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any
from urllib.parse import urlencode

GOAL_MS = 100.0


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)] if s else 0.0


def queries(n_cases: int) -> list[tuple[str, str, dict[str, Any], str]]:
    """(name, user, params, what) — the number, phone and cursor are filled in by `run`."""
    return [
        ("first_page_dispatcher", "dispatcher", {}, "unfiltered first page, dispatcher (sees all)"),
        ("first_page_handler_b", "handler_b", {}, "unfiltered first page, handler_b (county_b, ~5 %)"),
        ("state", "dispatcher", {"state": "accepted"}, "state=accepted"),
        ("unit", "dispatcher", {"unit": "county_a"}, "unit=county_a"),
        ("kind_severity", "dispatcher", {"kind": "complaint", "severity": "major"}, "kind=complaint&severity=major"),
        ("overdue", "dispatcher", {"overdue": "true"}, "overdue=true"),
        ("q_number", "dispatcher", {"q": "@number"}, "q=<a case number>"),
        ("q_phone", "dispatcher", {"q": "@phone"}, "q=<a phone>"),
        ("deep_cursor", "dispatcher", {"cursor": "@cursor"}, "a page in the middle via cursor"),
        # extra, beyond the brief: what a county handler and a supervisor also do daily
        ("overdue_handler_b", "handler_b", {"overdue": "true"}, "overdue=true as handler_b"),
        ("state_rare", "dispatcher", {"state": "suspended"}, "state=suspended (rare, old)"),
        ("q_subject", "dispatcher", {"q": "跨区域销售"}, "q=<words of a subject> (~2 % of cases)"),
    ]


class SqlTimer:
    """Times every statement a request runs (connection.execute_wrapper), to 0.01 ms."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.rows.append({"sql": sql[:2000], "params": repr(params)[:300],
                              "ms": round((time.perf_counter() - t0) * 1000, 2)})


def timed_request(client: Any, method: str, path: str, **kw: Any) -> tuple[Any, list[dict[str, Any]], list[str]]:
    """One request with its statements timed and captured (interpolated SQL, for EXPLAIN)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timer = SqlTimer()
    with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(timer):
        resp = getattr(client, method)(path, **kw)
    return resp, timer.rows, [q["sql"] for q in ctx.captured_queries]


def _list_sql(captured: list[str]) -> str | None:
    for sql in captured:
        if re.search(r'FROM "cases_case"', sql) and "ORDER BY" in sql and "LIMIT" in sql:
            return sql
    return None


def _explain(sql: str) -> tuple[str, float | None]:
    from django.db import connection

    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            text = "\n".join(r[0] for r in cur.fetchall())
            m = re.search(r"Execution Time: ([\d.]+) ms", text)
            return text, float(m.group(1)) if m else None
        cur.execute("EXPLAIN QUERY PLAN " + sql)
        text = "\n".join(" ".join(str(c) for c in r) for r in cur.fetchall())
        t0 = time.perf_counter()
        cur.execute(sql)
        cur.fetchall()
        return text, (time.perf_counter() - t0) * 1000


def hints(plan: str, vendor: str) -> list[str]:
    """What stands out in a plan: JIT time, rows filtered away, full scans."""
    out = []
    m = re.search(r"Timing: .*Total ([\d.]+) ms", plan)
    if m:
        cost = re.search(r"cost=[\d.]+\.\.([\d.]+)", plan)  # the top node's
        out.append(f"JIT compilation took {m.group(1)} ms (the plan's estimated cost "
                   f"{cost.group(1) if cost else '?'} exceeds jit_above_cost)")
    removed = [int(x) for x in re.findall(r"Rows Removed by Filter: (\d+)", plan)]
    if removed and max(removed) > 10_000:
        out.append(f"a node reads and discards {max(removed):,} rows (Rows Removed by Filter)")
    if re.search(r"Seq Scan on cases_case", plan):
        out.append("sequential scan of cases_case")
    if vendor == "sqlite" and re.search(r"SCAN cases_case(?! USING)", plan):
        out.append("SCAN cases_case: walks the whole table in id order, testing every row "
                   "(no index serves the filter)")
    return out


def run(n_cases: int, *, samples: int, budget_s: float, log: Any = print) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client

    from huiyin.api.auth import token_issue
    from huiyin.cases.models import Case
    from huiyin.org.models import User

    middle = Case.objects.filter(pk__gte=n_cases // 2).order_by("pk").values("pk", "number").first()
    phone = Case.objects.filter(pk__gte=n_cases // 3).order_by("pk").values_list(
        "complainant_phone", flat=True).first()
    fill = {"@number": middle["number"], "@phone": phone, "@cursor": middle["pk"]}
    clients: dict[str, Client] = {}
    for username in ("dispatcher", "handler_b"):
        token = token_issue(User.objects.get(username=username), name="bench")
        clients[username] = Client(headers={"Authorization": f"Bearer {token}"})

    out: dict[str, Any] = {"goal_p95_ms": GOAL_MS, "samples": {"number": fill["@number"], "phone": phone,
                                                              "cursor": fill["@cursor"]}, "queries": {}}
    for name, user, params, what in queries(n_cases):
        params = {k: fill.get(v, v) if isinstance(v, str) else v for k, v in params.items()}
        url = "/api/v1/cases?" + urlencode({**params, "limit": 20})
        client = clients[user]
        status = None
        for _ in range(3):  # warm: imports, caches, the database's buffers
            resp = client.get(url)
            status = resp.status_code
        times: list[float] = []
        started = time.perf_counter()
        items = 0
        while len(times) < samples and (len(times) < 10 or time.perf_counter() - started < budget_s):
            t0 = time.perf_counter()
            resp = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            status = resp.status_code
            if status != 200:
                break
        if status == 200:
            items = len(resp.json()["items"])
        _, timed, captured = timed_request(client, "get", url)
        list_sql = _list_sql(captured)
        plan, plan_ms = _explain(list_sql) if list_sql else ("(list statement not found)", None)
        p95 = pct(times, 95)
        res = {
            "what": what, "user": user, "url": url, "status": status, "items": items, "n": len(times),
            "p50_ms": round(pct(times, 50), 2), "p95_ms": round(p95, 2), "max_ms": round(max(times), 2),
            "mean_ms": round(sum(times) / len(times), 2),
            "pass": status == 200 and p95 < GOAL_MS,
            "sql_per_request": len(timed),
            "sql_ms": round(sum(q["ms"] for q in timed), 2),
            "sql": timed,
            "list_sql": list_sql,
            "explain": plan,
            "explain_ms": round(plan_ms, 2) if plan_ms is not None else None,
            "hints": hints(plan, connection.vendor),
        }
        out["queries"][name] = res
        log(f"{name:<24} n={len(times):>3}  p50 {res['p50_ms']:>8.1f} ms  p95 {res['p95_ms']:>8.1f} ms  "
            f"items {items}  status {status}")
    return out
