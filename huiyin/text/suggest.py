"""Category, responsible unit and severity suggested from a case's text (DESIGN §13).

Trained on the organisation's own closed cases (`retrain`, by `huiyin text retrain` and the
worker's schedule), one model per target, versioned (`TextModel`). With too little history a
target is off and `status` says why. Suggestions are shown with their confidence and applied only
when the agent confirms them (the intake form's fields are filled by a click, never by themselves).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from huiyin.cases.models import Case, Category, Severity, State
from huiyin.org.models import Unit, User

from . import classifier
from .index import active_preset
from .models import Target, TextModel

MIN_ROWS = 200  # closed cases with the target set before a model is trained
MIN_LABELS = 2
TRAIN_LIMIT = 100_000  # the newest closed cases a model learns from
RETRAIN_DAYS = 7  # the scheduled retraining: when the newest model is older than this
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


def training_rows(target: str, *, limit: int = TRAIN_LIMIT) -> tuple[list[str], list[str]]:
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


def retrain(target: str, *, by: User | None = None, progress: Callable[[str], None] | None = None) -> TextModel:
    """Train a new version of the target's model from the closed cases; raises TrainingError
    (with the reason) when there is too little history."""
    texts, labels = training_rows(target)
    problem = history_problem(labels)
    if problem:
        raise classifier.TrainingError(problem)
    return classifier.train_rows(texts, labels, name=str(target), target=target, preset=active_preset(), by=by,
                                 progress=progress)


def retrain_due(*, now: Any = None, progress: Callable[[str], None] | None = None) -> list[str]:
    """The scheduled job: retrain each target whose newest model is older than RETRAIN_DAYS (or
    missing) and that has enough history. Returns what it did, one line per target."""
    now = now or timezone.now()
    done = []
    for target in TARGETS:
        row = classifier.newest(str(target))
        if row is not None and row.created_at > now - timedelta(days=RETRAIN_DAYS):
            continue
        try:
            model = retrain(target, progress=progress)
        except classifier.TrainingError as exc:
            done.append(f"{target}: off ({exc})")
        else:
            done.append(f"{target}: v{model.version}, macro-F1 {model.metrics.get('macro_f1')}")
    return done


@dataclass
class Status:
    target: str
    on: bool
    reason: str = ""
    model: TextModel | None = None


def status(target: str) -> Status:
    row = classifier.newest(str(target))
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
        loaded = classifier.load(str(target))
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
    return list(TextModel.objects.defer("blob").order_by("-created_at")[:limit])
