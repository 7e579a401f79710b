"""The text features under load (issue 13), in the bench's loaded database:

- `index`: the search index of the bulk-loaded cases (the loader writes rows with SQL, so the
  workflow's index writer never saw them): each distinct subject + description is cut once by
  the real tokeniser, then the rows are written with one INSERT … SELECT;
- `run`: search p95 through the API over the whole database (the case list's `q=`, ranked, and
  /api/v1/text/search with snippets) for rare, common, multi-word and missing words, as the
  dispatcher (sees all) and handler_b (~5 %); the three suggestion models trained from the closed
  cases and the intake assistant's p95 (/text/assist/: three predictions, similar open cases,
  render); the bag-of-words predict per case in bulk; training time at 100,000 cases (skipped
  with BENCH_TEXT_SKIP_TRAINING=1). Each figure has its wall and CPU milliseconds (the
  CPU of the bench's process: SQLite's work included, a PostgreSQL server's not) and the load
  average when it was taken.

The synthetic cases repeat a few dozen subjects and five descriptions, so the index holds few
distinct words with very long posting lists: a hard case for ranking (a common word matches
most of the million), an easy one for the vocabulary. Training at 100,000 uses the real
complaints of ../shared/data when present (each row made unique), else the synthetic texts.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .listq import pct

SEARCHES = [
    ("rare_words", "dispatcher", "跨区域销售", "words of one report subject (~2 % of cases)"),
    ("common_word", "dispatcher", "卷烟", "a word in most descriptions (hundreds of thousands of matches)"),
    ("two_words", "dispatcher", "送货员 无人接听", "two words, all required"),
    ("no_match", "dispatcher", "完全没有的词语", "no case has the words"),
    ("common_handler_b", "handler_b", "卷烟", "the common word as handler_b (~5 % of cases)"),
]
TYPED = [
    ("配送延误", "卷烟三天没有送到，送货员电话打不通"),
    ("客户经理态度差", "客户经理上门时态度恶劣，对货源政策解释不清"),
    ("举报销售假烟", "某商店销售假冒卷烟，包装印刷模糊"),
    ("许可证怎么办理", "想咨询新办零售许可证需要哪些材料"),
]


def index(log: Any = print) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from huiyin.text import tokens
    from huiyin.text.index import active_preset

    t0 = time.perf_counter()
    preset = active_preset()
    with connection.cursor() as cur:
        cur.execute("SELECT DISTINCT subject, description FROM cases_case")
        pairs = cur.fetchall()
    rows = [(s, d, tokens.index_tokens([s, d], preset=preset)) for s, d in pairs]
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("CREATE TEMPORARY TABLE bench_text_words (subject TEXT, description TEXT, tokens TEXT)")
        cur.executemany("INSERT INTO bench_text_words VALUES (%s, %s, %s)", rows)
        cur.execute(
            "INSERT INTO text_casetext (case_id, tokens, preset, indexed_at) "
            "SELECT c.id, w.tokens, %s, %s FROM cases_case c JOIN bench_text_words w "
            "ON w.subject = c.subject AND w.description = c.description "
            "WHERE NOT EXISTS (SELECT 1 FROM text_casetext t WHERE t.case_id = c.id)", [preset, now])
        written = cur.rowcount
        cur.execute("DROP TABLE bench_text_words")
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("VACUUM ANALYZE text_casetext")
        else:
            cur.execute("INSERT INTO text_casetext_fts(text_casetext_fts) VALUES ('optimize')")
    seconds = round(time.perf_counter() - t0, 1)
    log(f"search index: {written:,} rows from {len(pairs)} distinct texts in {seconds}s")
    return {"rows": written, "distinct_texts": len(pairs), "seconds": seconds}


def _timed(client: Any, url: str, samples: int, budget_s: float) -> tuple[list[float], list[float], Any]:
    """Wall and CPU milliseconds of `samples` GETs (in-process: the CPU time includes SQLite's own
    work, not a PostgreSQL server's)."""
    resp = None
    for _ in range(2):
        resp = client.get(url)
    times: list[float] = []
    cpu: list[float] = []
    started = time.perf_counter()
    while len(times) < samples and (len(times) < 5 or time.perf_counter() - started < budget_s):
        t0, c0 = time.perf_counter(), time.process_time()
        resp = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        if resp.status_code != 200:
            break
    return times, cpu, resp


def _summary(times: list[float], cpu: list[float] | None = None) -> dict[str, Any]:
    out = {"n": len(times), "p50_ms": round(pct(times, 50), 2), "p95_ms": round(pct(times, 95), 2),
           "max_ms": round(max(times), 2) if times else None}
    if cpu:
        out.update(cpu_p50_ms=round(pct(cpu, 50), 2), cpu_p95_ms=round(pct(cpu, 95), 2))
    out["load_avg"] = round(os.getloadavg()[0], 2)
    return out


def searches(samples: int, budget_s: float, log: Any) -> dict[str, Any]:
    from urllib.parse import urlencode

    from django.test import Client

    from huiyin.api.auth import token_issue
    from huiyin.org.models import User

    clients = {}
    for username in ("dispatcher", "handler_b"):
        token = token_issue(User.objects.get(username=username), name="bench-text")
        clients[username] = Client(headers={"Authorization": f"Bearer {token}"})
    out: dict[str, Any] = {}
    for name, user, q, what in SEARCHES:
        for endpoint, path in (("list", "/api/v1/cases?"), ("search", "/api/v1/text/search?")):
            url = path + urlencode({"q": q, "limit": 20})
            times, cpu, resp = _timed(clients[user], url, samples, budget_s)
            items = len(resp.json()["items"]) if resp is not None and resp.status_code == 200 else None
            res = {"what": what, "user": user, "url": url, "status": resp.status_code if resp else None,
                   "items": items, **_summary(times, cpu)}
            out[f"{name}/{endpoint}"] = res
            log(f"search {name:<18} {endpoint:<6} p50 {res['p50_ms']:>8.1f} ms  p95 {res['p95_ms']:>8.1f} ms  "
                f"(CPU {res['cpu_p50_ms']:>6.1f} / {res['cpu_p95_ms']:>6.1f})  items {items}  load {res['load_avg']}")
    return out


def suggestions(samples: int, budget_s: float, train_rows: int, log: Any) -> dict[str, Any]:
    from urllib.parse import urlencode

    from django.test import Client

    from huiyin.org.models import User
    from huiyin.text import classifier, suggest

    out: dict[str, Any] = {"train": {}}
    suggest.TRAIN_LIMIT = train_rows
    for target in suggest.TARGETS:
        t0 = time.perf_counter()
        try:
            model = suggest.retrain(target)
        except classifier.TrainingError as exc:
            out["train"][str(target)] = {"off": str(exc)}
            continue
        out["train"][str(target)] = {"rows": model.rows, "seconds": round(time.perf_counter() - t0, 1),
                                     "macro_f1": model.metrics.get("macro_f1")}
        log(f"trained {target} on {model.rows:,} closed cases in {out['train'][str(target)]['seconds']}s")
    client = Client()
    client.force_login(User.objects.get(username="agent"))
    times: list[float] = []
    cpu: list[float] = []
    started = time.perf_counter()
    i = 0
    for subject, description in TYPED:  # warm
        client.get("/text/assist/?" + urlencode({"subject": subject, "description": description}))
    while len(times) < samples and (len(times) < 5 or time.perf_counter() - started < budget_s):
        subject, description = TYPED[i % len(TYPED)]
        url = "/text/assist/?" + urlencode({"subject": subject, "description": description + f" {i}"})
        t0, c0 = time.perf_counter(), time.process_time()
        resp = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        assert resp.status_code == 200, resp.status_code
        i += 1
    out["assist"] = {"what": "GET /text/assist/ (3 suggestions, similar open cases, render)", **_summary(times, cpu)}
    log(f"intake assistant p50 {out['assist']['p50_ms']} ms, p95 {out['assist']['p95_ms']} ms "
        f"(CPU {out['assist']['cpu_p50_ms']} / {out['assist']['cpu_p95_ms']} ms)  load {out['assist']['load_avg']}")
    loaded = classifier.load("category")
    if loaded is not None:
        texts = [f"{s}\n{d} {k}" for k in range(250) for s, d in TYPED]
        t0 = time.perf_counter()
        loaded[1].predict(texts)
        out["bulk_predict_ms_per_case"] = round((time.perf_counter() - t0) * 1000 / len(texts), 3)
        log(f"bag-of-words predict in bulk: {out['bulk_predict_ms_per_case']} ms per case")
    return out


def training_at(n: int, log: Any) -> dict[str, Any]:
    import csv

    from huiyin.text import classifier
    from huiyin.text.evaluation import data_dir

    from .dataset import DESCRIPTIONS, SUBJECTS

    path = data_dir() / "tipdm_msg.train.csv"
    if path.is_file():
        with Path(path).open(encoding="utf-8", newline="") as f:
            rows = [(r["text"], r["label"]) for r in csv.DictReader(f)]
        source = "tipdm_msg.train.csv cycled, each row made unique by a suffix"
    else:
        rows = [(f"{s}\n{d}", kind) for kind, subs in SUBJECTS.items() for s in subs for d in DESCRIPTIONS]
        source = "the bench's synthetic subjects and descriptions"
    texts = [f"{rows[i % len(rows)][0]} 编号{i}" for i in range(n)]
    labels = [rows[i % len(rows)][1] for i in range(n)]
    t0 = time.perf_counter()
    _fitted, measured, config = classifier.fit(texts, labels, progress=lambda m: log(f"train {n:,}: {m}"))
    seconds = round(time.perf_counter() - t0, 1)
    log(f"training at {n:,} rows: {seconds}s")
    return {"rows": n, "seconds": seconds, "source": source, "features": config["features"],
            "held_back": measured.get("held_back"), "goal_s": 120}


def run(args: dict[str, Any], log: Any = print) -> dict[str, Any]:
    samples = int(args.get("samples", 30))
    budget_s = float(args.get("budget_s", 20.0))
    out: dict[str, Any] = {"search_goal_p95_ms": 100, "assist_goal_p95_ms": 150}
    parts = args.get("parts", ["search", "suggest"])  # `python -m bench.child text OUT '{"parts": ["search"]}'`
    if os.environ.get("BENCH_TEXT_PARTS"):  # BENCH_TEXT_PARTS=search: the search figures only (the runner passes it on)
        parts = os.environ["BENCH_TEXT_PARTS"].split(",")
    if "search" in parts:
        out["search"] = searches(samples, budget_s, log)
    if "suggest" in parts:
        out["suggest"] = suggestions(samples, budget_s, int(args.get("train_rows", 20_000)), log)
    # BENCH_TEXT_SKIP_TRAINING=1 (the runner passes it on: not a HUIYIN_ variable): no training at
    # 100,000 rows, which takes minutes and is measured on its own
    if args.get("train_n") and os.environ.get("BENCH_TEXT_SKIP_TRAINING", "") not in ("1", "yes"):
        out["training"] = training_at(int(args["train_n"]), log)
    return out
