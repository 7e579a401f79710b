"""Child-process entry points of the bench: `python -m bench.child TASK OUT.json [ARGS-JSON]`.

Each runs with Django set up from the environment the driver gives it
(HUIYIN_DATABASE_URL, HUIYIN_VAR_DIR, HUIYIN_BENCH_TOKEN), refuses to run unless that
database is one the bench created in this run (`bench.guard`), writes its result as JSON
to OUT.json and logs progress on stderr. A refusal exits with status 2 and the reason on
stderr, before any statement reaches the database.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huiyin.settings")
    import django

    django.setup()


def _log(msg: str) -> None:
    print(f"    {msg}", file=sys.stderr, flush=True)


def bare_table(args: dict[str, Any]) -> dict[str, Any]:
    from .ceilings import ensure_table

    ensure_table()
    return {"ok": True}


def counts(args: dict[str, Any]) -> dict[str, Any]:
    from django.db import connection

    out = {}
    with connection.cursor() as cur:
        for table in ("cases_case", "bench_bare", "cases_event"):
            cur.execute(f"SELECT count(*) FROM {table}")
            out[table] = cur.fetchone()[0]
    return out


def intake_profile(args: dict[str, Any]) -> dict[str, Any]:
    """Server time of one intake and one bare request in-process (no gunicorn, no network),
    with the SQL statements of one intake — what the intake pays for beyond the INSERT."""
    from django.conf import settings
    from django.test import Client

    from huiyin.api.auth import token_issue
    from huiyin.org.models import User

    from .listq import pct, timed_request

    settings.ROOT_URLCONF = "bench.urls"
    template = args["body"]
    seq = iter(range(10**8))

    def body_() -> str:  # a new customer each time, as in the load runs
        return template.replace("@PHONE@", f"199{next(seq):08d}")
    token = token_issue(User.objects.get(username="agent"), name="bench")
    client = Client(headers={"Authorization": f"Bearer {token}"})
    out: dict[str, Any] = {}
    for name, path in (("bare", "/bench/bare"), ("rows", "/bench/rows"), ("intake", "/api/v1/cases")):
        for _ in range(5):
            client.post(path, body_(), content_type="application/json")
        times, cpu = [], []
        for _ in range(args.get("n", 100)):
            body = body_()
            t0, c0 = time.perf_counter(), time.process_time()
            resp = client.post(path, body, content_type="application/json")
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            if resp.status_code != 201:
                raise RuntimeError(f"POST {path} answered {resp.status_code}: {resp.content[:300]!r}")
        _, timed, captured = timed_request(client, "post", path, data=body_(), content_type="application/json")
        out[name] = {
            "n": len(times), "p50_ms": round(pct(times, 50), 2), "p95_ms": round(pct(times, 95), 2),
            # this process's CPU (Python's share of the request): hardly moved by other load on the machine
            "cpu_mean_ms": round(sum(cpu) / len(cpu), 2),
            "sql_per_request": len(timed),
            "sql_ms": round(sum(q["ms"] for q in timed), 2),
            "sql": [{"sql": q["sql"][:300], "ms": q["ms"]} for q in timed],
            "statements": [s[:200] for s in captured],  # incl. BEGIN/COMMIT as Django logs them
        }
        out[name]["profile"] = _profile(client, path, body_) if args.get("profile") and name == "intake" else None
    return out


def _profile(client: Any, path: str, body: Any, n: int = 200) -> list[str]:
    """The top of a cProfile of n intake requests (cumulative time), for the diagnosis."""
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        client.post(path, body(), content_type="application/json")
    prof.disable()
    if out := os.environ.get("HUIYIN_BENCH_PROFILE_OUT"):  # the whole profile, for pstats or snakeviz
        prof.dump_stats(out)
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("cumulative").print_stats(40)
    buf.write("\n--- huiyin's own functions, by cumulative time\n")
    stats.print_stats(r"/huiyin/(?!bench/)", 30)
    return buf.getvalue().splitlines()


def load(args: dict[str, Any]) -> dict[str, Any]:
    from .dataset import load as do_load

    return do_load(int(args["n"]))


def listq(args: dict[str, Any]) -> dict[str, Any]:
    from .listq import run

    return run(int(args["n"]), samples=int(args["samples"]), budget_s=float(args["budget_s"]), log=_log)


def deadline(args: dict[str, Any]) -> dict[str, Any]:
    from . import deadlines

    return dict(deadlines.run(**({"seconds": args["seconds"]} if "seconds" in args else {})))


def notify(args: dict[str, Any]) -> dict[str, Any]:
    from . import notify as notify_bench

    return {"results": notify_bench.run(**args)}


def scheduler(args: dict[str, Any]) -> dict[str, Any]:
    from .scheduler import pass_run

    return pass_run(int(args.get("due", 10_000)), log=_log)


def prime_worker(args: dict[str, Any]) -> dict[str, Any]:
    from .scheduler import prime_worker as prime

    return prime(int(args["due"]), float(args["window_s"]), log=_log)


def settle(args: dict[str, Any]) -> dict[str, Any]:
    """Write out what the bulk load left in memory before latency is measured: a PostgreSQL
    CHECKPOINT (needs a superuser; skipped otherwise), a SQLite WAL checkpoint."""
    from django.db import DatabaseError, connection

    t0 = time.perf_counter()
    with connection.cursor() as cur:
        try:
            cur.execute("CHECKPOINT" if connection.vendor == "postgresql" else "PRAGMA wal_checkpoint(TRUNCATE)")
            done = "checkpoint"
        except DatabaseError as exc:
            done = f"no checkpoint: {exc}"
    return {"done": done, "seconds": round(time.perf_counter() - t0, 1)}


def webhook(args: dict[str, Any]) -> dict[str, Any]:
    """One active webhook subscribed to case.created, so an intake writes one outbox message."""
    from huiyin.notify.models import Webhook

    hook = Webhook.objects.create(url=args.get("url", "http://127.0.0.1:9/bench"), secret="bench-secret-0123456789",
                                  events=["case.created"], description="bench: intake writes one outbox row")
    return {"webhook": hook.pk}


def rules(args: dict[str, Any]) -> dict[str, Any]:
    from .scheduler import rules_run

    return rules_run(str(args.get("preset", "insurance")), int(args.get("n", 300)), log=_log)


def web(args: dict[str, Any]) -> dict[str, Any]:
    from .web import run

    return run(samples=int(args.get("samples", 40)), log=_log)


TASKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "scheduler": scheduler, "rules": rules, "web": web, "bare-table": bare_table, "counts": counts,
    "intake-profile": intake_profile, "load": load, "list": listq, "deadline": deadline, "notify": notify,
    "prime-worker": prime_worker, "webhook": webhook, "settle": settle,
    # issue 13 (bench/text.py): the search index of the loaded cases; search, suggestions, training
    "text-index": lambda a: __import__("bench.text", fromlist=["index"]).index(log=_log),
    "text": lambda a: __import__("bench.text", fromlist=["run"]).run(a, log=_log),
}
from .channels import mail_child, screen_pop_child

TASKS.update({"screen-pop": screen_pop_child, "mail-intake": mail_child})
# issue 10 (bench/reports.py): the summaries' build, the analysis report, the indicators API, the dashboard
TASKS["reports"] = lambda a: __import__("bench.reports", fromlist=["child"]).child(a, log=_log)


def main() -> int:
    task, out_path = sys.argv[1], sys.argv[2]
    args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    try:
        _setup()
        from .guard import NotABenchDatabase, check_configured

        try:
            check_configured()
        except NotABenchDatabase as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
        result = TASKS[task](args)
    except Exception as exc:  # noqa: BLE001 — reported to the driver as data
        result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-4000:]}
    with open(out_path, "w") as fh:
        json.dump(result, fh, ensure_ascii=False, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
