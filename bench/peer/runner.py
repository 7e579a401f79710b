"""Huiyin intake vs django-helpdesk ticket creation, on this machine, with the same settings.

`python -m bench.peer [--quick] [--seconds N] [--clients 1,8,32]` (`make bench-peer`):

1. makes (once) a separate virtualenv var/bench-peer/venv with django-helpdesk 2.6.1 and
   the Django and gunicorn versions of Huiyin's own venv (pip, from PyPI); var/ is never
   committed, and nothing here runs in `make test` or CI;
2. creates two fresh SQLite files holding the run's marker (bench.guard): Huiyin's
   (migrate + demo) and the peer's (migrate, one staff user with an API token, one queue,
   `bench/peer/project/helpdesk_peer`), both with Huiyin's SQLite settings (WAL,
   synchronous=NORMAL, IMMEDIATE transactions, 20 s busy timeout);
3. serves each with gunicorn -w 2 (sync; `--workers N` for both) on loopback, Huiyin with its
   background worker beside it as `make run` serves it (`start_worker`: it checkpoints SQLite's
   WAL; `--no-worker`: without, as before round 36), and loads each with the same client
   (wrk when installed) at each concurrency: POST /api/v1/cases with a complaint (Bearer
   token), and POST /api/tickets/ with the same subject and text, a submitter e-mail and
   priority (Bearer token through DRF's TokenAuthentication);
4. at each concurrency, after a warm-up of each, runs `--rounds` pairs of short runs (default
   4 × 5 s each), the two servers back to back and the order swapped every round
   (helpdesk-huiyin, huiyin-helpdesk, …): the speed of this shared machine drifts by a factor
   of two within minutes (docs/benchmarks.md, round 30), so a ratio is taken only between two
   runs seconds apart, and a drift during a pair counts once for each side over the rounds;
5. prints per concurrency each round's ratio, their median (the figure checked against the
   goal, ≥ 3×) and the pooled ratio (all intakes of the rounds ÷ all tickets), writes
   var/bench/peer-<time>.json with every run, and stops everything it started.

What each does per request, as shipped: Huiyin authenticates, validates, numbers the case,
writes the case, its timer and its event, looks for repeat/urge candidates and runs the
policy's intake rules; django-helpdesk validates through its TicketForm and writes the
ticket and its first follow-up and renders its notification e-mails (to the dummy backend).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import guard, loadgen, procs
from bench.runner import INTAKE_BODY, REPO, VENV_BIN, Bench, Config, post, say, token, write_json
from bench.runner import parse_args as bench_args

PEER = "django-helpdesk==2.6.1"
PEER_DIR = REPO / "var" / "bench-peer"
PROJECT = Path(__file__).with_name("project")
GOAL = 3.0


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {"django": version("django"), "gunicorn": version("gunicorn")}


def peer_venv() -> Path:
    """var/bench-peer/venv with the peer installed, made once (pip from PyPI)."""
    venv = PEER_DIR / "venv"
    v = _versions()
    spec = [PEER, f"django=={v['django']}", f"gunicorn=={v['gunicorn']}"]
    stamp = venv / ".bench-peer-installed"
    if stamp.exists() and stamp.read_text() == " ".join(spec):
        return venv
    say(f"-- making the peer's virtualenv {venv} ({' '.join(spec)})")
    boot = subprocess.run([str(REPO / "scripts" / "find-python")], capture_output=True, text=True, check=False)
    python = boot.stdout.strip() or sys.executable
    if not (venv / "bin" / "python").exists():
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", *spec], check=True)
    stamp.write_text(" ".join(spec))
    return venv


def peer_env(db_url: str, token_: str, tmp: Path) -> dict[str, str]:
    guard.check_url(db_url, token_)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUIYIN_", "DJANGO_", "PYTHONPATH"))}
    env.update({"PEER_SQLITE_PATH": guard.sqlite_path(db_url), "PEER_MEDIA_ROOT": str(tmp / "peer-media"),
                "DJANGO_SETTINGS_MODULE": "helpdesk_peer.settings", "PYTHONPATH": str(PROJECT),
                "PYTHONDONTWRITEBYTECODE": "1"})
    return env


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="2 rounds of 2-second runs")
    p.add_argument("--seconds", type=int, help="seconds per run (default 5; --quick 2)")
    p.add_argument("--rounds", type=int, help="pairs of runs per concurrency (default 4; --quick 2)")
    p.add_argument("--clients", default="1,8,32", help="concurrency levels, comma-separated (default 1,8,32)")
    p.add_argument("--client", choices=("wrk", "python-asyncio"), help="load generator (default: wrk if installed)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn sync workers of each server (default 2)")
    p.add_argument("--no-worker", action="store_true",
                   help="serve Huiyin without its background worker (`huiyin worker`, which `make run` starts "
                        "beside gunicorn): the web requests then also checkpoint SQLite's WAL")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    extra = (["--quick"] if args.quick else []) + (["--client", args.client] if args.client else []) + [
        "--workers", str(args.workers)]
    cfg = Config(bench_args(extra + ["--backend", "sqlite"]))
    seconds = args.seconds or (2 if args.quick else 5)
    n_rounds = args.rounds or (2 if args.quick else 4)
    levels = [int(c) for c in args.clients.split(",") if c.strip()]
    venv = peer_venv()
    bench = Bench(cfg, ["peer"], ["sqlite"])
    results: dict[str, Any] = {
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"), "peer": PEER,
        "versions": _versions(), "client": cfg.client, "seconds": seconds, "rounds": n_rounds,
        "warmup_seconds": cfg.warmup, "goal_ratio": GOAL,
        "machine": bench.results["machine"], "runs": {},
        "workers": cfg.workers, "huiyin_worker": None,
        "notes": [(f"Same machine, same SQLite settings, same gunicorn (-w {cfg.workers} sync), same load generator; "
                   f"{n_rounds} pairs of {seconds} s runs per concurrency, back to back, the order swapped every "
                   "round; 'ratio' is the median of the pairs' ratios, 'ratio_pooled' all intakes ÷ all tickets. "
                   "2 shared cores, so single runs are noisy.")],
    }
    rc = 0
    try:
        huiyin_db = bench.fresh_db("sqlite", "peer-huiyin")
        assert huiyin_db is not None
        env = bench.base_env(huiyin_db, "peer-huiyin")
        bench.prepare(env, bench.tmp / "peer-huiyin.log")
        peer_db = guard.create_sqlite(bench.tmp / "peer-helpdesk.sqlite3", bench.token)
        penv = peer_env(peer_db, bench.token, bench.tmp)
        say("-- peer database: migrate, staff user with a token, one queue")
        done = procs.run([str(venv / "bin" / "python"), "-m", "helpdesk_peer.setup_peer"], env=penv, timeout=300,
                         cwd=str(PROJECT))
        setup = json.loads(done.stdout.strip().splitlines()[-1])
        hserver = bench.gunicorn("sqlite", env)
        if not args.no_worker:
            results["huiyin_worker"] = start_worker(bench, env)
        pport = procs.free_port()
        pserver = procs.spawn("gunicorn-peer", [str(venv / "bin" / "gunicorn"), "helpdesk_peer.wsgi:application",
                                                "-w", str(cfg.workers), "-b", f"127.0.0.1:{pport}"],
                              env=penv, log=bench.tmp / "gunicorn-peer.log", cwd=str(PROJECT))
        hbase, pbase = f"http://127.0.0.1:{hserver.port}", f"http://127.0.0.1:{pport}"
        procs.wait_http(f"{hbase}/healthz", proc=hserver)
        procs.wait_http(f"{pbase}/healthz", proc=pserver)
        htokens = [token(hbase, u) for u in ("agent", "dispatcher")]
        hbody = json.dumps(INTAKE_BODY, ensure_ascii=False).encode()
        pbody = json.dumps({"queue": setup["queue"], "title": INTAKE_BODY["subject"],
                            "description": INTAKE_BODY["description"],
                            "submitter_email": "c@PHONE@@example.com", "priority": 3}, ensure_ascii=False).encode()
        targets = {"huiyin": (f"{hbase}/api/v1/cases", hbody, htokens),
                   "helpdesk": (f"{pbase}/api/tickets/", pbody, [setup["token"]])}
        for name, (url, body, toks) in targets.items():
            status = post(url, body.replace(b"@PHONE@", b"13800138000"), toks[0])
            if status != 201:
                raise RuntimeError(f"{name}: POST {url} answered {status}, not 201")
        for c in levels:
            for name in ("helpdesk", "huiyin"):  # warm-up: connections, caches, the first pages of the files
                url, body, toks = targets[name]
                loadgen.run(cfg.client, url, clients=c, seconds=cfg.warmup, body=body, tokens=toks,
                            workdir=bench.tmp)
                time.sleep(1)  # requests still queued in gunicorn's backlog finish
            rounds: list[dict[str, Any]] = []
            for i in range(n_rounds):
                pair: dict[str, Any] = {}
                for name in ("helpdesk", "huiyin") if i % 2 == 0 else ("huiyin", "helpdesk"):
                    url, body, toks = targets[name]
                    r = loadgen.run(cfg.client, url, clients=c, seconds=seconds, body=body, tokens=toks,
                                    workdir=bench.tmp)
                    time.sleep(1)
                    pair[name] = r
                    say(f"   c={c:<3} round {i + 1} {name:<9} {r['rps']:>8.1f} req/s  p50 {r['p50_ms']:>7.1f} ms  "
                        f"p95 {r['p95_ms']:>7.1f} ms  non-2xx {r['non_2xx']}  socket errors {r['socket_errors']}")
                pair["ratio"] = ratio(pair["huiyin"]["rps"], pair["helpdesk"]["rps"])
                rounds.append(pair)
            results["runs"][str(c)] = summarise(rounds)
        if results["huiyin_worker"] is not None:  # its CPU during the warm-ups and the runs
            w = results["huiyin_worker"]
            cpu = procs.cpu_seconds(w["pid"])
            w["cpu_s_during_runs"] = round(cpu - (w["cpu_s_before"] or 0.0), 1) if cpu is not None else None
            say(f"   Huiyin's worker used {w['cpu_s_during_runs']} s of CPU during the runs (checkpoints)")
    except KeyboardInterrupt:
        results["interrupted"] = True
        rc = 130
    except Exception as exc:  # noqa: BLE001 — reported with the partial figures
        results["error"] = f"{type(exc).__name__}: {exc}"
        say(f"!! {results['error']}")
        rc = 1
    finally:
        bench.cleanup()
    results["finished_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
    path = write_json(results, prefix="peer-")
    print(render(results))
    print(f"\nFull results: {path}")
    return rc


WORKER = ["worker", "--interval", "3600"]


def start_worker(bench: Bench, env: dict[str, str]) -> dict[str, Any]:
    """Huiyin's background worker beside its gunicorn, as `make run` serves: its first pass (the
    planner statistics), then only its thread that checkpoints SQLite's WAL every second
    (`db.keep_wal_short`), which otherwise falls on the web requests. Its passes would fan out
    the intakes' notices every 15 s, some of them while the peer is measured: with --interval
    3600 they do not run, so that work stays unmeasured, as without the worker. Its CPU during
    the runs is Huiyin's and is reported."""
    log = bench.tmp / "worker-peer-huiyin.log"
    worker = procs.spawn("worker-peer-huiyin", [str(VENV_BIN / "huiyin"), *WORKER], env=env, log=log,
                         cwd=str(REPO))
    deadline = time.monotonic() + 120
    while "worker pass:" not in (text := log.read_text(errors="replace") if log.exists() else ""):
        if "worker pass failed" in text or not worker.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not finish its first pass:\n{worker.log_tail()}")
        time.sleep(0.2)
    return {"command": "huiyin " + " ".join(WORKER), "pid": worker.pid,
            "cpu_s_before": procs.cpu_seconds(worker.pid)}


def ratio(huiyin_rps: float, peer_rps: float) -> float | None:
    return round(huiyin_rps / peer_rps, 2) if peer_rps else None


def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One concurrency's rounds: each server's rate over all its runs (requests answered ÷
    seconds), the median of its runs' p50 and p95, and the ratios: `ratio`, the median of the
    rounds' ratios (what the goal is checked against), and `ratio_pooled`, intakes ÷ tickets
    over all the rounds."""
    row: dict[str, Any] = {"rounds": rounds}
    for name in ("helpdesk", "huiyin"):
        runs = [r[name] for r in rounds]
        ok, seconds = sum(r["ok"] for r in runs), sum(r["duration_s"] for r in runs)
        row[name] = {"ok": ok, "duration_s": round(seconds, 3), "rps": round(ok / seconds, 1) if seconds else 0.0,
                     "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 2),
                     "p95_ms": round(statistics.median(r["p95_ms"] for r in runs), 2),
                     "non_2xx": sum(r["non_2xx"] for r in runs),
                     "socket_errors": sum(r["socket_errors"] for r in runs)}
    ratios = [r["ratio"] for r in rounds if r["ratio"] is not None]
    row["ratio"] = round(statistics.median(ratios), 2) if ratios else None
    row["ratio_pooled"] = ratio(row["huiyin"]["rps"], row["helpdesk"]["rps"])
    return row


def render(results: dict[str, Any]) -> str:
    lines = [(f"Huiyin intake vs {results['peer']} ticket API — {results['started_at']} — {results['client']}, "
              f"{results.get('rounds', 1)} pairs of {results['seconds']} s runs per concurrency, "
              f"gunicorn -w {results.get('workers', 2)}"
              + (" + huiyin worker" if results.get("huiyin_worker") else " (Huiyin without its worker)")
              + ", SQLite (WAL, synchronous=NORMAL, IMMEDIATE)"),
             (f"  {'clients':>7} {'huiyin/s':>9} {'p95 ms':>7} {'helpdesk/s':>11} {'p95 ms':>7}  "
              f"{'rounds':<23} {'median':>6} {'pooled':>6}  goal ≥ 3× (median)")]
    for c, row in results["runs"].items():
        h, p, r = row["huiyin"], row["helpdesk"], row["ratio"]
        each = " ".join(f"{x['ratio']}" for x in row.get("rounds", []))
        lines.append(f"  {c:>7} {h['rps']:>9.1f} {h['p95_ms']:>7.1f} {p['rps']:>11.1f} {p['p95_ms']:>7.1f}  "
                     f"{each:<23} {r if r is not None else 'n/a':>5}× {row.get('ratio_pooled') or 'n/a':>5}×  "
                     + ("pass" if r is not None and r >= GOAL else "MISS"))
    if "error" in results:
        lines.append(f"  ERROR: {results['error']}")
    return "\n".join(lines)
