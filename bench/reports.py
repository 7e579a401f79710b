"""Issue 10's figures (`make bench BENCH_ARGS="--only reports"`), at the loaded database
(1,000,000 cases by default, with their timelines — bench/dataset.py):

- the per-case summaries' first build over every loaded case (`reports.facts`: what the worker
  does once on an existing database; every report reads them);
- the monthly analysis report of the whole organisation (`huiyin report analysis --unit bureau
  --period YYYY-MM`): the service in-process (build + workbook), and the command's wall time;
  the same for a quarter;
- `GET /api/v1/reports/indicators` p95 (whole organisation, one month), bearer token;
- the dashboard (`/reports/`) p95 as the leader and the supervisor (the whole organisation).

Goals (issue 10 item 12): the monthly report under 5 s on PostgreSQL and 10 s on SQLite; the
dashboard p95 under 300 ms.
"""

from __future__ import annotations

import math
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

GOALS = {"report_s": {"postgresql": 5.0, "sqlite": 10.0}, "dashboard_p95_ms": 300.0}
ROOT = "bureau"  # the demo organisation's top unit


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)] if s else 0.0


def periods(today: date) -> tuple[str, str, date, date]:
    """The last whole month and the last whole quarter before `today`: (month code, quarter code,
    month's first day, month's last day)."""
    last = today.replace(day=1) - timedelta(days=1)
    first = last.replace(day=1)
    q_end_month = ((today.month - 1) // 3) * 3  # the month ending the previous quarter (0: December)
    q_year = today.year if q_end_month else today.year - 1
    q = (q_end_month or 12) // 3
    return f"{first:%Y-%m}", f"{q_year}-Q{q}", first, last


# --- in the child process (Django configured, the loaded database) ------------------------------


def build_facts(log: Any, since: str = "") -> dict[str, Any]:
    """The summaries' first build over every case, as the worker does it (`facts.step`), then the
    per-day totals from them (`facts.rebuild_totals`, what the build's last step does). With
    `since` (BENCH_REPORTS_FACTS_SINCE=YYYY-MM-DD): only the cases received from that day on,
    newest first, 5,000 ids a step as the worker does — the periods the reports read, when the
    full build does not fit the time (the figures say so)."""
    from django.db.models import Max, Min

    from huiyin.cases.models import Case, Event
    from huiyin.reports import facts, follow
    from huiyin.reports.models import CaseFact, Cursor

    t0 = time.perf_counter()
    steps = 0
    if since:
        first_day = date.fromisoformat(since)
        bounds = Case.objects.filter(received_at__date__gte=first_day).aggregate(lo=Min("id"), hi=Max("id"))
        last_event = Event.objects.aggregate(m=Max("id"))["m"] or 0
        hi, lo = bounds["hi"] or 0, bounds["lo"] or 1
        while hi >= lo:
            facts.compute_range(max(lo, hi - facts.BUILD_BATCH + 1), hi)
            hi -= facts.BUILD_BATCH
            steps += 1
            if steps % 20 == 0:
                log(f"facts (since {since}): {CaseFact.objects.count():,} cases summarised ({time.perf_counter() - t0:.0f}s)")
        follow.start_at("facts", last_event)
        Cursor.objects.get_or_create(name="facts_complete", defaults={"position": 1})
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    totals_rows = facts.rebuild_totals() if since else 0
    while facts.step() > 0:  # the whole build (without `since`); its last step builds the totals
        steps += 1
        if steps % 200 == 0:
            log(f"facts: {CaseFact.objects.count():,} cases summarised ({time.perf_counter() - t0:.0f}s)")
    if not since:
        seconds = time.perf_counter() - t0
    return {"seconds": round(seconds, 1), "facts": CaseFact.objects.count(), "steps": steps, "since": since,
            "totals_s": round(time.perf_counter() - t1, 1) if since else None, "totals_rows": totals_rows,
            "totals_ready": facts.totals_ready()}


def report_once(code: str) -> dict[str, Any]:
    """What `huiyin report analysis --unit bureau --period CODE` does, timed: the summaries'
    refresh, the report's figures and sections, the workbook."""
    from huiyin.org.models import Unit
    from huiyin.reports import analysis, excel, facts
    from huiyin.reports.indicators import Scope
    from huiyin.reports.periods import parse
    from huiyin.reports.readers import organisation_reader

    unit = Unit.objects.get(code=ROOT)
    t0 = time.perf_counter()
    facts.refresh(max_steps=100_000)
    t1 = time.perf_counter()
    report = analysis.build(Scope(organisation_reader(unit), unit), parse(code))
    t2 = time.perf_counter()
    content = excel.render(report)
    t3 = time.perf_counter()
    return {"seconds": round(t3 - t0, 3), "refresh_s": round(t1 - t0, 3), "build_s": round(t2 - t1, 3),
            "workbook_s": round(t3 - t2, 3), "received": report.figures.received, "bytes": len(content)}


def _timed_gets(client: Any, path: str, *, samples: int, warmup: int, budget_s: float) -> dict[str, Any]:
    for _ in range(warmup):
        r = client.get(path)
        if r.status_code != 200:
            return {"error": f"GET {path} answered {r.status_code}", "path": path}
    times: list[float] = []
    start = time.perf_counter()
    for _ in range(samples):
        t0 = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            return {"error": f"GET {path} answered {r.status_code}", "path": path}
        if time.perf_counter() - start > budget_s:
            break
    return {"n": len(times), "p50_ms": round(pct(times, 50), 1), "p95_ms": round(pct(times, 95), 1),
            "max_ms": round(max(times), 1), "path": path}


def child(args: dict[str, Any], log: Any = print) -> dict[str, Any]:
    from django.test import Client

    from huiyin.api.auth import token_issue
    from huiyin.org.models import User
    from huiyin.reports.models import CaseFact

    samples, budget = int(args.get("samples", 20)), float(args.get("budget_s", 30))
    month_code, quarter_code, first, last = periods(date.fromisoformat(args["today"]))
    out: dict[str, Any] = {"month": month_code, "quarter": quarter_code, "goals": GOALS}
    log("reports bench: the summaries' first build")
    out["facts_build"] = build_facts(log, str(args.get("facts_since") or ""))
    out["report"] = {}
    for label, code in (("month", month_code), ("quarter", quarter_code)):
        runs = [report_once(code) for _ in range(int(args.get("repeat", 3)))]
        log(f"reports bench: analysis report {code}: {[r['seconds'] for r in runs]} s")
        out["report"][label] = {"code": code, "runs": runs,
                                "median_s": sorted(r["seconds"] for r in runs)[len(runs) // 2],
                                "received": runs[0]["received"]}
    query = f"from={first.isoformat()}&to={last.isoformat()}"
    token = token_issue(User.objects.get(username="leader"), name="bench-reports")
    api = Client(headers={"Authorization": f"Bearer {token}"})
    out["api"] = _timed_gets(api, f"/api/v1/reports/indicators?unit={ROOT}&{query}", samples=samples, warmup=2,
                             budget_s=budget)
    out["dashboard"] = {}
    for username in ("leader", "supervisor"):
        web = Client()
        web.force_login(User.objects.get(username=username))
        for label, path in (("month", f"/reports/?{query}"), ("default", "/reports/")):
            log(f"reports bench: dashboard ({label}) as {username}")
            out["dashboard"][f"{username}_{label}"] = _timed_gets(web, path, samples=samples, warmup=2,
                                                                  budget_s=budget)
    out["facts"] = CaseFact.objects.count()
    return out


# --- in the driver (bench/runner.py) -----------------------------------------------------------


def phase(bench: Any, backend: str, env: dict[str, str]) -> None:
    """At the loaded database: the summaries, the report (service and command), API, dashboard."""
    from . import procs

    cfg = bench.cfg
    today = date.today()
    if cfg.smoke:
        # The smoke's few cases were received in the last days (bench.dataset: the newest day is
        # yesterday), so in a month's first days the last whole month holds none of them: report
        # the month of the newest case as if it had ended (a day of next month as "today").
        newest = today - timedelta(days=1)
        today = (newest.replace(day=1) + timedelta(days=32)).replace(day=1)
    print(f"   reports (bench.reports) on {cfg.cases:,} cases", file=sys.stderr, flush=True)
    res = bench.child("reports", env, {"today": today.isoformat(), "samples": cfg.samples,
                                       "facts_since": os.environ.get("BENCH_REPORTS_FACTS_SINCE", ""),
                                       "budget_s": cfg.budget_s, "repeat": 1 if cfg.smoke else 3},
                      timeout=7200, live=True)
    month_code = res["month"]
    out = Path(bench.tmp) / f"analysis-{backend}.xlsx"
    huiyin = str(Path(sys.executable).parent / "huiyin")
    t0 = time.perf_counter()
    done = procs.run([huiyin, "report", "analysis", "--unit", ROOT, "--period", month_code, "--out", str(out)],
                     env=env, timeout=600, log=Path(bench.tmp) / "reports.log", cwd=str(Path(__file__).parents[1]))
    res["command"] = {"period": month_code, "wall_s": round(time.perf_counter() - t0, 2),
                      "output": (done.stdout or "").strip()[-300:], "bytes": out.stat().st_size if out.exists() else 0}
    res["cases"] = cfg.cases
    res["load_avg"] = os.getloadavg()
    bench.results.setdefault("reports", {})[backend] = res


def summary_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for backend, res in (results or {}).items():
        if "skipped" in res or "report" not in res:
            rows.append({"figure": f"reports, {backend}", "value": res.get("skipped", "not measured (see errors)"),
                         "goal": "—", "status": "skip"})
            continue
        n, goal = res.get("cases", 0), GOALS["report_s"].get(backend, 10.0)
        la = "load {:.1f}".format(res["load_avg"][0]) if res.get("load_avg") else ""
        fb = res["facts_build"]
        rows.append({"figure": f"reports: summaries' first build, {backend} ({n:,} cases"
                               + (f"; only those received since {fb['since']}, {fb['facts']:,})" if fb.get("since") else ")"),
                     "value": f"{fb['seconds']:.0f} s" + (f" + per-day totals {fb['totals_s']} s" if fb.get("since") else ""),
                     "goal": "—", "status": "info"})
        for label in ("month", "quarter"):
            r = res["report"][label]
            rows.append({"figure": f"report analysis, whole organisation, {r['code']}, {backend} ({n:,} cases)",
                         "value": f"{r['median_s']:.2f} s ({r['received']:,} cases; {la})",
                         "goal": f"< {goal:g} s" if label == "month" else "—",
                         "status": ("pass" if r["median_s"] < goal else "MISS") if label == "month" else "info"})
        cmd = res.get("command") or {}
        if cmd:
            rows.append({"figure": f"huiyin report analysis {cmd['period']} (command wall), {backend}",
                         "value": f"{cmd['wall_s']:.2f} s", "goal": f"< {goal:g} s",
                         "status": "pass" if cmd["wall_s"] < goal else "MISS"})
        api = res.get("api") or {}
        rows.append({"figure": f"GET /api/v1/reports/indicators p95, {backend}",
                     "value": f"{api['p95_ms']:.0f} ms" if "p95_ms" in api else api.get("error", "?"),
                     "goal": "—", "status": "info" if "p95_ms" in api else "MISS"})
        for name, page in (res.get("dashboard") or {}).items():
            ok = "p95_ms" in page and page["p95_ms"] < GOALS["dashboard_p95_ms"]
            rows.append({"figure": f"dashboard p95 {name}, {backend}",
                         "value": f"{page['p95_ms']:.0f} ms" if "p95_ms" in page else page.get("error", "?"),
                         "goal": f"< {GOALS['dashboard_p95_ms']:.0f} ms", "status": "pass" if ok else "MISS"})
    return rows


def smoke_problems(results: dict[str, Any]) -> list[str]:
    out = []
    for backend, res in (results or {}).items():
        if "skipped" in res:
            continue
        if "report" not in res:
            out.append(f"reports on {backend}: no figures")
            continue
        errors = [k for k, v in {"api": res.get("api", {}), **res.get("dashboard", {})}.items() if "error" in v]
        if errors:
            out.append(f"reports on {backend}: errors in {errors}")
        if not res["report"]["month"]["received"]:
            out.append(f"reports on {backend}: the month's report counted no case")
    return out
