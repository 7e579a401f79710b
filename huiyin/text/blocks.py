"""What the classifier's worker processes run (joblib): nothing here may import Django models.

A worker process unpickles the function it runs, importing its module; `classifier` imports the
ORM, which a fresh process cannot load before Django is set up (AppRegistryNotReady). So the
functions sent to workers live here, with only scikit-learn and `tokens` (pure Python) behind them.
"""

from __future__ import annotations

from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer


def fit_block(vec: TfidfVectorizer, texts: list[str]) -> tuple[TfidfVectorizer, Any]:
    return vec, vec.fit_transform(texts)
