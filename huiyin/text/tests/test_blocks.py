"""CharNgrams gives scikit-learn's character TF-IDF, counted by numpy."""

import pickle

import numpy as np
import pytest

from huiyin.text.blocks import CharNgrams, sklearn_chars
from huiyin.text.tokens import first_line

TRAIN = [
    "卷烟三天没有送到，送货员电话打不通",
    "客户经理上门时态度恶劣\n对货源政策解释不清",
    "某商店销售假冒卷烟，包装印刷模糊  请查处",
    "想咨询新办零售许可证需要哪些材料？",
    "the delivery was late   again\n\nand nobody answered",
    "",
    "a",
    "卷烟卷烟卷烟",
]
NEW = ["送货员态度恶劣", "完全没见过的龘字", "", "late delivery"]


def _aligned(ours: CharNgrams, theirs) -> np.ndarray:
    grams = [ours.gram(i) for i in range(ours.vocabulary_size)]
    assert sorted(grams) == sorted(theirs.vocabulary_)
    return np.array([theirs.vocabulary_[g] for g in grams])


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("min_df", [1, 2])
def test_the_same_features_as_scikit_learn(n, min_df):
    ours, theirs = CharNgrams(n, min_df=min_df), sklearn_chars(n, min_df=min_df)
    x_ours, x_theirs = ours.fit_transform(TRAIN), theirs.fit_transform(TRAIN)
    columns = _aligned(ours, theirs)
    assert np.abs((x_ours - x_theirs[:, columns]).toarray()).max() < 1e-6
    assert np.abs((ours.transform(NEW) - theirs.transform(NEW)[:, columns]).toarray()).max() < 1e-6


def test_a_preprocessor_and_a_cap_on_features():
    ours, theirs = CharNgrams(2, preprocessor=first_line), sklearn_chars(2, preprocessor=first_line)
    x = ours.fit_transform(TRAIN)
    columns = _aligned(ours, theirs.fit(TRAIN))
    assert np.abs((x - theirs.transform(TRAIN)[:, columns]).toarray()).max() < 1e-6
    capped = CharNgrams(2, max_features=10)
    assert capped.fit_transform(TRAIN).shape == (len(TRAIN), 10)
    assert "卷" in {capped.gram(i) for i in range(10)}  # the most frequent n-grams are kept


def test_it_pickles_and_counts_in_chunks(monkeypatch):
    texts = [f"第{i}号投诉：卷烟没有送到" for i in range(50)]
    whole = CharNgrams(2).fit_transform(texts)
    monkeypatch.setattr("huiyin.text.blocks._CHUNK", 7)
    chunked_model = CharNgrams(2)
    chunked = chunked_model.fit_transform(texts)
    assert (whole != chunked).nnz == 0
    again = pickle.loads(pickle.dumps(chunked_model))  # noqa: S301 - our own object, just pickled
    assert (again.transform(NEW) != chunked_model.transform(NEW)).nnz == 0


def test_word_blocks_cut_once_give_the_same_features():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from huiyin.text.blocks import fit_block, transform_block
    from huiyin.text.tokens import WordAnalyzer, normalise

    texts = [normalise(t) for t in TRAIN]
    for subject in (False, True):
        analyzer = WordAnalyzer("tobacco", first_line=subject)
        assert analyzer.many(texts) == [analyzer(t) for t in texts]
        plain = TfidfVectorizer(analyzer=analyzer, sublinear_tf=True).fit(texts)
        vec, x = fit_block(TfidfVectorizer(analyzer=WordAnalyzer("tobacco", first_line=subject), sublinear_tf=True), texts)
        assert vec.vocabulary_ == plain.vocabulary_
        assert isinstance(vec.analyzer, WordAnalyzer)  # the stored model cuts raw text again
        assert abs(x - plain.transform(texts)).max() < 1e-6
        assert abs(transform_block(vec, NEW) - plain.transform(NEW)).max() < 1e-6


def test_bulk_language_check_answers_as_the_single_one():
    """`cjk_many` (training's bulk check) says what `is_cjk` says of each text, near the share
    and at the sample's end too; else a model's words would be cut unlike at prediction."""
    from huiyin.text.tokens import CJK_SAMPLE, cjk_many, is_cjk

    texts = [
        "", "   ", "123 456", "卷烟", "Refund please", "退款 refund please now",  # none, all, a fifth or less
        "ab中", "abcd中", "abcde中", "Ünïcödé 中文", "𠀀𠀁 astral ideographs", "ｆｕｌｌ　ｗｉｄｔｈ 卷烟",
        "\ud800 lone surrogate 卷烟", "a" * CJK_SAMPLE + "中" * 50, "中" * (CJK_SAMPLE - 1) + "abcdefgh",
        *[t for t in TRAIN + NEW],
    ]
    rng = np.random.default_rng(7)
    pool = list("卷烟零售户abcXYZ123，。！ \n㐀䶿一鿿ßé")
    texts += ["".join(rng.choice(pool, size=int(rng.integers(0, 40)))) for _ in range(300)]
    assert cjk_many(texts) == [is_cjk(t) for t in texts]
    assert cjk_many(texts, share=0.5) == [is_cjk(t, share=0.5) for t in texts]
    assert cjk_many([]) == []


def test_texts_clipped_in_two_processes_are_clipped_alike(monkeypatch):
    from huiyin.text import classifier

    texts = [f"Ｎｏ．{i}　卷烟（ＡＢＣ）" + "长" * (i % 3 * classifier.MAX_CHARS // 2) for i in range(9)]
    one = classifier.clip_all(texts)
    monkeypatch.setattr(classifier, "PARALLEL_ROWS", 4)
    assert classifier.clip_all(texts) == one == [classifier._clip(t) for t in texts]
    assert one[1].startswith("no.1 卷烟(abc)") and len(one[2]) == classifier.MAX_CHARS
