"""Category, responsible unit and severity suggested from a case's text (DESIGN §13).

Trained on the organisation's own closed cases (`retrain`, by `huiyin text retrain` and the
worker's schedule, `jobs.retrain_sweep`), one model per target, versioned (`TextModel`). With too little history a
target is off and `status` says why. Suggestions are shown with their confidence and applied only
when the agent confirms them (the intake form's fields are filled by a click, never by themselves).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from huiyin.cases.models import Case, Category, Severity, State
from huiyin.org.models import Unit, User

from .index import active_preset
from .models import RetrainRun, Target, TextModel
from .selectors import last_trained, newest


def _classifier() -> ModuleType:
    """`huiyin.text.classifier`, imported on first use. It brings scikit-learn, SciPy and NumPy
    (~2 s of imports), which every process that imports this module at start would pay: the
    worker (its retraining check reads `selectors` only), every management command and the URL
    checks. Only training and predicting need it."""
    from . import classifier

    return classifier


MIN_ROWS = 200  # closed cases with the target set before a model is trained
MIN_LABELS = 2
TRAIN_LIMIT = 100_000  # the newest closed cases a model learns from
RETRAIN_DAYS = 7  # the scheduled retraining's default interval (settings.TEXT_RETRAIN_DAYS)
# A version the schedule trains is put in use unless its macro-F1 on its held-back cases is below
# the one in use by more than this (the two are measured on different held-back cases, so a
# small difference is noise; a real drop — a bad week of labels — keeps the old version).
WORSE_BY = 0.01
TARGETS = (Target.CATEGORY, Target.UNIT, Target.SEVERITY)
FIELD = {Target.CATEGORY: "category__code", Target.UNIT: "unit__code", Target.SEVERITY: "severity"}


def case_text(subject: str, description: str) -> str:
    return f"{subject}\n{description}".strip()


def _closed(target: str) -> QuerySet[Case]:
    qs = Case.objects.filter(state=State.CLOSED)
    if target == Target.CATEGORY:
        return qs.filter(category__isnull=False)
    if target == Target.UNIT:
        return qs.filter(unit__isnull=False)
    return qs


def training_rows(target: str, *, limit: int | None = None) -> tuple[list[str], list[str]]:
    limit = TRAIN_LIMIT if limit is None else limit  # read now: the bench lowers TRAIN_LIMIT
    rows = _closed(target).order_by("-id").values_list("subject", "description", FIELD[Target(target)])[:limit]
    texts, labels = [], []
    for subject, description, label in rows:
        if label:
            texts.append(case_text(subject, description))
            labels.append(str(label))
    return texts, labels


def history_problem(labels: list[str]) -> str | None:
    """Why there is too little history to learn from, or None."""
    if len(labels) < MIN_ROWS:
        return _("only %(n)d closed cases to learn from; suggestions start at %(min)d") % {
            "n": len(labels), "min": MIN_ROWS}
    usable = [k for k, n in Counter(labels).items() if n >= 5]
    if len(usable) < MIN_LABELS:
        return _("the closed cases have fewer than %(min)d different values with 5 cases each") % {"min": MIN_LABELS}
    return None


def retrain(target: str, *, by: User | None = None, progress: Callable[[str], None] | None = None,
            guarded: bool = False) -> TextModel:
    """Train a new version of the target's model from the closed cases; raises TrainingError
    (with the reason) when there is too little history. `guarded` (the schedule): the new version
    is put in use only when its held-back quality is not worse than the one in use (`WORSE_BY`);
    otherwise it is stored inactive and `metrics["kept"]` names the version kept. By hand
    (`huiyin text retrain`) the new version is always put in use: the operator asked for it."""
    texts, labels = training_rows(target)
    problem = history_problem(labels)
    if problem:
        raise _classifier().TrainingError(problem)
    fitted, measured, config = _classifier().fit(texts, labels, preset=active_preset(), progress=progress)
    active = True
    current = newest(str(target)) if guarded else None
    if current is not None and "macro_f1" in current.metrics:
        new, old = measured.get("macro_f1"), float(current.metrics["macro_f1"])
        if new is None or float(new) < old - WORSE_BY:
            active = False
            measured["kept"] = {"version": current.version, "macro_f1": old}
    return _classifier().save(fitted, name=str(target), target=target, rows=len(texts), measured=measured,
                           config=config, by=by, active=active)


def retrain_every() -> timedelta:
    return timedelta(days=int(getattr(settings, "TEXT_RETRAIN_DAYS", RETRAIN_DAYS)))


def due_targets(now: Any = None) -> list[str]:
    """The targets the schedule should retrain now: a newest version older than `TEXT_RETRAIN_DAYS`
    with at least `TEXT_RETRAIN_MIN_NEW` cases closed since it was trained; or no model yet and
    enough closed cases to try (at least MIN_ROWS, and, when a retraining already found too little
    history, `TEXT_RETRAIN_MIN_NEW` closed since). A few indexed counts: cheap for the worker."""
    now = now or timezone.now()
    min_new = int(getattr(settings, "TEXT_RETRAIN_MIN_NEW", MIN_ROWS))
    last_run = RetrainRun.objects.filter(running=False).order_by("-started_at").first()
    due = []
    for target in TARGETS:
        last = last_trained(str(target))
        if last is None:
            enough = _closed(target)[:MIN_ROWS].count() >= MIN_ROWS
            if enough and last_run is not None:
                enough = _closed(target).filter(closed_at__gt=last_run.started_at)[:min_new].count() >= min_new
            if enough:
                due.append(str(target))
        elif last.created_at <= now - retrain_every() and (
                _closed(target).filter(closed_at__gt=last.created_at)[:min_new].count() >= min_new):
            due.append(str(target))
    return due


def retrain_due(*, now: Any = None, progress: Callable[[str], None] | None = None) -> list[str]:
    """The scheduled job's work (`huiyin text retrain --due`, in its own process): retrain each
    target `due_targets` names, guarded. Returns what it did, one line per target."""
    done = []
    for target in due_targets(now):
        try:
            model = retrain(target, progress=progress, guarded=True)
        except _classifier().TrainingError as exc:
            done.append(f"{target}: off ({exc})")
        else:
            state = "in use" if model.active else f"not in use, v{model.metrics['kept']['version']} kept"
            done.append(f"{target}: v{model.version} ({state}), macro-F1 {model.metrics.get('macro_f1')}")
    return done


@dataclass
class Status:
    target: str
    on: bool
    reason: str = ""
    model: TextModel | None = None


def status(target: str) -> Status:
    row = newest(str(target))
    if row is None:
        labels = list(_closed(target).values_list(FIELD[Target(target)], flat=True)[:MIN_ROWS])
        problem = history_problem([str(x) for x in labels if x]) if len(labels) < MIN_ROWS else None
        reason = problem or _("no model trained yet (huiyin text retrain)")
        return Status(target=target, on=False, reason=reason)
    return Status(target=target, on=True, model=row)


@dataclass
class Suggestion:
    target: str
    on: bool
    reason: str = ""
    code: str = ""
    name: str = ""
    confidence: float = 0.0
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    version: int = 0


def _names(target: str, codes: list[str]) -> dict[str, str]:
    if target == Target.CATEGORY:
        return dict(Category.objects.filter(code__in=codes).values_list("code", "name"))
    if target == Target.UNIT:
        return dict(Unit.objects.filter(code__in=codes).values_list("code", "name"))
    return {c: str(Severity(c).label) for c in codes if c in Severity.values}


MIN_TEXT = 6  # characters typed before anything is suggested


def suggest(subject: str, description: str = "") -> list[Suggestion]:
    """The suggestions for a text being typed, one per target (off ones say why)."""
    text = case_text(subject, description)
    out = []
    for target in TARGETS:
        loaded = _classifier().load(str(target))
        if loaded is None:
            st = status(target)
            out.append(Suggestion(target=str(target), on=False, reason=st.reason))
            continue
        row, fitted = loaded
        if len(text) < MIN_TEXT:
            out.append(Suggestion(target=str(target), on=True, reason=_("type a few more words"), version=row.version))
            continue
        pred = fitted.predict([text])[0]
        names = _names(str(target), [code for code, _p in pred.scores[:3]])
        out.append(Suggestion(
            target=str(target), on=True, code=pred.label, name=names.get(pred.label, pred.label),
            confidence=round(pred.confidence, 3), version=row.version,
            alternatives=[{"code": c, "name": names.get(c, c), "confidence": round(p, 3)} for c, p in pred.scores[1:3]],
        ))
    return out


def timed_suggest(subject: str, description: str = "") -> tuple[list[Suggestion], float]:
    started = time.perf_counter()
    result = suggest(subject, description)
    return result, (time.perf_counter() - started) * 1000


def history(limit: int = 30) -> list[TextModel]:
    """The newest versions; `in_use` marks the one each name uses."""
    rows = list(TextModel.objects.defer("blob").order_by("-created_at")[:limit])
    used = {newest(name) for name in {m.name for m in rows}}
    used_pks = {m.pk for m in used if m is not None}
    for m in rows:
        m.in_use = m.pk in used_pks  # type: ignore[attr-defined]
    return rows
