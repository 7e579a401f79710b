"""Words of a text, for the search index, the search box and the classifier.

Chinese goes through rjieba (jieba-rs: the same segmentation as jieba with HMM off, ~20× faster)
with a domain dictionary per preset: `dictionaries/common.txt` plus `dictionaries/<preset>.txt`
(专卖, 货源分配, 调休, 12315 …), so a domain word stays one token. Text that is mostly Latin script
(English complaints) is split into lower-case words instead, with English stop words dropped:
the same code, chosen by the text itself (`is_cjk`).

rjieba is imported by the first segmenter, not with this module: importing it loads jieba's own
dictionary (~0.15 s), which every process that loads the apps (each `huiyin` command, each test
subprocess) paid before, whether it cut a text or not. A web process imports it at boot
(huiyin/wsgi.py), so no request pays the import; `segmenter` still builds its own Jieba with the
preset's dictionary on first use.
"""

from __future__ import annotations

import re
import sys
import threading
import unicodedata
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import rjieba

DICTIONARIES = Path(__file__).parent / "dictionaries"
DOMAIN_FREQ = 200_000  # high enough that jieba keeps a dictionary word whole

# A CJK ideograph (BMP unified ideographs and extension A; enough for complaints).
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_WORDISH = re.compile(r"\w", re.UNICODE)

# Chinese function words that carry no meaning alone (dropped from queries and features of words,
# never from the index: a phrase search may still want them).
CJK_STOP = frozenset("的 了 是 在 和 与 及 或 也 就 都 而 被 把 对 从 向 给 让 吗 呢 吧 啊 呀 哦 这 那 有 我 你 他 她 它 们".split())  # noqa: SIM905
_EN_STOP = (
    "a an the and or but if of to in on at by for with from as is are was were be been being it its this that "
    "these those i me my we our you your he him his she her they them their there here have has had do does did "
    "not no so than too very can could would should will just about into over after before again"
)
EN_STOP = frozenset(_EN_STOP.split())


def normalise(text: str) -> str:
    """NFKC (full-width letters and digits to half-width) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


CJK_SAMPLE = 2000  # the characters of a text that decide whether it is Chinese


def is_cjk(text: str, *, share: float = 0.2) -> bool:
    """Whether `text` is Chinese enough for jieba: at least `share` of its letters are ideographs."""
    sample = text[:CJK_SAMPLE]
    letters = sum(map(str.isalpha, sample))  # C-level: ~4× faster than a generator (training cost)
    if not letters:
        return False
    return len(_CJK.findall(sample)) / letters >= share


def cjk_many(texts: list[str], *, share: float = 0.2) -> list[bool]:
    """`is_cjk` of each text, the same answers, counted by numpy over the texts' code points at
    once (training: ~100 µs a text by regex, a tenth of that here). numpy is imported here, not
    at the top: a web process cuts one text at a time and never needs it."""
    import numpy as np

    alpha = _alpha_table()
    out: list[bool] = []
    for start in range(0, len(texts), 10_000):  # bounded memory: 4 bytes a character
        samples = [t[:CJK_SAMPLE] for t in texts[start:start + 10_000]]
        codes = np.frombuffer("".join(samples).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        ideograph = ((codes >= 0x3400) & (codes <= 0x4DBF)) | ((codes >= 0x4E00) & (codes <= 0x9FFF))
        lengths = np.array([len(s) for s in samples], dtype=np.int64)
        ends = np.cumsum(lengths)
        starts = ends - lengths
        sums = [np.concatenate(([0], np.cumsum(flag, dtype=np.int64))) for flag in (alpha[codes], ideograph)]
        letters, cjk = (c[ends] - c[starts] for c in sums)
        out += [bool(n) and int(k) / int(n) >= share for n, k in zip(letters, cjk, strict=True)]
    return out


@cache
def _alpha_table() -> Any:
    """`str.isalpha` of every code point, as a numpy array (built once per process, ~0.2 s)."""
    import numpy as np

    return np.fromiter((chr(i).isalpha() for i in range(sys.maxunicode + 1)), dtype=bool,
                       count=sys.maxunicode + 1)


def dictionary_words(preset: str | None) -> list[str]:
    """The domain words for `preset` (the common list first)."""
    words: list[str] = []
    names = ["common"] + ([preset] if preset else [])
    for name in names:
        path = DICTIONARIES / f"{name}.txt"
        if not re.fullmatch(r"[\w-]+", name) or not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                words.append(normalise(line.split()[0]))
    return words


_lock = threading.Lock()


@cache
def segmenter(preset: str | None = None) -> rjieba.Jieba:
    """A jieba segmenter with the preset's domain dictionary (one per preset and process)."""
    import rjieba

    with _lock:
        jieba = rjieba.Jieba()
        for word in dictionary_words(preset):
            jieba.add_word(word, DOMAIN_FREQ, None)
        return jieba


def _meaningful(token: str) -> bool:
    # isalnum() first: true for almost every word, and C-level (the regex only for the rest)
    return token.isalnum() or bool(_WORDISH.search(token))


@lru_cache(maxsize=5000)
def _cjk_words(text: str, preset: str | None) -> tuple[str, ...]:
    """jieba's meaningful words of a normalised text, cached: training cuts a text for its word
    features and again when the vectorizers are refitted on every row, and a hotline's cases
    repeat their texts (the same notice, the same complaint from several callers). The words are
    interned, so an entry costs its pointers (a few kB); `classifier.fit` clears the cache."""
    return tuple(sys.intern(t) for t in segmenter(preset).cut(text, False) if _meaningful(t))


def clear_cache() -> None:
    _cjk_words.cache_clear()


def words(text: str, *, preset: str | None = None, stop: bool = True, normalised: bool = False) -> list[str]:
    """The words of `text` (normalised unless `normalised` says it already is): jieba for Chinese,
    Latin words otherwise. With `stop`, function words are dropped (features and queries)."""
    if not normalised:
        text = normalise(text)
    if is_cjk(text):
        cut = _cjk_words(text, preset)
        return [t for t in cut if t not in CJK_STOP] if stop else list(cut)
    out: list[str] = _LATIN_WORD.findall(text)
    return [t for t in out if t not in EN_STOP] if stop else out


def index_tokens(parts: Iterable[str], *, preset: str | None = None) -> str:
    """The text of a document as the index stores it: search words separated by spaces.

    Chinese is cut "for search" (a long word and its dictionary sub-words, 烟草专卖局 → 烟草 专卖 …
    烟草专卖局), so a query finds a document whether it names the whole word or a part of it."""
    out: list[str] = []
    for part in parts:
        if not part:
            continue
        text = normalise(part)
        if is_cjk(text):
            out.extend(t for t in segmenter(preset).cut_for_search(text, False) if _meaningful(t))
        else:
            out.extend(_LATIN_WORD.findall(text))
    return " ".join(word for word in map(_clean, out) if word)


def _clean(token: str) -> str:
    """A token safe to place in a full-text query: word characters only."""
    if token.isalnum():  # almost every word: as it is, without a loop over its characters
        return token
    return "".join(ch for ch in token if ch.isalnum())


def query_terms(text: str, *, preset: str | None = None) -> list[list[str]]:
    """The search box's words: a list of terms that must all match, each term a list of
    alternatives (the word itself, or all of its dictionary sub-words together, joined by a
    space). Function words are dropped unless nothing else is left. Empty: nothing to search."""
    text = normalise(text)
    if is_cjk(text):
        seg = segmenter(preset)
        raw = [t for t in seg.cut(text, False) if _meaningful(t)]
    else:
        seg = None
        raw = _LATIN_WORD.findall(text)
    stop = CJK_STOP | EN_STOP
    kept = [t for t in raw if t not in stop] or raw
    terms: list[list[str]] = []
    seen: set[str] = set()
    for token in kept:
        word = _clean(token)
        if not word or word in seen:
            continue
        seen.add(word)
        alternatives = [word]
        if seg is not None and len(word) > 2:
            subs = [_clean(s) for s in seg.cut_for_search(word, False)]
            subs = [s for s in subs if s and s != word]
            if subs:
                alternatives.append(" ".join(dict.fromkeys(subs)))
        terms.append(alternatives)
    return terms[:12]


def highlight_terms(text: str, *, preset: str | None = None) -> list[str]:
    """The strings to mark in a snippet: every query word and its sub-words, longest first."""
    found: set[str] = set()
    for alternatives in query_terms(text, preset=preset):
        for alt in alternatives:
            found.update(alt.split())
    return sorted(found, key=len, reverse=True)


def first_line(text: str) -> str:
    """The subject of a case's text (subject, newline, description)."""
    return text.split("\n", 1)[0]


class WordAnalyzer:
    """rjieba words with the preset's dictionary, as a TF-IDF analyzer (picklable: a stored model
    keeps the preset's name; this module imports nothing of Django, so worker processes load it).
    With `first_line`, the words of the subject only."""

    def __init__(self, preset: str | None, *, first_line: bool = False) -> None:
        self.preset = preset
        self.first_line = first_line

    def __call__(self, text: str) -> list[str]:
        # the classifier gives it texts already normalised (`classifier._clip`)
        return words(first_line(text) if self.first_line else text, preset=self.preset, normalised=True)

    def many(self, texts: list[str]) -> list[list[str]]:
        """What `__call__` gives for each text, without the cache (training: most texts are seen
        once, and hashing and interning them cost more than cutting; the words are the same)."""
        cut = segmenter(self.preset).cut
        out: list[list[str]] = []
        if self.first_line:
            texts = [first_line(text) for text in texts]
        for text, chinese in zip(texts, cjk_many(texts), strict=True):
            if chinese:
                out.append([t for t in cut(text, False)
                            if (t.isalnum() or _WORDISH.search(t)) and t not in CJK_STOP])
            else:
                out.append([t for t in _LATIN_WORD.findall(text) if t not in EN_STOP])
        return out
