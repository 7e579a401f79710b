"""The bench driver: phases, servers, databases, the table and the JSON.

The driver does not set up Django; it starts gunicorn, PostgreSQL, `huiyin` commands and
`huiyin.bench.child` tasks as child processes with the environment of the database under
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

from . import loadgen, pg, procs
from .bare import DESCRIPTION as BARE_DESCRIPTION

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PHASES = ("intake", "list", "deadline", "memory", "notify", "rules")
BACKENDS = ("sqlite", "postgresql")
CONCURRENCY = (1, 8, 32)
GOALS = {
    "intake_ratio": 0.5,
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


def say(msg: str = "") -> None:
    print(msg, file=sys.stderr, flush=True)


class Config:
    def __init__(self, args: argparse.Namespace) -> None:
        self.quick = args.quick
        self.seconds = max(2, args.seconds or (3 if args.quick else 10))
        self.warmup = 1 if args.quick else 2
        self.cases = args.cases or (100_000 if args.quick else 1_000_000)
        self.samples = 20 if args.quick else 50
        self.budget_s = 8.0 if args.quick else 30.0
        self.worker_seconds = 5.0 if args.quick else 10.0
        self.worker_cap = 20.0 if args.quick else 60.0
        self.deadline_seconds = 1.0 if args.quick else 2.0
        self.sqlite_list_max = args.sqlite_list_max
        self.client = args.client or loadgen.available()


class Bench:
    def __init__(self, cfg: Config, phases: list[str], backends: list[str]) -> None:
        self.cfg, self.phases, self.backends = cfg, phases, backends
        self.tmp = Path(tempfile.mkdtemp(prefix="huiyin-bench-"))
        self.pg: pg.Server | None = None
        self.pg_skip = ""
        self.results: dict[str, Any] = {
            "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "mode": "quick" if cfg.quick else "full",
            "phases": phases,
            "backends": backends,
            "machine": machine_info(),
            "goals": GOALS,
            "notes": [
                "Figures are noisy: 2 cores shared with other users' test runs; load average recorded per phase.",
            ],
            "intake": {}, "list": {}, "deadline": {}, "memory": {}, "notify": {},
        }

    # --- environment ------------------------------------------------------------------

    def base_env(self, db_url: str, name: str) -> dict[str, str]:
        var = self.tmp / f"var-{name}"
        (var / "static").mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HUIYIN_", "DJANGO_"))}
        env.update({
            "HUIYIN_DATABASE_URL": db_url,
            "HUIYIN_VAR_DIR": str(var),
            "HUIYIN_DEBUG": "0",
            "HUIYIN_DEMO_PASSWORD": os.environ.get("HUIYIN_DEMO_PASSWORD", "huiyin-demo"),
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
        if backend == "sqlite":
            path = self.tmp / f"{phase}.sqlite3"
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            return f"sqlite:///{path}"
        server = self.postgres()
        return server.fresh_database(phase) if server else None

    def drop_db(self, backend: str, url: str) -> None:
        if backend == "sqlite":
            path = url.removeprefix("sqlite:///")
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
        cmd = [sys.executable, "-m", "huiyin.bench.child", task, str(out), json.dumps(args or {})]
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
        port = procs.free_port()
        server = procs.spawn(
            f"gunicorn-{backend}",
            [str(VENV_BIN / "gunicorn"), "huiyin.bench.wsgi:application", "-w", "2", "-b", f"127.0.0.1:{port}"],
            env=env, log=self.tmp / f"gunicorn-{backend}.log", cwd=str(REPO),
        )
        res: dict[str, Any] = {
            "server": "gunicorn huiyin.bench.wsgi:application -w 2 (sync) -b 127.0.0.1",
            "client": cfg.client, "seconds": cfg.seconds, "warmup_seconds": cfg.warmup,
            "bare_view": BARE_DESCRIPTION, "body": INTAKE_BODY, "load_before": os.getloadavg(), "runs": {},
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
            for path in ("/api/v1/cases", "/bench/bare"):  # sanity: both answer 201
                status = post(base + path, body.replace(b"@PHONE@", b"13800138000"), tokens[0])
                if status != 201:
                    raise RuntimeError(f"POST {path} answered {status}, not 201:\n{server.log_tail()}")
            urls = {"intake": f"{base}/api/v1/cases", "bare": f"{base}/bench/bare"}
            levels = (8,) if memory_only else CONCURRENCY
            seconds = min(3, cfg.seconds) if memory_only else cfg.seconds
            for c in levels:
                row: dict[str, Any] = {}
                for view in ("bare", "intake"):
                    table = "cases_case" if view == "intake" else "bench_bare"
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
                                               {"body": json.dumps(INTAKE_BODY, ensure_ascii=False), "n": 50,
                                                "profile": True})
            except RuntimeError as exc:
                res["in_process"] = {"error": str(exc)[:2000]}
        if "memory" in self.phases and "list" not in self.phases:
            self.worker_memory(backend, env, "the intake database (few cases; the worker idles)")
        self.drop_db(backend, db)

    # --- list ----------------------------------------------------------------------------

    def list_phase(self, backend: str) -> None:
        cfg = self.cfg
        if backend == "sqlite" and cfg.cases > cfg.sqlite_list_max:
            why = (f"SQLite list bench skipped at {cfg.cases:,} cases (limit --sqlite-list-max "
                   f"{cfg.sqlite_list_max:,})")
            self.results["list"][backend] = {"skipped": why}
            say(f"-- {why}")
            return
        db = self.fresh_db(backend, "list")
        if db is None:
            self.results["list"][backend] = {"skipped": self.pg_skip}
            return
        say(f"-- list on {backend}: fresh database, migrate, demo, bulk-load {cfg.cases:,} cases")
        env = self.base_env(db, f"list-{backend}")
        self.prepare(env, self.tmp / f"list-{backend}.log")
        t0 = time.perf_counter()
        loaded = self.child("load", env, {"n": cfg.cases}, timeout=3600, live=True)
        loaded["wall_s"] = round(time.perf_counter() - t0, 1)
        say(f"   loaded in {loaded['wall_s']}s: {loaded['stats']['cases']:,} cases, "
            f"{loaded['stats']['timers']:,} timers ({loaded['stats']['open_timers_past_due']:,} open past due)")
        say(f"   measuring {cfg.samples} requests per query (in-process, server time)")
        res = self.child("list", env, {"n": cfg.cases, "samples": cfg.samples, "budget_s": cfg.budget_s},
                         timeout=3600, live=True)
        res["dataset"] = loaded
        res["load_avg"] = os.getloadavg()
        self.results["list"][backend] = res
        say(f"   web pages (huiyin.web.bench) on {cfg.cases:,} cases")
        self.results.setdefault("web", {})[backend] = self.child(
            "web", env, {"samples": min(40, cfg.samples)}, timeout=1800, live=True)
        if "memory" in self.phases:
            self.worker_memory(backend, env, f"the list database ({cfg.cases:,} cases, past-due timers to mark)")
        due = min(10_000, max(100, cfg.cases // 100))
        say(f"   scheduler pass with {due:,} due (huiyin.bench.scheduler)")
        self.results.setdefault("scheduler", {})[backend] = self.child(
            "scheduler", env, {"due": due}, timeout=1800, live=True)
        self.drop_db(backend, db)

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
        env = self.base_env(f"sqlite:///{path}", "scratch")
        if not path.exists():
            procs.run([str(VENV_BIN / "huiyin"), "migrate", "--noinput", "-v0"], env=env, timeout=300,
                      log=self.tmp / "scratch.log", cwd=str(REPO))
        return env

    def deadline(self) -> None:
        say("-- deadline computations (huiyin.sla.bench.run)")
        res = self.child("deadline", self.scratch_env(), {"seconds": self.cfg.deadline_seconds})
        self.results["deadline"] = res
        say("   " + ", ".join(f"{k} {v:,.0f}" for k, v in res.items()))

    def notify(self) -> None:
        say("-- notify (huiyin.notify.bench.run, if it exists)")
        res = self.child("notify", self.scratch_env(), timeout=900)
        self.results["notify"] = res
        say("   " + (res.get("skipped") or json.dumps(res.get("results"), ensure_ascii=False)[:300]))

    def rules(self) -> None:
        say("-- rules evaluated on intake (insurance preset)")
        res = self.child("rules", self.scratch_env(), {"preset": "insurance", "n": 100 if self.cfg.quick else 300})
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
            if "list" in self.phases:
                guarded(f"list/{backend}", self.list_phase, backend)
        if "deadline" in self.phases:
            guarded("deadline", self.deadline)
        if "notify" in self.phases:
            guarded("notify", self.notify)
        if "rules" in self.phases:
            guarded("rules", self.rules)
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
            rows.append({"figure": f"intake/bare ratio, {backend}", "value": "skipped", "goal": "≥ 50%",
                         "status": "skip", "why": res["skipped"]})
            continue
        for c, row in res.get("runs", {}).items():
            ratio = row.get("ratio")
            rows.append({
                "figure": f"intake/bare ratio, {backend}, {c} clients",
                "value": f"{ratio:.0%} ({row['intake']['rps']:.0f} vs {row['bare']['rps']:.0f} req/s)"
                if ratio is not None else "n/a",
                "goal": f"≥ {GOALS['intake_ratio']:.0%}",
                "status": "pass" if ratio is not None and ratio >= GOALS["intake_ratio"] else "MISS",
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
        w("Intake: POST /api/v1/cases vs POST /bench/bare, gunicorn -w 2 sync on 127.0.0.1"
          + (f", {any_res['client']}, {any_res['seconds']} s per run after {any_res['warmup_seconds']} s warm-up"
             if any_res else ""))
        w(f"  bare = {BARE_DESCRIPTION}")
        w(f"  {'db':<11}{'clients':>7} {'intake/s':>9} {'p50 ms':>7} {'p95 ms':>7} {'bare/s':>9} {'p50 ms':>7} "
          f"{'p95 ms':>7} {'ratio':>6}  {'goal ≥50%':<9} {'in-process intake/bare ms':>26}")
        for backend, res in results.get("intake", {}).items():
            if "skipped" in res:
                w(f"  {backend:<11}skipped: {res['skipped']}")
                continue
            ip = res.get("in_process", {})
            ipt = (f"{ip['intake']['p50_ms']:.1f} / {ip['bare']['p50_ms']:.1f} ({ip['intake']['sql_per_request']} SQL)"
                   if "intake" in ip else "")
            for c, row in res.get("runs", {}).items():
                i, b, ratio = row["intake"], row["bare"], row["ratio"]
                flag = "pass" if ratio is not None and ratio >= GOALS["intake_ratio"] else "MISS"
                errs = i["non_2xx"] + i["socket_errors"] + b["non_2xx"] + b["socket_errors"]
                w(f"  {backend:<11}{c:>7} {i['rps']:>9.1f} {i['p50_ms']:>7.1f} {i['p95_ms']:>7.1f} {b['rps']:>9.1f} "
                  f"{b['p50_ms']:>7.1f} {b['p95_ms']:>7.1f} {ratio:>6.0%}  {flag:<9} {ipt:>26}"
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
    if results.get("deadline"):
        w("")
        w("Deadlines: huiyin.sla.bench.run() — " + ", ".join(
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


def write_json(results: dict[str, Any]) -> Path:
    var = Path(os.environ.get("HUIYIN_VAR_DIR") or REPO / "var")
    outdir = var / "bench"
    outdir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    path = outdir / f"{stamp}.json"
    text = json.dumps(results, ensure_ascii=False, indent=1, default=str)
    path.write_text(text)
    (outdir / "latest.json").write_text(text)
    return path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from huiyin.bench import __doc__ as package_doc

    p = argparse.ArgumentParser(prog="python -m huiyin.bench", description=package_doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer seconds, 100,000 cases instead of 1,000,000")
    p.add_argument("--only", action="append", choices=PHASES, metavar="|".join(PHASES),
                   help="run only this phase (repeatable)")
    p.add_argument("--backend", action="append", choices=BACKENDS, help="only this database (repeatable)")
    p.add_argument("--cases", type=int, help="cases to load for the list bench")
    p.add_argument("--seconds", type=int, help="seconds per intake run")
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
    return rc
