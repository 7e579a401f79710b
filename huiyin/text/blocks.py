"""What the classifier's worker processes run (joblib): nothing here may import Django models.

A worker process unpickles the function it runs, importing its module; `classifier` imports the
ORM, which a fresh process cannot load before Django is set up (AppRegistryNotReady). So the
functions sent to workers live here, with only scikit-learn and `tokens` (pure Python) behind them.

`CharNgrams` is TF-IDF of character n-grams counted by numpy instead of scikit-learn's Python loop
over every n-gram (its vocabulary counting was most of the training time at 100,000 cases).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from .tokens import WordAnalyzer, normalise


def clip_many(texts: list[str], max_chars: int) -> list[str]:
    """The start of each text (`max_chars`), normalised (NFKC, lower case): what the features see."""
    return [normalise(t[:max_chars]) for t in texts]


def fit_block(vec: Any, texts: list[str]) -> tuple[Any, Any]:
    analyzer = getattr(vec, "analyzer", None)
    if isinstance(analyzer, WordAnalyzer):  # cut every text once, outside scikit-learn's loop
        vec.analyzer = _given
        try:
            x = vec.fit_transform(analyzer.many(texts))
        finally:
            vec.analyzer = analyzer
        return vec, x
    return vec, vec.fit_transform(texts)


def transform_block(vec: Any, texts: list[str]) -> Any:
    """`vec.transform(texts)`; a block of words cuts the texts by `WordAnalyzer.many`."""
    analyzer = getattr(vec, "analyzer", None)
    if isinstance(analyzer, WordAnalyzer):
        vec.analyzer = _given
        try:
            return vec.transform(analyzer.many(texts))
        finally:
            vec.analyzer = analyzer
    return vec.transform(texts)


def _given(words: list[str]) -> list[str]:
    """The analyzer of words already cut."""
    return words


_WHITE = re.compile(r"\s\s+")  # scikit-learn's char analyzer folds runs of white space the same way
_BITS = 21  # a code point needs 21 bits: an n-gram of up to 3 characters is one int64
_CHUNK = 10_000  # documents counted at a time (bounds the temporary arrays: ~0.1 GB per chunk)


class CharNgrams:
    """TF-IDF of character n-grams (1 … `ngram_max`), the same features as scikit-learn's
    `TfidfVectorizer(analyzer="char", ngram_range=(1, ngram_max), sublinear_tf=True)`: the same
    white-space folding, smoothed idf, sublinear tf, rows of unit length, `max_features` kept by
    their count over the corpus. An n-gram is its code points packed into one int64, so the
    counting is done by numpy (sorting) rather than by a Python dict: ~10× faster when training.
    Columns follow the n-grams' packed values (not their alphabetical order)."""

    def __init__(self, ngram_max: int = 2, *, max_features: int | None = None, min_df: int = 1,
                 preprocessor: Callable[[str], str] | None = None) -> None:
        if not 1 <= ngram_max <= 3:
            raise ValueError("ngram_max: 1 to 3")
        self.ngram_max = ngram_max
        self.max_features = max_features
        self.min_df = min_df
        self.preprocessor = preprocessor
        self.grams_: np.ndarray = np.zeros(0, dtype=np.int64)  # the vocabulary, sorted
        self.idf_: np.ndarray = np.zeros(0, dtype=np.float32)

    def _codes(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The n-grams of every text (packed) and, beside each, the index of its text."""
        prep = self.preprocessor
        docs = [_WHITE.sub(" ", prep(t) if prep else t) for t in texts]
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        chars = np.frombuffer("".join(docs).encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
        owner = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
        ends = np.cumsum(lengths)
        grams, owners = [chars], [owner]
        for n in range(2, self.ngram_max + 1):
            # an n-gram starts at i when i + n - 1 is still in the same text
            valid = np.ones(len(chars), dtype=bool)
            for back in range(1, n):
                valid[ends[lengths >= back] - back] = False
            valid[len(chars) - n + 1:] = False
            start = np.flatnonzero(valid)
            packed = chars[start] + 1  # + 1: an n-gram never equals an (n-1)-gram
            for k in range(1, n):
                packed = (packed << _BITS) | chars[start + k]
            grams.append(packed)
            owners.append(owner[start])
        return np.concatenate(grams), np.concatenate(owners)

    def _counts(self, texts: Sequence[str]) -> tuple[np.ndarray, Any]:
        """(the distinct n-grams of `texts`, sorted; a documents × n-grams matrix of counts)."""
        codes, owner = self._codes(texts)
        found = _distinct(codes)
        return found, _count_matrix(owner, np.searchsorted(found, codes), len(texts), len(found))

    def fit_transform(self, texts: Sequence[str], y: Any = None) -> Any:
        parts = [self._counts(texts[i:i + _CHUNK]) for i in range(0, len(texts), _CHUNK)] or [self._counts([])]
        grams = _distinct(np.concatenate([g for g, _c in parts]))
        total = np.zeros(len(grams), dtype=np.float64)
        df = np.zeros(len(grams), dtype=np.int64)
        placed = []
        for found, counts in parts:
            where = np.searchsorted(grams, found)
            total[where] += np.bincount(counts.indices, weights=counts.data, minlength=len(found))
            df[where] += np.bincount(counts.indices, minlength=len(found))
            placed.append((where, counts))
        keep = df >= self.min_df
        if self.max_features is not None and keep.sum() > self.max_features:
            order = np.argsort(-np.where(keep, total, -1), kind="stable")[: self.max_features]
            keep = np.zeros(len(grams), dtype=bool)
            keep[order] = True
        new_column = np.cumsum(keep) - 1
        self.grams_ = grams[keep]
        n = len(texts)
        self.idf_ = (np.log((1 + n) / (1 + df[keep])) + 1).astype(np.float32)
        rows = []
        for where, counts in placed:
            # columns renumbered in the same order, so each row's columns stay sorted
            column = where[counts.indices]
            kept = keep[column]
            row = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))[kept]
            indptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=counts.shape[0]))])
            rows.append(sp.csr_matrix((counts.data[kept], new_column[column[kept]], indptr),
                                      shape=(counts.shape[0], len(self.grams_))))
        return self._weigh(sp.vstack(rows, format="csr"))

    def fit(self, texts: Sequence[str], y: Any = None) -> CharNgrams:
        self.fit_transform(texts)
        return self

    def transform(self, texts: Sequence[str]) -> Any:
        codes, owner = self._codes(texts)
        column = np.searchsorted(self.grams_, codes)
        column[column == len(self.grams_)] = 0
        known = self.grams_[column] == codes if len(self.grams_) else np.zeros(len(codes), dtype=bool)
        return self._weigh(_count_matrix(owner[known], column[known], len(texts), len(self.grams_)))

    def _weigh(self, counts: Any) -> Any:
        x = counts.astype(np.float32)
        x.data = (np.log(x.data) + 1) * self.idf_[x.indices]  # sublinear tf × idf
        return normalize(x, copy=False)

    @property
    def vocabulary_size(self) -> int:
        return len(self.grams_)

    def gram(self, column: int) -> str:
        """The n-gram of a column (for reading a model's weights)."""
        value, chars = int(self.grams_[column]), []
        while True:
            chars.append(value & ((1 << _BITS) - 1))
            value >>= _BITS
            if not value:
                break
        chars[-1] -= 1 if len(chars) > 1 else 0
        return "".join(map(chr, reversed(chars)))


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (numpy's `unique` hashes 64-bit integers: ~10× slower here)."""
    ordered = np.sort(values)
    if not len(ordered):
        return ordered
    return ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])]


def _count_matrix(row: np.ndarray, column: np.ndarray, rows: int, columns: int) -> Any:
    """A rows × columns CSR matrix counting each (row, column) pair, its columns sorted: one sort
    of the pairs packed into int64 (cheaper than scipy's COO → CSR with duplicates summed)."""
    key = np.sort(row * max(columns, 1) + column)
    if len(key):
        first = np.concatenate([[True], key[1:] != key[:-1]])
        start = np.flatnonzero(first)
        counts = np.diff(np.append(start, len(key))).astype(np.float32)
        key = key[start]
    else:
        counts = np.zeros(0, dtype=np.float32)
    indptr = np.searchsorted(key, np.arange(rows + 1) * max(columns, 1))
    return sp.csr_matrix((counts, key % max(columns, 1), indptr), shape=(rows, columns))


def sklearn_chars(ngram_max: int = 2, **kw: Any) -> TfidfVectorizer:
    """scikit-learn's equivalent of `CharNgrams` (the tests compare the two)."""
    return TfidfVectorizer(analyzer="char", ngram_range=(1, ngram_max), sublinear_tf=True, lowercase=False,
                           dtype=np.float32, **kw)
