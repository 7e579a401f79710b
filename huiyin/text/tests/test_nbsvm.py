"""NB-SVM (`huiyin.text.nbsvm`): the ratios, the blend and the two-process fit."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.svm import LinearSVC

from huiyin.text import classifier
from huiyin.text.nbsvm import NBSVM, log_count_ratios


def _data(rows: int = 240, labels: int = 4) -> tuple[sp.csr_matrix, np.ndarray]:
    x = sp.random(rows, 60, density=0.15, format="csr", dtype=np.float32, random_state=7)
    y = np.array([f"l{i % labels}" for i in range(rows)])
    return x, y


def test_the_ratios_are_naive_bayes_log_count_ratios() -> None:
    x, y = _data()
    classes = np.unique(y)
    ratios = log_count_ratios(x, y, classes, alpha=0.5)
    present = (x > 0).astype(np.float64)
    for k, label in enumerate(classes):
        member = y == label
        p = 0.5 + np.asarray(present[member].sum(axis=0)).ravel()
        q = 0.5 + np.asarray(present[~member].sum(axis=0)).ravel()
        assert np.allclose(ratios[k], np.log((p / p.sum()) / (q / q.sum())), atol=1e-5)


def test_a_feature_only_one_label_uses_counts_for_that_label() -> None:
    x, y = _data()
    x = x.tolil()
    x[:, 0] = 0
    x[np.flatnonzero(y == "l2"), 0] = 1  # feature 0 occurs in every row of l2 and nowhere else
    ratios = log_count_ratios(x.tocsr(), y, np.unique(y), alpha=0.5)
    assert ratios[2, 0] > 3 and (ratios[[0, 1, 3], 0] < -3).all()


def test_all_plain_is_linearsvc() -> None:
    x, y = _data()
    ours = NBSVM(blend=1.0, random_state=1).fit(x, y)
    plain = LinearSVC(tol=1e-3, random_state=1).fit(x, y)
    assert (ours.predict(x) == plain.predict(x)).all()
    # the same scores up to one scale: the blend divides them by their spread on the training rows
    ratio = ours.decision_function(x) / plain.decision_function(x)
    assert np.allclose(ratio, ratio.flat[0], rtol=1e-3)


def test_two_processes_fit_the_same_model_as_one() -> None:
    x, y = _data()
    one = NBSVM(random_state=1, n_jobs=1).fit(x, y)
    two = NBSVM(random_state=1, n_jobs=2).fit(x, y)
    assert np.array_equal(one.coef_, two.coef_) and np.array_equal(one.intercept_, two.intercept_)


def test_two_labels_give_a_score_for_each() -> None:
    x, y = _data(labels=2)
    model = NBSVM(random_state=1).fit(x, y)
    scores = model.decision_function(x)
    assert scores.shape == (x.shape[0], 2)
    assert (model.predict(x) == y).mean() > 0.7


def test_one_label_is_refused() -> None:
    x, _y = _data()
    with pytest.raises(ValueError, match="two labels"):
        NBSVM().fit(x, np.array(["only"] * x.shape[0]))


def test_a_trained_model_is_nbsvm_and_predicts_its_own_texts() -> None:
    texts = [f"卷烟 价格 太高 {i}" for i in range(30)] + [f"送货 员 迟到 没人 接听 {i}" for i in range(30)] + \
            [f"假烟 举报 门店 销售 {i}" for i in range(30)]
    labels = ["价格"] * 30 + ["服务"] * 30 + ["专卖"] * 30
    fitted, measured, config = classifier.fit(texts, labels)
    assert isinstance(fitted.clf, NBSVM) and config["classifier"].startswith("NB-SVM")
    assert [p.label for p in fitted.predict(["卷烟价格太高了", "送货员总是迟到", "有门店销售假烟"])] == ["价格", "服务", "专卖"]
    assert measured["macro_f1"] == 1.0
