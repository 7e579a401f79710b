"""NB-SVM: one-vs-rest linear SVMs over features scaled by naive Bayes log-count ratios
(Wang & Manning, "Baselines and Bigrams", ACL 2012), blended with a plain LinearSVC.

For each label, every feature is scaled by how much more often it occurs in that label's texts
than in the others' (the log of the ratio of the two smoothed presence rates); a binary SVM is
trained on the scaled features. A feature that only one label uses counts for more; one that
every label uses counts for less. The ratio is folded into the SVM's weights once it is
trained, so the stored model is a plain linear model: `decision_function` is one sparse-dense
product, the same cost as LinearSVC's.

Measured by 5-fold cross-validation on tipdm (docs/text-evaluation.md, "Model (round 19)"):
NB-SVM alone 0.9296, blended half and half with the plain SVM 0.9303, the plain SVM 0.9266.

Like `blocks`, this module runs in joblib's worker processes: it imports no Django.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.svm import LinearSVC


def log_count_ratios(x: Any, labels: np.ndarray, classes: np.ndarray, alpha: float) -> np.ndarray:
    """Per label and feature: log(P(feature | label) / P(feature | the other labels)), from the
    rows in which the feature occurs, smoothed by `alpha`. One row per label of `classes`."""
    member = sp.csr_matrix((np.ones(len(labels), dtype=np.float64),
                            (np.searchsorted(classes, labels), np.arange(len(labels)))),
                           shape=(len(classes), len(labels)))
    present = x.copy()
    present.data = np.ones_like(present.data, dtype=np.float64)
    inside = np.asarray((member @ present).todense()) + alpha
    outside = np.asarray(present.sum(axis=0)).ravel() + 2 * alpha - inside
    ratios: np.ndarray = (np.log(inside / inside.sum(axis=1, keepdims=True))
                          - np.log(outside / outside.sum(axis=1, keepdims=True)))
    return ratios.astype(np.float32)


def _fit_one(x: Any, member: np.ndarray, ratios: np.ndarray | None, c: float, tol: float,
             seed: int | None) -> tuple[np.ndarray, float]:
    """One label's binary SVM against the others: on the features scaled by the label's `ratios`,
    or on the features as they are (`ratios` None: the plain SVM's problem).
    Returns (weights × ratios, intercept)."""
    if ratios is None:
        svm = LinearSVC(C=c, tol=tol, random_state=seed).fit(x, member)
        return svm.coef_.ravel().astype(np.float32), float(svm.intercept_[0])
    # the product rounded to float32 as the features are, then widened for liblinear
    scaled = sp.csr_matrix(((x.data.astype(np.float32) * ratios[x.indices]).astype(np.float64), x.indices, x.indptr),
                           shape=x.shape)
    svm = LinearSVC(C=c, tol=tol, random_state=seed).fit(scaled, member)
    return (svm.coef_.ravel() * ratios).astype(np.float32), float(svm.intercept_[0])


class NBSVM:
    """A linear classifier: `blend` × the plain LinearSVC's scores + (1 − `blend`) × NB-SVM's,
    each divided by the spread of its scores on the training rows (so neither dominates by scale).
    After `fit`, `coef_` and `intercept_` hold the blended linear model."""

    def __init__(self, *, C: float = 1.0, alpha: float = 0.5, blend: float = 0.5, tol: float = 1e-3,
                 random_state: int | None = None, n_jobs: int | None = None) -> None:
        self.C = C
        self.alpha = alpha
        self.blend = blend
        self.tol = tol
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.classes_: np.ndarray = np.array([])
        self.coef_: np.ndarray = np.zeros((0, 0), dtype=np.float32)
        self.intercept_: np.ndarray = np.zeros(0)

    def fit(self, x: Any, y: Any) -> NBSVM:
        x = sp.csr_matrix(x, dtype=np.float32)
        labels = np.asarray(y)
        self.classes_ = np.unique(labels)
        if len(self.classes_) < 2:
            raise ValueError("NBSVM needs at least two labels")
        ratios = log_count_ratios(x, labels, self.classes_, self.alpha)
        members = [labels == c for c in self.classes_]
        # liblinear solves in float64: the features widened once here, not once per problem (a
        # second of each problem at 85,000 rows; the values, and so the model, are the same)
        wide = x.astype(np.float64)
        # NB-SVM's problems and the plain SVM's (LinearSVC's own one-vs-rest, label by label) in one pool
        tasks = [delayed(_fit_one)(wide, m, r, self.C, self.tol, self.random_state)
                 for m, r in zip(members, ratios, strict=True)]
        if self.blend > 0:
            tasks += [delayed(_fit_one)(wide, m, None, self.C, self.tol, self.random_state) for m in members]
        del wide
        jobs = self.n_jobs or 1
        done = Parallel(n_jobs=jobs)(tasks) if jobs > 1 else [f(*args, **kw) for f, args, kw in tasks]
        k = len(members)
        nb_coef, nb_icpt = np.vstack([w for w, _b in done[:k]]), np.array([b for _w, b in done[:k]])
        if self.blend <= 0:
            self.coef_, self.intercept_ = nb_coef, nb_icpt
            return self
        p_coef, p_icpt = np.vstack([w for w, _b in done[k:]]), np.array([b for _w, b in done[k:]])
        nb_spread = _spread(x @ nb_coef.T + nb_icpt)
        p_spread = _spread(x @ p_coef.T + p_icpt)
        a, b = (1 - self.blend) / nb_spread, self.blend / p_spread
        self.coef_ = (a * nb_coef + b * p_coef).astype(np.float32)
        self.intercept_ = a * nb_icpt + b * p_icpt
        return self

    def decision_function(self, x: Any) -> np.ndarray:
        scores: np.ndarray = np.asarray(x @ self.coef_.T) + self.intercept_
        return scores

    def predict(self, x: Any) -> np.ndarray:
        out: np.ndarray = self.classes_[self.decision_function(x).argmax(axis=1)]
        return out


def _spread(scores: Any) -> float:
    spread = float(np.asarray(scores).std())
    return spread if spread > 0 else 1.0
