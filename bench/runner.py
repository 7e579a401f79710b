"""The bench driver: phases, servers, databases, the table and the JSON.

The driver does not set up Django; it starts gunicorn, PostgreSQL, `huiyin` commands and
`bench.child` tasks as child processes with the environment of the database under
test, and ends every one of them (by pid) on exit, Ctrl-C or error.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import channels, guard, loadgen, pg, procs
from . import reports as reports_bench
from .ceilings import DESCRIPTION as BARE_DESCRIPTION
from .ceilings import ROWS_DESCRIPTION

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
PHASES = ("intake", "list", "worker", "deadline", "memory", "notify", "rules", "text", "channels", "reports")
BACKENDS = ("sqlite", "postgresql")
CONCURRENCY = (1, 8, 32)
GOALS = {
    "intake_ratio": 0.5,  # of the same-rows ceiling (issue 9); the one-INSERT ratio is reported beside it
    "worker_p95_ratio": 2.0,  # intake p95 with the worker running / stopped
    "list_p95_ms": 100.0,
    "deadlines_per_s": 200_000,
    "rss_mb": 200.0,
}
INTAKE_BODY = {
    "kind": "complaint",
    "channel": "phone",
    "subject": "配送延误，卷烟未按约定时间送达",
    "description": "客户来电反映本周二订购的卷烟至今未送达，多次联系送货员无人接听，要求尽快处理并答复。",
    "complainant": {"name": "张三", "phone": "@PHONE@"},  # a new phone number per request (loadgen)
}


def wait_quiet() -> None:
    """BENCH_QUIET_LOAD=L: before a measured phase of a loaded database, wait (at most
    BENCH_QUIET_WAIT_S seconds, default 3600) until the 1-minute load average is under L — on a
    shared machine the loading can run while others work, the measuring when they are done."""
    limit = os.environ.get("BENCH_QUIET_LOAD")
    if not limit:
        return
    deadline = time.monotonic() + float(os.environ.get("BENCH_QUIET_WAIT_S", "3600"))
    while os.getloadavg()[0] >= float(limit) and time.monotonic() < deadline:
        time.sleep(10)
    say(f"   load average {os.getloadavg()[0]:.2f} (waited for under {limit})")


def say(msg: str = "") -> None:
    print(msg, file=sys.stderr, flush=True)


class Config:
    def __init__(self, args: argparse.Namespace) -> None:
        self.quick = args.quick or args.smoke
        self.smoke = args.smoke
        self.mode = "smoke" if args.smoke else "quick" if args.quick else "full"
        self.seconds = max(1 if args.smoke else 2, args.seconds or (1 if args.smoke else 3 if args.quick else 10))
        self.warmup = 1 if self.quick else 2
        self.cases = args.cases or (2_000 if args.smoke else 100_000 if args.quick else 1_000_000)
        self.concurrency = (8,) if args.smoke else CONCURRENCY
        self.samples = 3 if args.smoke else 20 if args.quick else 50
        self.budget_s = 2.0 if args.smoke else 8.0 if args.quick else 30.0
        self.worker_seconds = 2.0 if args.smoke else 5.0 if args.quick else 10.0
        self.worker_cap = 10.0 if args.smoke else 20.0 if args.quick else 60.0
        self.worker_rate = float(args.worker_rate)
        self.worker_window = args.worker_seconds or (2 if args.smoke else 5 if args.quick else 15)
        self.deadline_seconds = 0.2 if args.smoke else 1.0 if args.quick else 2.0
        self.notify_args = ({"enqueue_n": 20, "deliver_n": 20, "backlog": 1000, "window_s": 0.5}
                            if args.smoke else {})
        self.sqlite_list_max = args.sqlite_list_max
        self.client = args.client or loadgen.available()
        self.workers = max(1, getattr(args, "workers", 2) or 2)


class Bench:
    def __init__(self, cfg: Config, phases: list[str], backends: list[str]) -> None:
        self.cfg, self.phases, self.backends = cfg, phases, backends
        self.tmp = Path(tempfile.mkdtemp(prefix="huiyin-bench-"))
        self.token = guard.new_token()  # the marker of every database this run creates
        self.pg: pg.Server | None = None
        self.pg_skip = ""
        self.results: dict[str, Any] = {
            "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "workers": cfg.workers,
            "mode": cfg.mode,
            "phases": phases,
            "backends": backends,
            "machine": machine_info(),
            "goals": GOALS,
            "notes": [
                "Figures are noisy: 2 cores shared with other users' test runs; load average recorded per phase.",
            ],
            "intake": {}, "list": {}, "worker": {}, "deadline": {}, "memory": {}, "notify": {}, "channels": {},
        }

    # --- environment ------------------------------------------------------------------

    def base_env(self, db_url: str, name: str) -> dict[str, str]:
        """The environment of every process started against `db_url` — after checking that the
        database is one this run created (bench.guard): nothing runs against any other."""
        guard.check_url(db_url, self.token)
        var = self.tmp / f"var-{name}"
        (var / "static").mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HUIYIN_", "DJANGO_"))}
        env.update({
            "HUIYIN_DATABASE_URL": db_url,
            "HUIYIN_VAR_DIR": str(var),
            "HUIYIN_DEBUG": "0",
            # The worker's scheduled retraining (huiyin/text/jobs.py) would train 100,000-row
            # models in the middle of a measurement; the text phase trains on purpose.
            "HUIYIN_TEXT_RETRAIN_DAYS": "0",
            "HUIYIN_DEMO_PASSWORD": os.environ.get("HUIYIN_DEMO_PASSWORD", "huiyin-demo"),
            guard.TOKEN_ENV: self.token,
            "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def postgres(self) -> pg.Server | None:
        if self.pg is None and not self.pg_skip:
            say("-- starting PostgreSQL")
            self.pg, self.pg_skip = pg.start(str(REPO))
            if self.pg is not None:
                try:
                    self.results["machine"]["postgresql"] = self.pg.version() + f" ({self.pg.note})"
                except Exception as exc:  # noqa: BLE001
                    self.pg_skip = f"cannot connect to PostgreSQL: {exc}"
                    self.pg.stop(str(REPO))
                    self.pg = None
            if self.pg_skip:
                self.results["notes"].append(f"PostgreSQL skipped: {self.pg_skip}")
                say(f"   PostgreSQL skipped: {self.pg_skip}")
        return self.pg

    def fresh_db(self, backend: str, phase: str) -> str | None:
        """A new database holding this run's marker (bench.guard), or None without PostgreSQL."""
        if backend == "sqlite":
            return guard.create_sqlite(self.tmp / f"{phase}-{time.monotonic_ns()}.sqlite3", self.token)
        server = self.postgres()
        return server.fresh_database(phase, self.token) if server else None

    def drop_db(self, backend: str, url: str) -> None:
        if backend == "sqlite":
            path = guard.sqlite_path(url)
            if not Path(path).resolve().is_relative_to(self.tmp.resolve()):
                return  # only files in this run's own temporary directory
            for suffix in ("", "-wal", "-shm"):
                Path(path + suffix).unlink(missing_ok=True)
        elif self.pg:
            self.pg.drop_database(url)

    def prepare(self, env: dict[str, str], log: Path) -> None:
        huiyin = str(VENV_BIN / "huiyin")
        procs.run([huiyin, "migrate", "--noinput", "-v0"], env=env, timeout=300, log=log, cwd=str(REPO))
        procs.run([huiyin, "demo"], env=env, timeout=120, log=log, cwd=str(REPO))

    def child(self, task: str, env: dict[str, str], args: dict[str, Any] | None = None,
              timeout: float = 600, live: bool = False) -> dict[str, Any]:
        out = self.tmp / f"child-{task}-{time.monotonic_ns()}.json"
        cmd = [sys.executable, "-m", "bench.child", task, str(out), json.dumps(args or {})]
        stderr = ""
        if live:  # progress on the terminal
            popen = subprocess.Popen(cmd, env=env, cwd=str(REPO), stdin=subprocess.DEVNULL,
                                     start_new_session=True)
            proc = procs.Proc(task, popen, None)
            procs._started.append(proc)
            try:
                popen.wait(timeout)
            finally:
                proc.stop(timeout=5)
        else:
            done = procs.run(cmd, env=env, timeout=timeout, log=self.tmp / "children.log", cwd=str(REPO))
            stderr = done.stderr
        if not out.exists():
            raise RuntimeError(f"child task {task} wrote no result")
        result = json.loads(out.read_text())
        if "error" in result:
            raise RuntimeError(f"child task {task}: {result['error']}\n{result.get('traceback', '')}"
                               + (f"\n--- its stderr:\n{stderr[-3000:]}" if stderr else ""))
        return result

    # --- intake -------------------------------------------------------------------------

    def intake(self, backend: str, *, memory_only: bool = False) -> None:
        cfg = self.cfg
        db = self.fresh_db(backend, "intake")
        if db is None:
            self.results["memory" if memory_only else "intake"][backend] = {"skipped": self.pg_skip}
            return
        say(f"-- intake on {backend}: fresh database, migrate, demo")
        env = self.base_env(db, f"intake-{backend}")
        log = self.tmp / f"intake-{backend}.log"
        self.prepare(env, log)
        self.child("bare-table", env)
        self.child("webhook", env)  # so that an intake writes one outbox row, as the rows ceiling does
        server = self.gunicorn(backend, env)
        port = server.port
        res: dict[str, Any] = {
            "server": f"gunicorn bench.wsgi:application -w {self.cfg.workers} (sync) -b 127.0.0.1",
            "client": cfg.client, "seconds": cfg.seconds, "warmup_seconds": cfg.warmup,
            "bare_view": BARE_DESCRIPTION, "rows_view": ROWS_DESCRIPTION,
            "setup": "demo organisation and policy, one webhook subscribed to case.created (so an intake writes "
                     "case, dispatch timer, register event, one outbox message and the day's number)",
            "body": INTAKE_BODY, "load_before": os.getloadavg(), "runs": {},
        }
        if memory_only:  # the load only warms the workers; its figures are not the intake bench
            self.results["memory"].setdefault(backend, {})["warm_up_load"] = res
        else:
            self.results["intake"][backend] = res
        try:
            base = f"http://127.0.0.1:{port}"
            procs.wait_http(f"{base}/healthz", proc=server)
            server.extra_pids |= set(procs.children(server.pid))
            tokens = [token(base, u) for u in ("agent", "dispatcher")]
            body = json.dumps(INTAKE_BODY, ensure_ascii=False).encode()
            for path in ("/api/v1/cases", "/bench/bare", "/bench/rows"):  # sanity: each answers 201
                status = post(base + path, body.replace(b"@PHONE@", b"13800138000"), tokens[0])
                if status != 201:
                    raise RuntimeError(f"POST {path} answered {status}, not 201:\n{server.log_tail()}")
            urls = {"intake": f"{base}/api/v1/cases", "bare": f"{base}/bench/bare", "rows": f"{base}/bench/rows"}
            levels = (8,) if memory_only else cfg.concurrency
            seconds = min(3, cfg.seconds) if memory_only else cfg.seconds
            for c in levels:
                row: dict[str, Any] = {}
                for view in ("bare", "rows", "intake"):
                    table = "bench_bare" if view == "bare" else "cases_case"
                    loadgen.run(cfg.client, urls[view], clients=c, seconds=cfg.warmup, body=body,
                                tokens=tokens, workdir=self.tmp)
                    drain(db, table)  # requests queued when the client stopped still run
                    before = count_rows(db)
                    r = loadgen.run(cfg.client, urls[view], clients=c, seconds=seconds, body=body,
                                    tokens=tokens, workdir=self.tmp)
                    after = count_rows(db)
                    r["drain_s"] = drain(db, table)
                    if before and after:
                        r["rows_inserted"] = after[table] - before[table]
                    row[view] = r
                    say(f"   {backend:<10} c={c:<3} {view:<6} {r['rps']:>8.1f} req/s  p50 {r['p50_ms']:>7.1f} ms  "
                        f"p95 {r['p95_ms']:>7.1f} ms  non-2xx {r['non_2xx']}  socket errors {r['socket_errors']}")
                row["ratio"] = round(row["intake"]["rps"] / row["bare"]["rps"], 3) if row["bare"]["rps"] else None
                row["ratio_rows"] = (round(row["intake"]["rps"] / row["rows"]["rps"], 3)
                                     if row["rows"]["rps"] else None)
                res["runs"][str(c)] = row
            server.extra_pids |= set(procs.children(server.pid))
            workers = {}
            for pid in procs.children(server.pid):
                mem = procs.memory(pid)
                if mem:
                    workers[str(pid)] = {"rss_mb": round(mem["VmRSS"] / 1024, 1),
                                         "hwm_mb": round(mem.get("VmHWM", 0) / 1024, 1)}
            master = procs.memory(server.pid) or {}
            self.results["memory"].setdefault(backend, {})["gunicorn_workers"] = {
                "after": "the intake runs" if not memory_only else "a short 8-client load on each view",
                "workers": workers,
                "master_rss_mb": round(master.get("VmRSS", 0) / 1024, 1),
            }
            say("   gunicorn worker RSS: " + ", ".join(f"{w['rss_mb']} MB" for w in workers.values()))
        finally:
            server.stop()
            res["load_after"] = os.getloadavg()
        if not memory_only:
            say(f"   in-process profile of one intake vs one bare request ({backend})")
            try:
                res["in_process"] = self.child("intake-profile", env,
                                               {"body": json.dumps(INTAKE_BODY, ensure_ascii=False),
                                                "n": 10 if cfg.smoke else 50, "profile": not cfg.smoke})
            except RuntimeError as exc:
                res["in_process"] = {"error": str(exc)[:2000]}
        if "memory" in self.phases and "list" not in self.phases:
            self.worker_memory(backend, env, "the intake database (few cases; the worker idles)")
        self.drop_db(backend, db)

    def gunicorn(self, backend: str, env: dict[str, str]) -> procs.Proc:
        """gunicorn bench.wsgi with `--workers` sync workers (2) on a free loopback port (`proc.port`)."""
        port = procs.free_port()
        server = procs.spawn(
            f"gunicorn-{backend}",
            [str(VENV_BIN / "gunicorn"), "bench.wsgi:application", "-w", str(self.cfg.workers),
             "-b", f"127.0.0.1:{port}"],  # cwd REPO: ./gunicorn.conf.py applies, as for `make run`
            env=env, log=self.tmp / f"gunicorn-{backend}-{port}.log", cwd=str(REPO),
        )
        server.port = port
        return server

    # --- list ----------------------------------------------------------------------------

    def _skip_loaded(self, key: str, backend: str, why: str) -> None:
        if key == "channels":  # only the screen-pop of the channels phase needs the loaded database
            self.results["channels"].setdefault(backend, {})["screen_pop"] = {"skipped": why}
        elif key == "reports":  # issue 10 (bench/reports.py)
            self.results.setdefault("reports", {})[backend] = {"skipped": why}
        else:
            self.results[key][backend] = {"skipped": why}

    def loaded_phase(self, backend: str) -> None:
        """One database with `cfg.cases` bulk-loaded cases for the list, web, worker and
        scheduler figures (whichever of the phases list and worker are asked for)."""
        cfg = self.cfg
        keys = [k for k in ("list", "worker", "text", "channels", "reports") if k in self.phases]
        if backend == "sqlite" and cfg.cases > cfg.sqlite_list_max:
            why = (f"SQLite loaded-database phases skipped at {cfg.cases:,} cases (limit --sqlite-list-max "
                   f"{cfg.sqlite_list_max:,})")
            for k in keys:
                self._skip_loaded(k, backend, why)
            say(f"-- {why}")
            return
        db = self.fresh_db(backend, "list")
        if db is None:
            for k in keys:
                self._skip_loaded(k, backend, self.pg_skip)
            return
        say(f"-- {' and '.join(keys)} on {backend}: fresh database, migrate, demo, bulk-load {cfg.cases:,} cases")
        env = self.base_env(db, f"list-{backend}")
        self.prepare(env, self.tmp / f"list-{backend}.log")
        t0 = time.perf_counter()
        loaded = self.child("load", env, {"n": cfg.cases}, timeout=3600, live=True)
        loaded["wall_s"] = round(time.perf_counter() - t0, 1)
        say(f"   loaded in {loaded['wall_s']}s: {loaded['stats']['cases']:,} cases, "
            f"{loaded['stats']['timers']:,} timers ({loaded['stats']['open_timers_past_due']:,} open past due)")
        loaded["text_index"] = self.child("text-index", env, {}, timeout=3600, live=True)  # bench/text.py
        if "list" in self.phases:
            self.list_phase(backend, env, loaded)
        if "channels" in self.phases:  # issue 12: the screen-pop at the loaded database
            channels.screen_pop_phase(self, backend, env)
        if "text" in self.phases:  # bench/text.py: search p95, the intake assistant's p95, training at 100,000
            wait_quiet()
            self.results.setdefault("text", {})[backend] = self.child("text", env, {
                "samples": cfg.samples, "budget_s": cfg.budget_s, "train_rows": min(20_000, cfg.cases // 5),
                "train_n": 0 if cfg.smoke else 100_000 if backend == "postgresql" else 0}, timeout=3600, live=True)
        if "reports" in self.phases:  # issue 10 (bench/reports.py): the analysis report, API and dashboard
            reports_bench.phase(self, backend, env)
        if "worker" in self.phases:
            self.worker_p95(backend, env, loaded)
        if "list" in self.phases:
            due = min(10_000, max(100, cfg.cases // 100))
            say(f"   scheduler pass with {due:,} due (bench.scheduler)")
            self.results.setdefault("scheduler", {})[backend] = self.child(
                "scheduler", env, {"due": due}, timeout=1800, live=True)
        if not self.keep_db(backend, db, env):
            self.drop_db(backend, db)

    def keep_db(self, backend: str, url: str, env: dict[str, str]) -> bool:
        """BENCH_KEEP_DB=1 with HUIYIN_BENCH_POSTGRES_URL (a server the bench does not stop): the
        loaded PostgreSQL database is kept for iterating (EXPLAIN, a timing script, a measuring
        child run again) instead of dropped, and its URL and the run's token are printed. It stays
        marked with that token, so only a process given the token (`HUIYIN_BENCH_TOKEN`) passes
        bench.guard's check on it; the bench never drops it later (drop it by hand)."""
        if os.environ.get("BENCH_KEEP_DB", "") not in ("1", "yes") or backend != "postgresql" or not self.pg:
            return False
        if self.pg.own_dir:  # a throw-away server is stopped at the end: nothing would be kept
            say("   BENCH_KEEP_DB ignored: the bench's own PostgreSQL stops at the end (set HUIYIN_BENCH_POSTGRES_URL)")
            return False
        name = urlsplit(url).path.lstrip("/")
        if name in self.pg.created:
            self.pg.created.remove(name)  # not dropped by cleanup() either
        self.results["notes"].append(f"BENCH_KEEP_DB: the loaded database {name} was kept")
        say(f"   BENCH_KEEP_DB: kept {guard.redact(url)}; reuse it with\n"
            f"     HUIYIN_DATABASE_URL=<that URL> {guard.TOKEN_ENV}={env[guard.TOKEN_ENV]} "
            f".venv/bin/python -m bench.child text OUT.json '{{\"parts\": [\"search\"]}}'\n"
            f"   and drop it by hand when done: DROP DATABASE \"{name}\"")
        return True

    def list_phase(self, backend: str, env: dict[str, str], loaded: dict[str, Any]) -> None:
        cfg = self.cfg
        say(f"   measuring {cfg.samples} requests per query (in-process, server time)")
        res = self.child("list", env, {"n": cfg.cases, "samples": cfg.samples, "budget_s": cfg.budget_s},
                         timeout=3600, live=True)
        res["dataset"] = loaded
        res["load_avg"] = os.getloadavg()
        self.results["list"][backend] = res
        say(f"   web pages (bench.web) on {cfg.cases:,} cases")
        self.results.setdefault("web", {})[backend] = self.child(
            "web", env, {"samples": min(40, cfg.samples)}, timeout=1800, live=True)
        if "memory" in self.phases:
            self.worker_memory(backend, env, f"the list database ({cfg.cases:,} cases, past-due timers to mark)")

    # --- worker: intake p95 with the background worker running and stopped -----------------

    def worker_p95(self, backend: str, env: dict[str, str], loaded: dict[str, Any]) -> None:
        """Intake p95 under a steady open-loop load (cfg.worker_rate per second) on the loaded
        database: with the worker stopped, then running `huiyin worker --interval 1` with
        breaches and reminders coming due all through the window (bench.scheduler.prime_worker)
        and the scheduled rules' backlog as loaded, then stopped again."""
        cfg = self.cfg
        rate, window = cfg.worker_rate, float(cfg.worker_window)
        say(f"-- worker on {backend}: intake p95 at {rate:g} req/s, {window:.0f}s per window, "
            "worker stopped / running / stopped")
        server = self.gunicorn(backend, env)
        res: dict[str, Any] = {
            "cases": loaded.get("stats", {}).get("cases"), "rate": rate, "window_s": window,
            "server": f"gunicorn bench.wsgi:application -w {self.cfg.workers} (sync)", "worker": "huiyin worker --interval 1",
            "client": "python-asyncio open loop (latency from each request's due time)",
            "load_before": os.getloadavg(),
        }
        self.results["worker"][backend] = res
        worker: procs.Proc | None = None
        try:
            base = f"http://127.0.0.1:{server.port}"
            procs.wait_http(f"{base}/healthz", proc=server)
            server.extra_pids |= set(procs.children(server.pid))
            tokens = [token(base, u) for u in ("agent", "dispatcher")]
            body = json.dumps(INTAKE_BODY, ensure_ascii=False).encode()
            url = f"{base}/api/v1/cases"

            def measure(label: str) -> dict[str, Any]:
                r = loadgen.paced(url, rate=rate, seconds=window, body=body, tokens=tokens)
                say(f"   {backend:<10} worker {label:<15} p50 {r['p50_ms']:>7.1f} ms  p95 {r['p95_ms']:>7.1f} ms  "
                    f"p99 {r['p99_ms']:>7.1f} ms  max {r['max_ms']:>7.1f} ms  non-2xx {r['non_2xx']}  "
                    f"socket errors {r['socket_errors']}")
                return r

            res["settled"] = self.child("settle", env, timeout=600)
            loadgen.paced(url, rate=rate, seconds=cfg.warmup, body=body, tokens=tokens)  # warm-up
            res["stopped_before"] = measure("stopped")
            due = min(10_000, max(100, cfg.cases // 100))
            res["primed"] = self.child("prime-worker", env, {"due": due, "window_s": window + 10})
            log = self.tmp / f"worker-p95-{backend}.log"
            worker = procs.spawn(f"worker-{backend}", [str(VENV_BIN / "huiyin"), "worker", "--interval", "1"],
                                 env=env, log=log, cwd=str(REPO))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and worker.alive() and not (
                    log.exists() and "worker started" in log.read_text(errors="replace")):
                time.sleep(0.1)
            if not worker.alive():
                raise RuntimeError(f"the worker exited:\n{worker.log_tail()}")
            offset, cpu0 = log.stat().st_size, procs.cpu_seconds(worker.pid) or 0.0
            work0 = work_counts(env["HUIYIN_DATABASE_URL"])
            t0 = time.monotonic()
            res["running"] = measure("running")
            elapsed = time.monotonic() - t0
            cpu1 = procs.cpu_seconds(worker.pid) or cpu0
            work1 = work_counts(env["HUIYIN_DATABASE_URL"])
            with open(log, "rb") as fh:
                fh.seek(offset)
                during = fh.read().decode(errors="replace").splitlines()
            passes = [ln.split("worker pass:", 1)[1] for ln in during if "worker pass:" in ln]
            done: dict[str, int] = {}
            for line in passes:
                for part in line.split(","):
                    key, _, value = part.strip().partition("=")
                    if value.strip().isdigit():
                        done[key] = done.get(key, 0) + int(value)
            res["worker_during_window"] = {
                "passes_finished": len(passes), "work_done": done,
                # committed by the worker while intake was measured, counted in the database
                "committed": {k: work1[k] - work0[k] for k in work1 if k in work0} if work0 and work1 else None,
                "cpu_share_of_one_core": round((cpu1 - cpu0) / elapsed, 2) if elapsed else None,
                "failed_passes": sum("worker pass failed" in ln for ln in during),
            }
            say(f"   worker during the window: {len(passes)} passes finished, committed "
                + ", ".join(f"{k}={v}" for k, v in (res["worker_during_window"]["committed"] or {}).items())
                + f"; {res['worker_during_window']['cpu_share_of_one_core']} of a core")
            worker.stop(timeout=30)
            worker = None
            whole = log.read_text(errors="replace").splitlines()
            res["worker_during_window"]["passes_until_stopped"] = sum("worker pass:" in ln for ln in whole)
            loadgen.paced(url, rate=rate, seconds=cfg.warmup, body=body, tokens=tokens)  # settle
            res["stopped_after"] = measure("stopped again")
            stopped = res["stopped_before"]["p95_ms"]
            res["p95_ratio"] = round(res["running"]["p95_ms"] / stopped, 2) if stopped else None
            after = res["stopped_after"]["p95_ms"]
            res["p95_ratio_vs_after"] = round(res["running"]["p95_ms"] / after, 2) if after else None
        finally:
            if worker is not None:
                worker.stop(timeout=30)
            server.stop()
            res["load_after"] = os.getloadavg()

    # --- memory: the background worker ---------------------------------------------------

    def worker_memory(self, backend: str, env: dict[str, str], against: str) -> None:
        say(f"-- worker memory on {backend}: huiyin worker --interval 1 for {self.cfg.worker_seconds:.0f}s "
            f"(or until its first pass is done, at most {self.cfg.worker_cap:.0f}s)")
        log = self.tmp / f"worker-{backend}.log"
        proc = procs.spawn(f"worker-{backend}", [str(VENV_BIN / "huiyin"), "worker", "--interval", "1"],
                           env=env, log=log, cwd=str(REPO))
        samples = []
        first_pass_s = None
        started = time.monotonic()
        try:
            # Sample for worker_seconds, and on until the first pass is over (it logs
            # "worker pass: …" or "worker stopped"), up to worker_cap seconds.
            while proc.alive():
                mem = procs.memory(proc.pid)
                if mem:
                    samples.append(mem)
                elapsed = time.monotonic() - started
                if first_pass_s is None and log.exists() and "worker pass:" in log.read_text(errors="replace"):
                    first_pass_s = round(elapsed, 1)
                if elapsed >= self.cfg.worker_seconds and (first_pass_s is not None or
                                                           elapsed >= self.cfg.worker_cap):
                    break
                time.sleep(0.2)
        finally:
            proc.stop(timeout=15)
        sampled_s = round(time.monotonic() - started, 1)
        jobs: dict[str, int] = {}
        tail: list[str] = []
        if log.exists():
            lines = log.read_text(errors="replace").splitlines()
            tail = lines[-15:]
            for line in lines:
                # "worker pass: sweep_breaches=462, deliver_outbox=100" (or the older
                # "marked 462 breached timers")
                if "worker pass:" in line:
                    for part in line.split("worker pass:", 1)[1].split(","):
                        key, _, value = part.strip().partition("=")
                        if value.strip().isdigit():
                            jobs[key] = jobs.get(key, 0) + int(value)
                elif "marked" in line and "breached timers" in line:
                    word = line.split("marked", 1)[1].split()[0]
                    if word.isdigit():
                        jobs["sweep_breaches"] = jobs.get("sweep_breaches", 0) + int(word)
        marked = jobs.get("sweep_breaches", 0)
        out = {
            "against": against,
            "seconds": sampled_s,
            "first_pass_s": first_pass_s,  # None: no pass with work finished while sampled
            "samples": len(samples),
            "rss_mb_max": round(max((s["VmRSS"] for s in samples), default=0) / 1024, 1),
            "rss_mb_last": round(samples[-1]["VmRSS"] / 1024, 1) if samples else None,
            "hwm_mb": round(max((s.get("VmHWM", 0) for s in samples), default=0) / 1024, 1),
            "breaches_marked": marked,
            "jobs_done": jobs,
            "log_tail": tail,
        }
        if not samples:
            out["error"] = "the worker exited before it could be sampled:\n" + proc.log_tail()
        self.results["memory"].setdefault(backend, {})["worker"] = out
        say(f"   worker RSS max {out['rss_mb_max']} MB; work done: "
            + (", ".join(f"{k}={v}" for k, v in jobs.items()) or "none logged"))

    # --- small phases --------------------------------------------------------------------

    def scratch_env(self) -> dict[str, str]:
        """A migrated throw-away SQLite database for the phases that need only the app."""
        path = self.tmp / "scratch.sqlite3"
        fresh = not path.exists()
        url = guard.create_sqlite(path, self.token) if fresh else f"sqlite:///{path}"
        env = self.base_env(url, "scratch")
        if fresh:
            procs.run([str(VENV_BIN / "huiyin"), "migrate", "--noinput", "-v0"], env=env, timeout=300,
                      log=self.tmp / "scratch.log", cwd=str(REPO))
        return env

    def deadline(self) -> None:
        say("-- deadline computations (bench.deadlines.run)")
        res = self.child("deadline", self.scratch_env(), {"seconds": self.cfg.deadline_seconds})
        self.results["deadline"] = res
        say("   " + ", ".join(f"{k} {v:,.0f}" for k, v in res.items()))

    def notify(self) -> None:
        say("-- notify (bench.notify.run, if it exists)")
        res = self.child("notify", self.scratch_env(), self.cfg.notify_args, timeout=900)
        self.results["notify"] = res
        say("   " + (res.get("skipped") or json.dumps(res.get("results"), ensure_ascii=False)[:300]))

    def rules(self) -> None:
        say("-- rules evaluated on intake (insurance preset)")
        res = self.child("rules", self.scratch_env(),
                         {"preset": "insurance", "n": 20 if self.cfg.smoke else 100 if self.cfg.quick else 300})
        self.results["rules"] = res
        say("   " + json.dumps(res, ensure_ascii=False)[:300])

    # --- all -----------------------------------------------------------------------------

    def run(self) -> None:
        started = time.monotonic()
        errors = self.results.setdefault("errors", [])

        def guarded(label: str, fn: Any, *a: Any, **kw: Any) -> None:
            try:
                fn(*a, **kw)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # noqa: BLE001 — one failed phase must not lose the others
                msg = f"{label}: {type(exc).__name__}: {exc}"
                errors.append(msg[:5000])
                say(f"!! {msg[:2000]}")

        for backend in self.backends:
            if "intake" in self.phases:
                guarded(f"intake/{backend}", self.intake, backend)
            elif "memory" in self.phases:
                guarded(f"memory/{backend}", self.intake, backend, memory_only=True)
        for backend in reversed(self.backends):  # PostgreSQL first: the headline figure
            if {"list", "worker", "text", "channels", "reports"} & set(self.phases):  # channels: the screen-pop at the loaded db
                guarded(f"loaded/{backend}", self.loaded_phase, backend)
        if "deadline" in self.phases:
            guarded("deadline", self.deadline)
        if "notify" in self.phases:
            guarded("notify", self.notify)
        if "rules" in self.phases:
            guarded("rules", self.rules)
        if "channels" in self.phases:
            guarded("channels", channels.phase, self)
        self.results["wall_seconds"] = round(time.monotonic() - started, 1)

    def cleanup(self) -> None:
        procs.stop_all()
        if self.pg is not None:
            self.pg.stop(str(REPO))
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- helpers -------------------------------------------------------------------------------


def token(base: str, username: str) -> str:
    password = os.environ.get("HUIYIN_DEMO_PASSWORD", "huiyin-demo")
    req = urllib.request.Request(
        f"{base}/api/v1/auth/token", data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return str(json.loads(resp.read())["token"])


def post(url: str, body: bytes, tok: str) -> int:
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {tok}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def drain(db_url: str, table: str, *, cap: float = 15.0) -> float:
    """Wait until the server has finished the requests still queued in its listen backlog
    when the load generator stopped (sync workers run them anyway): until `table` stops
    growing for 0.5 s. Without this, the next run would start behind that work."""
    start = time.monotonic()
    last, still = None, 0
    while time.monotonic() - start < cap:
        rows = count_rows(db_url)
        n = rows[table] if rows else None
        still = still + 1 if n is not None and n == last else 0
        if still >= 2:
            break
        last = n
        time.sleep(0.25)
    return round(time.monotonic() - start, 2)


WORK_QUERIES = {
    "breach_events": "SELECT count(*) FROM cases_event WHERE action = 'breach'",
    "rule_hits": "SELECT count(*) FROM cases_rulehit",
    "reminded_timers": "SELECT count(*) FROM cases_timer WHERE reminded_at IS NOT NULL AND stopped_at IS NULL",
    "outbox_messages": "SELECT count(*) FROM notify_message",
    "inbox_items": "SELECT count(*) FROM notify_inboxitem",
}


def work_counts(db_url: str) -> dict[str, int] | None:
    """What the worker has committed so far (read-only counts), to tell what it did in a window."""
    try:
        if db_url.startswith("sqlite:///"):
            conn = sqlite3.connect(f"file:{guard.sqlite_path(db_url)}?mode=ro", uri=True, timeout=30)
            try:
                return {k: conn.execute(q).fetchone()[0] for k, q in WORK_QUERIES.items()}
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(db_url, connect_timeout=10) as pconn:
            return {k: pconn.execute(q).fetchone()[0] for k, q in WORK_QUERIES.items()}  # type: ignore[index]
    except Exception:  # noqa: BLE001 — an explanation of the figure, not the figure
        return None


def count_rows(db_url: str) -> dict[str, int] | None:
    tables = ("cases_case", "bench_bare")
    try:
        if db_url.startswith("sqlite:///"):
            conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=30)
            try:
                return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(db_url, connect_timeout=10) as conn:
            return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}  # type: ignore[index]
    except Exception:  # noqa: BLE001 — a cross-check only
        return None


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_avg_start": os.getloadavg(),
        "sqlite": sqlite3.sqlite_version,
    }
    try:
        info["mem_total_gb"] = round(int(Path("/proc/meminfo").read_text().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        info["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                            text=True, timeout=10, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True,
                               timeout=10, check=False).stdout
        info["git_dirty_files"] = len(dirty.splitlines())
    except (OSError, subprocess.SubprocessError):
        pass
    if shutil.which("wrk"):
        try:
            info["wrk"] = subprocess.run(["wrk", "--version"], capture_output=True, text=True,
                                         timeout=10, check=False).stdout.splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            pass
    return info


# --- report ----------------------------------------------------------------------------------


def summary_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for backend, res in results.get("intake", {}).items():
        if "skipped" in res:
            rows.append({"figure": f"intake/rows ratio, {backend}", "value": "skipped", "goal": "≥ 50%",
                         "status": "skip", "why": res["skipped"]})
            continue
        for c, row in res.get("runs", {}).items():
            ratio, ratio_rows = row.get("ratio"), row.get("ratio_rows")
            rows.append({
                "figure": f"intake/rows ratio, {backend}, {c} clients",
                "value": f"{ratio_rows:.0%} ({row['intake']['rps']:.0f} vs {row['rows']['rps']:.0f} req/s)"
                if ratio_rows is not None else "n/a",
                "goal": f"≥ {GOALS['intake_ratio']:.0%}",
                "status": "pass" if ratio_rows is not None and ratio_rows >= GOALS["intake_ratio"] else "MISS",
            })
            rows.append({
                "figure": f"intake/bare ratio, {backend}, {c} clients",
                "value": f"{ratio:.0%} ({row['intake']['rps']:.0f} vs {row['bare']['rps']:.0f} req/s)"
                if ratio is not None else "n/a",
                "goal": "—", "status": "info",
            })
    for backend, res in results.get("worker", {}).items():
        if "skipped" in res or "p95_ratio" not in res:
            rows.append({"figure": f"intake p95 worker running/stopped, {backend}",
                         "value": res.get("skipped", "not measured (see errors)"), "goal": "< 2×", "status": "skip"})
            continue
        r = res["p95_ratio"]
        rows.append({
            "figure": f"intake p95 worker running/stopped, {backend} ({res['rate']:g}/s, {res['cases']:,} cases)",
            "value": f"{r:.2f}× ({res['running']['p95_ms']:.0f} vs {res['stopped_before']['p95_ms']:.0f} ms; "
                     f"stopped again {res['stopped_after']['p95_ms']:.0f} ms)",
            "goal": f"< {GOALS['worker_p95_ratio']:g}×",
            "status": "pass" if r is not None and r < GOALS["worker_p95_ratio"] else "MISS",
        })
    for backend, res in results.get("list", {}).items():
        if "skipped" in res:
            rows.append({"figure": f"list p95, {backend}", "value": "skipped", "goal": "< 100 ms",
                         "status": "skip", "why": res["skipped"]})
            continue
        n = res.get("dataset", {}).get("stats", {}).get("cases")
        for name, q in res.get("queries", {}).items():
            rows.append({
                "figure": f"list p95, {backend} ({n:,} cases), {name}",
                "value": f"{q['p95_ms']:.1f} ms" + ("" if q["status"] == 200 else f" (HTTP {q['status']})"),
                "goal": f"< {GOALS['list_p95_ms']:.0f} ms",
                "status": "pass" if q["pass"] else "MISS",
            })
    dl = results.get("deadline") or {}
    for key in ("working_days_per_s", "business_hours_per_s"):
        if key in dl:
            rows.append({"figure": f"deadlines/s, {key.removesuffix('_per_s')}", "value": f"{dl[key]:,.0f}/s",
                         "goal": f"≥ {GOALS['deadlines_per_s']:,}/s",
                         "status": "pass" if dl[key] >= GOALS["deadlines_per_s"] else "MISS"})
    for backend, mem in results.get("memory", {}).items():
        for pid, w in (mem.get("gunicorn_workers") or {}).get("workers", {}).items():
            rows.append({"figure": f"RSS gunicorn worker {pid}, {backend}", "value": f"{w['rss_mb']:.0f} MB",
                         "goal": f"< {GOALS['rss_mb']:.0f} MB",
                         "status": "pass" if w["rss_mb"] < GOALS["rss_mb"] else "MISS"})
        wk = mem.get("worker")
        if wk:
            rows.append({"figure": f"RSS huiyin worker (max), {backend}", "value": f"{wk['rss_mb_max']:.0f} MB",
                         "goal": f"< {GOALS['rss_mb']:.0f} MB",
                         "status": "pass" if wk["samples"] and wk["rss_mb_max"] < GOALS["rss_mb"] else "MISS"})
    nt = results.get("notify") or {}
    if nt:
        if "results" in nt:
            for key, value in sorted(_flat(nt["results"]).items()):
                rows.append({"figure": f"notify {key}", "value": str(value), "goal": "—", "status": "info"})
        else:
            rows.append({"figure": "notify bench", "value": nt.get("skipped") or nt.get("error", "see JSON"),
                         "goal": "—", "status": "skip"})
    for backend, web in (results.get("web") or {}).items():
        for name, page in (web.get("pages") or {}).items():
            rows.append({"figure": f"web p95, {backend} ({web.get('cases', 0):,} cases), {name}",
                         "value": f"{page['p95_ms']:.1f} ms", "goal": "< 150 ms",
                         "status": "pass" if page["p95_ms"] < 150 else "MISS"})
        if "error" in web:
            rows.append({"figure": f"web, {backend}", "value": web["error"][:120], "goal": "—", "status": "MISS"})
    for backend, sch in (results.get("scheduler") or {}).items():
        if "pass_s" in sch:
            rows.append({"figure": f"scheduler pass, {backend} ({sch['cases']:,} cases, {sch['due']:,} due)",
                         "value": f"{sch['pass_s']:.2f} s", "goal": "< 2 s (PostgreSQL)",
                         "status": "pass" if sch["pass_s"] < 2 else "MISS"})
        elif "error" in sch:
            rows.append({"figure": f"scheduler, {backend}", "value": sch["error"][:120], "goal": "—", "status": "MISS"})
    ru = results.get("rules") or {}
    if "rule_evaluations_per_s" in ru:
        rows.append({"figure": f"rules on intake ({ru['preset']}, {ru['rules']} rules)",
                     "value": f"{ru['rule_evaluations_per_s']:,.0f} rule evaluations/s ({ru['cases_per_s']:,.0f} cases/s)",
                     "goal": "—", "status": "info"})
    rows += channels.summary_rows(results.get("channels") or {})
    rows += reports_bench.summary_rows(results.get("reports") or {})
    return rows


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        elif isinstance(v, (int, float, str)):
            out[key] = v
    return out


def render(results: dict[str, Any]) -> str:
    out: list[str] = []
    w = out.append
    w(f"Huiyin bench — {results['started_at']} — {results['mode']} run, "
      f"{results['machine'].get('cpus')} CPUs, load avg at start "
      f"{' '.join(f'{x:.2f}' for x in results['machine']['load_avg_start'])} (figures are noisy: shared machine)")
    if results["intake"]:
        any_res = next((r for r in results["intake"].values() if "runs" in r), None)
        w("")
        w(f"Intake: POST /api/v1/cases vs the ceilings POST /bench/rows and /bench/bare, gunicorn -w {results.get('workers', 2)} sync "
          "on 127.0.0.1"
          + (f", {any_res['client']}, {any_res['seconds']} s per run after {any_res['warmup_seconds']} s warm-up"
             if any_res else ""))
        w(f"  rows = {ROWS_DESCRIPTION}")
        w(f"  bare = {BARE_DESCRIPTION}")
        w(f"  {'db':<11}{'clients':>7} {'intake/s':>9} {'p50 ms':>7} {'p95 ms':>7} {'rows/s':>9} {'bare/s':>9} "
          f"{'÷rows':>6} {'÷bare':>6}  {'goal ≥50% of rows':<17} {'in-process intake/rows/bare ms':>32}")
        for backend, res in results.get("intake", {}).items():
            if "skipped" in res:
                w(f"  {backend:<11}skipped: {res['skipped']}")
                continue
            ip = res.get("in_process", {})
            ipt = (f"{ip['intake']['p50_ms']:.1f} / {ip['rows']['p50_ms']:.1f} / {ip['bare']['p50_ms']:.1f} "
                   f"({ip['intake']['sql_per_request']} SQL)" if "intake" in ip and "rows" in ip else "")
            for c, row in res.get("runs", {}).items():
                i, rw, b = row["intake"], row["rows"], row["bare"]
                ratio, ratio_rows = row["ratio"] or 0.0, row["ratio_rows"] or 0.0
                flag = "pass" if ratio_rows >= GOALS["intake_ratio"] else "MISS"
                errs = sum(v["non_2xx"] + v["socket_errors"] for v in (i, rw, b))
                w(f"  {backend:<11}{c:>7} {i['rps']:>9.1f} {i['p50_ms']:>7.1f} {i['p95_ms']:>7.1f} {rw['rps']:>9.1f} "
                  f"{b['rps']:>9.1f} {ratio_rows:>6.0%} {ratio:>6.0%}  {flag:<17} {ipt:>32}"
                  + (f"  ({errs} errors)" if errs else ""))
                ipt = ""
    if results["list"]:
        w("")
        w("List: GET /api/v1/cases?…&limit=20, in-process (django.test.Client: server time incl. auth), goal p95 < 100 ms")
        for backend, res in results.get("list", {}).items():
            if "skipped" in res:
                w(f"  {backend}: skipped — {res['skipped']}")
                continue
            ds = res.get("dataset", {})
            st = ds.get("stats", {})
            w(f"  {backend}: {st.get('cases', 0):,} cases, {st.get('timers', 0):,} timers "
              f"({st.get('open_timers_past_due', 0):,} open past due), loaded in {ds.get('wall_s')} s")
            w(f"    {'query':<24}{'what':<44}{'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'SQL':>4}  result")
            for name, q in res.get("queries", {}).items():
                w(f"    {name:<24}{q['what'][:43]:<44}{q['n']:>4} {q['p50_ms']:>8.1f} {q['p95_ms']:>8.1f} "
                  f"{q['sql_per_request']:>4}  {'pass' if q['pass'] else 'MISS'}"
                  + ("" if q["status"] == 200 else f" HTTP {q['status']}")
                  + (f"  ← {'; '.join(q.get('hints') or [])}" if not q["pass"] and q.get("hints") else ""))
    if results.get("worker"):
        w("")
        w("Worker: intake p95 under a steady open-loop load with `huiyin worker --interval 1` stopped / running "
          "/ stopped again (goal: running < 2× stopped)")
        for backend, res in results["worker"].items():
            if "running" not in res:
                w(f"  {backend}: {res.get('skipped', 'not measured (see errors)')}")
                continue
            wd = res.get("worker_during_window", {})
            w(f"  {backend}: {res['cases']:,} cases, {res['rate']:g} intakes/s, {res['window_s']:.0f} s windows: "
              + "  ".join(f"{label} p50 {res[k]['p50_ms']:.0f} / p95 {res[k]['p95_ms']:.0f} / max "
                          f"{res[k]['max_ms']:.0f} ms" for k, label in (
                              ("stopped_before", "stopped"), ("running", "running"), ("stopped_after", "stopped"))))
            w(f"    ratio {res['p95_ratio']}× ({res['p95_ratio_vs_after']}× against the second stopped window); "
              f"worker in the window: {wd.get('passes_finished')} passes finished, committed "
              + (", ".join(f"{k}={v}" for k, v in (wd.get("committed") or {}).items()) or "nothing")
              + f", {wd.get('cpu_share_of_one_core')} of a core")
    if results.get("deadline"):
        w("")
        w("Deadlines: bench.deadlines.run() — " + ", ".join(
            f"{k} {v:,.0f}" for k, v in results["deadline"].items()) + " (goal ≥ 200,000/s)")
    if results["memory"]:
        w("")
        w("Memory (VmRSS; goal < 200 MB each)")
        for backend, mem in results.get("memory", {}).items():
            gw = mem.get("gunicorn_workers")
            if gw:
                w(f"  {backend}: gunicorn workers after {gw['after']}: " + ", ".join(
                    f"pid {pid} {x['rss_mb']} MB (peak {x['hwm_mb']})" for pid, x in gw["workers"].items()))
            wk = mem.get("worker")
            if wk:
                w(f"  {backend}: huiyin worker --interval 1 for {wk['seconds']:.0f} s against {wk['against']}: "
                  f"max {wk['rss_mb_max']} MB, peak {wk['hwm_mb']} MB; "
                  + (f"first pass {wk['first_pass_s']} s; " if wk.get("first_pass_s") else "")
                  + "work done: "
                  + (", ".join(f"{k}={v}" for k, v in wk.get("jobs_done", {}).items()) or "none logged"))
    if results.get("notify"):
        nt = results["notify"]
        w("")
        w("Notify: " + (f"skipped — {nt['skipped']}" if "skipped" in nt else
                        json.dumps(nt.get("results"), ensure_ascii=False)))
    rows = summary_rows(results)
    w("")
    w("Summary")
    width = max([len(r["figure"]) for r in rows] + [10])
    vwidth = max([len(str(r["value"])) for r in rows] + [10])
    for r in rows:
        w(f"  {r['figure']:<{width}}  {r['value']!s:<{vwidth}}  {r['goal']:<10} {r['status']}")
    missed = [r for r in rows if r["status"] == "MISS"]
    judged = [r for r in rows if r["status"] in ("pass", "MISS")]
    w("  no figure to judge." if not judged else f"  {len(judged) - len(missed)} of {len(judged)} figures meet their goal"
      + (f"; {len(missed)} missed (MISS above)" if missed else "."))
    for note in results.get("notes", []):
        w(f"  note: {note}")
    for err in results.get("errors", []):
        w(f"  ERROR: {err.splitlines()[0][:300]}")
    if results.get("interrupted"):
        w("  INTERRUPTED: the results are partial.")
    return "\n".join(out)


def write_json(results: dict[str, Any], prefix: str = "") -> Path:
    var = Path(os.environ.get("HUIYIN_VAR_DIR") or REPO / "var")
    outdir = var / "bench"
    outdir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    path = outdir / f"{prefix}{stamp}.json"
    text = json.dumps(results, ensure_ascii=False, indent=1, default=str)
    path.write_text(text)
    (outdir / f"{prefix}latest.json").write_text(text)
    return path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from bench import __doc__ as package_doc

    p = argparse.ArgumentParser(prog="python -m bench", description=package_doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer seconds, 100,000 cases instead of 1,000,000")
    p.add_argument("--smoke", action="store_true",
                   help="a check that every phase still runs: 2,000 cases, 1-second runs, tiny samples "
                        "(make bench-smoke); its figures mean nothing")
    p.add_argument("--worker-rate", type=float, default=10.0,
                   help="intakes per second (open loop) while the worker phase measures p95 (default 10)")
    p.add_argument("--worker-seconds", type=int,
                   help="seconds per window of the worker phase (default 15; --quick 5)")
    p.add_argument("--only", action="append", choices=PHASES, metavar="|".join(PHASES),
                   help="run only this phase (repeatable)")
    p.add_argument("--backend", action="append", choices=BACKENDS, help="only this database (repeatable)")
    p.add_argument("--cases", type=int, help="cases to load for the list and worker phases")
    p.add_argument("--seconds", type=int, help="seconds per intake run")
    p.add_argument("--workers", type=int, default=2,
                   help="gunicorn sync workers of every server the bench starts (default 2)")
    p.add_argument("--client", choices=("wrk", "python-asyncio"), help="load generator (default: wrk if installed)")
    p.add_argument("--sqlite-list-max", type=int, default=1_000_000,
                   help="skip the SQLite list bench above this many cases (default 1,000,000)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = Config(args)
    phases = args.only or list(PHASES)
    backends = args.backend or list(BACKENDS)
    if cfg.client == "wrk" and not shutil.which("wrk"):
        say("wrk is not installed (apt-get install wrk); using the built-in asyncio client")
        cfg.client = "python-asyncio"
    if os.environ.get("HUIYIN_DATABASE_URL"):
        say(f"note: HUIYIN_DATABASE_URL ({guard.redact(os.environ['HUIYIN_DATABASE_URL'])}) is ignored: the bench "
            "only ever runs against databases it creates itself, and refuses any other (bench/guard.py)")
    bench = Bench(cfg, phases, backends)
    if cfg.client != "wrk":
        bench.results["notes"].append(
            "Load generator: built-in asyncio client (wrk not installed) — it shares the 2 cores with the server.")

    def on_signal(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    # SIGINT too: a shell that starts the bench in the background hands it SIGINT ignored.
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    rc = 0
    try:
        say(f"Huiyin bench ({bench.results['mode']}): phases {', '.join(phases)}; databases {', '.join(backends)}; "
            f"temp dir {bench.tmp}")
        bench.run()
    except KeyboardInterrupt:
        bench.results["interrupted"] = True
        say("\ninterrupted — stopping everything the bench started")
        rc = 130
    finally:
        for s in old:  # a second Ctrl-C must not cut the cleanup short
            signal.signal(s, signal.SIG_IGN)
        try:
            bench.cleanup()
        finally:
            for s, h in old.items():
                signal.signal(s, h)
    bench.results["finished_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
    bench.results["machine"]["load_avg_end"] = os.getloadavg()
    bench.results["summary"] = summary_rows(bench.results)
    path = write_json(bench.results)
    print(render(bench.results))
    print(f"\nFull results: {path} (and {path.parent / 'latest.json'})")
    if bench.results.get("errors") and rc == 0:
        rc = 1
    if cfg.smoke and rc == 0 and (problems := smoke_problems(bench.results)):
        print("\nSmoke check failed:\n  " + "\n  ".join(problems))
        rc = 1
    return rc


def smoke_problems(results: dict[str, Any]) -> list[str]:
    """What a smoke run must have produced: every asked-for phase, no page answering an error."""
    out = []
    for phase in results["phases"]:
        if phase in ("intake", "list", "worker") and not any(
                "skipped" not in v for v in results.get(phase, {}).values()):
            out.append(f"phase {phase}: no figures")
    for backend, web in (results.get("web") or {}).items():
        errors = {k: v["error"] for k, v in (web.get("pages") or {}).items() if "error" in v}
        if errors or "error" in web:
            out.append(f"web pages on {backend}: {errors or web['error']}")
        page = (web.get("pages") or {}).get("case_page_dispatcher", {})
        if not page.get("p95_ms", 0) > 0:
            out.append(f"web pages on {backend}: the dispatcher's case page was not measured")
    for backend, res in (results.get("worker") or {}).items():
        if "skipped" not in res and res.get("p95_ratio") is None:
            out.append(f"worker on {backend}: no p95 ratio")
    if "channels" in results["phases"]:
        out += channels.smoke_problems(results.get("channels") or {})
    if "reports" in results["phases"]:
        out += reports_bench.smoke_problems(results.get("reports") or {})
    return out
