"""The intake's in-process profile alone: `python -m bench.profile [--backend sqlite|postgresql] [--n N]`.

Makes the same fresh database as `python -m bench --only intake` (migrate, demo, one webhook
subscribed to case.created, the bare table), then runs the child task `intake-profile`: N
intakes through POST /api/v1/cases in one process with django.test.Client (no gunicorn, no
network), beside the bare and rows ceilings, and prints per view the median server time, the
statements of one request with their time, and for the intake the top of a cProfile. What
the load runs measure, without the load: a minute instead of six, for working on the intake path.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from .runner import BACKENDS, INTAKE_BODY, Bench, Config, parse_args


def report(backend: str, res: dict[str, Any], *, top: int, note: str = "") -> str:
    out = [f"== {backend} (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})"
           + (f" {note}" if note else "")]
    for view in ("bare", "rows", "intake"):
        r = res[view]
        out.append(f"-- {view}: p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms over {r['n']}, "
                   f"{r.get('cpu_mean_ms')} ms of Python's CPU a request; "
                   f"{r['sql_per_request']} statements, {r['sql_ms']} ms in the database")
        if view == "intake":
            out += [f"   {q['ms']:>7.2f} ms  {q['sql'][:160]}" for q in r["sql"]]
    prof = res["intake"].get("profile")
    if prof:
        out.append("-- intake profile (cumulative)")
        out += prof[: top + 12]
        i = next((n for n, line in enumerate(prof) if line.startswith("--- huiyin")), None)
        if i is not None:
            out += prof[i: i + top + 10]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", action="append", choices=BACKENDS, help="only this database (repeatable)")
    p.add_argument("--n", type=int, default=50, help="timed intakes per view (default 50)")
    p.add_argument("--no-profile", action="store_true", help="skip the cProfile of 200 intakes")
    p.add_argument("--top", type=int, default=40, help="lines of the profile to print")
    p.add_argument("--json", help="also write the child's results to this file")
    p.add_argument("--save", help="also write the whole cProfile to this file, one per backend "
                                  "(<save>.<backend>, for pstats or snakeviz)")
    p.add_argument("--server-binding", action="store_true",
                   help="PostgreSQL: bind on the server and prepare repeated statements (HUIYIN_PG_SERVER_BINDING=1)")
    args = p.parse_args(argv)
    bench = Bench(Config(parse_args(["--smoke"])), ["intake"], args.backend or list(BACKENDS))
    results: dict[str, Any] = {}
    try:
        for backend in bench.backends:
            db = bench.fresh_db(backend, "profile")
            if db is None:
                print(f"== {backend}: skipped ({bench.pg_skip})")
                continue
            env = bench.base_env(db, f"profile-{backend}")
            if args.server_binding:
                env["HUIYIN_PG_SERVER_BINDING"] = "1"
            if args.save:
                env["HUIYIN_BENCH_PROFILE_OUT"] = str(Path(f"{args.save}.{backend}").resolve())
            bench.prepare(env, bench.tmp / f"profile-{backend}.log")
            bench.child("bare-table", env)
            bench.child("webhook", env)
            results[backend] = bench.child("intake-profile", env, {
                "body": json.dumps(INTAKE_BODY, ensure_ascii=False), "n": args.n, "profile": not args.no_profile})
            print(report(backend, results[backend], top=args.top,
                         note="server-side binding" if args.server_binding else ""), flush=True)
            bench.drop_db(backend, db)
    finally:
        bench.cleanup()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, ensure_ascii=False, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
