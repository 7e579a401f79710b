"""The full-text index: one `Index` per searchable table (cases here, knowledge articles in
`huiyin.knowledge`), over words cut beforehand by `tokens` (rjieba + the preset's dictionary).

- SQLite: an external-content FTS5 table `<table>_fts` (tokenizer unicode61 over the space-separated
  words), kept by triggers on the table.
- PostgreSQL: a stored generated column `document tsvector` (`to_tsvector('simple', tokens)`)
  with a GIN index.

The words are cut in Python on both, so both databases find the same documents. A search looks at
the newest `MATCH_WINDOW` matches among the reader's cases (a hotline cares about recent cases; it
bounds the cost of a common word over a million cases) and ranks them by BM25, computed here
from the matches' words — the same order on both databases (docs/text-evaluation.md, "At scale").
"""

from __future__ import annotations

import html
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from huiyin.cases.models import Case, Event
from huiyin.db import insert_one
from huiyin.policies.models import Policy
from huiyin.policies.services import active_policy

from . import tokens
from .models import CaseText

# A search ranks at most the newest MATCH_WINDOW cases with the words (in the reader's scope): a
# word in most of a million cases (卷烟 at a tobacco bureau) must not cost reading them all;
# another word reaches further back (docs/text.md). 1,000 = 50 pages of 20, and ranking them
# costs ~10-20 ms of CPU at a million cases (5,000 cost ~4x as much; docs/text-evaluation.md).
MATCH_WINDOW = 1000
EXAMINE = 5000  # matches looked at, at most, for the newest `window` in the caller's scope (as before: 5,000)
PROBE = 5000  # PostgreSQL: the newest rows read in key order before choosing a plan for the rest
PAGE_COST = 10  # PostgreSQL: a match fetched by the GIN index costs ~10 rows read in key order (measured)
RANGE_ROWS = 20_000  # PostgreSQL: more rows than this to read in key order: key ranges through the GIN index instead
RANGE_MARGIN = 1.25  # PostgreSQL: a key range's rows, times those the probe says hold the window (a short one costs a GIN scan more)
DF_PROBE = 500  # SQLite: a word's newest matches read to count (or estimate) its matches
PG_DF_PROBE = 5000  # PostgreSQL: the newest rows read to estimate a word's share of the rows
DF_TTL = 3600.0  # seconds a word's idf is kept in the process
PG_RESET = ("RESET enable_bitmapscan; RESET enable_seqscan; RESET enable_indexscan; "
            "RESET max_parallel_workers_per_gather; RESET enable_nestloop; RESET enable_hashjoin")


def fts_query(terms: list[list[str]]) -> str:
    """FTS5 MATCH syntax: every term required; a term is its word OR all of its sub-words."""
    clauses = []
    for alternatives in terms:
        options = [" AND ".join(f'"{w}"' for w in alt.split()) for alt in alternatives]
        clauses.append("(" + " OR ".join(f"({o})" for o in options) + ")")
    return " AND ".join(clauses)


def ts_query(terms: list[list[str]]) -> str:
    """PostgreSQL to_tsquery syntax for the same meaning as `fts_query`."""
    clauses = []
    for alternatives in terms:
        options = [" & ".join(f"'{w}'" for w in alt.split()) for alt in alternatives]
        clauses.append("(" + " | ".join(f"({o})" for o in options) + ")")
    return " & ".join(clauses)


@dataclass(frozen=True)
class Index:
    """A full-text index over `table.tokens`, keyed by the integer column `key`."""

    table: str
    key: str

    # -- schema (used by migrations) --------------------------------------------------------------

    def install_sql(self, vendor: str) -> list[str]:
        t, k = self.table, self.key
        if vendor == "postgresql":
            return [
                (f"ALTER TABLE {t} ADD COLUMN document tsvector "
                 f"GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, tokens)) STORED"),
                f"CREATE INDEX {t}_document ON {t} USING gin (document)",
            ]
        if vendor == "sqlite":
            return [
                (f"CREATE VIRTUAL TABLE {t}_fts USING fts5(tokens, content='{t}', content_rowid='{k}', "
                 f"tokenize='unicode61 remove_diacritics 0')"),
                (f"CREATE TRIGGER {t}_ai AFTER INSERT ON {t} BEGIN "  # nosec B608 - the table and column names are this module's own constants; values are parameters
                 f"INSERT INTO {t}_fts(rowid, tokens) VALUES (new.{k}, new.tokens); END"),
                (f"CREATE TRIGGER {t}_ad AFTER DELETE ON {t} BEGIN "  # nosec B608 - the table and column names are this module's own constants; values are parameters
                 f"INSERT INTO {t}_fts({t}_fts, rowid, tokens) VALUES ('delete', old.{k}, old.tokens); END"),
                (f"CREATE TRIGGER {t}_au AFTER UPDATE ON {t} BEGIN "  # nosec B608 - the table and column names are this module's own constants; values are parameters
                 f"INSERT INTO {t}_fts({t}_fts, rowid, tokens) VALUES ('delete', old.{k}, old.tokens); "
                 f"INSERT INTO {t}_fts(rowid, tokens) VALUES (new.{k}, new.tokens); END"),
            ]
        return []

    def uninstall_sql(self, vendor: str) -> list[str]:
        t = self.table
        if vendor == "postgresql":
            return [f"DROP INDEX IF EXISTS {t}_document", f"ALTER TABLE {t} DROP COLUMN IF EXISTS document"]
        if vendor == "sqlite":
            return [f"DROP TRIGGER IF EXISTS {t}_{s}" for s in ("ai", "ad", "au")] + [f"DROP TABLE IF EXISTS {t}_fts"]
        return []

    # -- queries ------------------------------------------------------------------------------------

    def newest_matches(self, terms: list[list[str]], *, window: int | None = None,
                       scope: QuerySet[Any] | None = None) -> list[tuple[int, str]]:
        """(key, indexed words) of the newest `window` matches, newest first — among the rows of
        `scope` (a queryset of the keyed model: the caller's cases under the list's filters), in
        the same statement, when given. At most `EXAMINE` matches are looked at for the scope (a
        reader who sees few cases gets fewer hits, never a scan of a common word's every match).

        SQLite: FTS5 walks the doclist newest first and stops; no bm25 in SQL (FTS5 computes its
        idf by reading every match of every word: ~25 ms for a word in most of a million cases,
        whatever the window). PostgreSQL: `_pg_newest`."""
        window = window or MATCH_WINDOW
        if connection.vendor == "sqlite":
            t, k = self.table, self.key
            exists, params = _exists(scope, "m.rowid")
            with connection.cursor() as cur:
                # the FTS walk newest first, the scope checked on each key and stopped by LIMIT;
                # then the words of the rows kept (CROSS JOIN: the kept keys are the outer loop)
                cur.execute(f"SELECT s.id, c.tokens FROM (SELECT m.rowid AS id FROM (SELECT rowid FROM {t}_fts "  # nosec B608 - the table and column names are this module's own constants; values are parameters
                            f"WHERE {t}_fts MATCH %s ORDER BY rowid DESC LIMIT %s) m{_where(exists)} LIMIT %s) s "
                            f"CROSS JOIN {t} c ON c.{k} = s.id",
                            [fts_query(terms), max(EXAMINE, window), *params, window])
                return [(int(r[0]), str(r[1])) for r in cur.fetchall()]
        if connection.vendor == "postgresql":
            return self._pg_newest(ts_query(terms), window, scope, terms)
        return []

    def _pg_newest(self, query: str, window: int, scope: QuerySet[Any] | None,
                   terms: list[list[str]]) -> list[tuple[int, str]]:
        """PostgreSQL: a GIN match cannot be read in key order, and the planner guesses the number
        of matches of several words badly (it multiplies their frequencies; the words of one
        complaint template come together), so the plan is chosen here from a measurement. First
        the newest `PROBE` rows are read in key order and matched: enough for a common word (its
        window's matches; fewer: every match of the probe, counted). If the window is not full,
        the share of matches found there decides the rest: the older rows in key order when
        there are few to read (about `need / share` rows, at most `RANGE_ROWS`) and that costs
        less than fetching every match the GIN index finds (one page each, `PAGE_COST` times a
        row read in order) — for a reader who sees few of the matches, merged with the scope's
        cases read in key order too; else key ranges through the GIN index (`_pg_ranges`).
        Either way at most `EXAMINE` matches below the probe are checked against the scope
        (docs/text-evaluation.md, "PostgreSQL search (round 20)")."""
        # SET LOCAL lasts to the end of the transaction, which may be the caller's (a savepoint's
        # release keeps it): the settings are then reset once the statements are done (an error
        # rolls the savepoint back, and the settings with it); in a transaction of its own, its
        # commit ends them (one round trip fewer)
        outer = connection.in_atomic_block
        with transaction.atomic(), connection.cursor() as cur:
            out = self._pg_steps(cur, query, window, scope, terms)
            if outer:
                cur.execute(PG_RESET)
        return out

    def _pg_steps(self, cur: Any, query: str, window: int, scope: QuerySet[Any] | None,
                  terms: list[list[str]]) -> list[tuple[int, str]]:
        t, k = self.table, self.key
        exists, params = _exists(scope, f"m.{k}")
        # no parallel workers: starting them cost ~60 ms on a busy machine, more than the scan
        cur.execute("SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off; "
                    "SET LOCAL max_parallel_workers_per_gather = 0")
        kept = "m.tokens" if not exists else f"CASE WHEN {exists} THEN m.tokens END"  # NULL: outside the scope
        # the newest `window` matches among the newest PROBE rows, each with its words when in
        # the scope (fewer than `window`: every match of the probe, counted here)
        cur.execute(f"SELECT m.{k}, {kept} FROM (SELECT {k}, tokens, document FROM {t} "  # nosec B608 - the table and column names are this module's own constants; values are parameters
                    f"ORDER BY {k} DESC LIMIT %s) m WHERE m.document @@ to_tsquery('simple', %s) "
                    f"ORDER BY m.{k} DESC LIMIT %s", [*params, PROBE, query, window])
        matches = sorted(cur.fetchall(), key=lambda r: -int(r[0]))
        out = [(int(r[0]), str(r[1])) for r in matches if r[1] is not None]
        if len(out) >= window:
            return out
        cur.execute(f"SELECT min({k}) FROM (SELECT {k} FROM {t} ORDER BY {k} DESC LIMIT %s) p", [PROBE])  # nosec B608 - the table and column names are this module's own constants; values are parameters
        low = cur.fetchone()[0]  # the probe's lowest key (its key index alone)
        if low is None:
            return out
        matched = len(matches)
        if matched >= window:  # the window's matches, not all in scope: the rest of the probe's
            if scope is not None and len(out) < matched / 2:  # mostly outside: merged with the scope's cases
                inside, inside_params = scope.filter(pk__gte=low, pk__lt=matches[-1][0]).values("pk").query.sql_with_params()
                cur.execute("SET LOCAL enable_nestloop = off; SET LOCAL enable_hashjoin = off")
                cur.execute(f"SELECT m.{k}, CASE WHEN c.pk IS NOT NULL THEN m.tokens END FROM (SELECT {k}, tokens "  # nosec B608 - the table and column names are this module's own constants; values are parameters
                            f"FROM {t} WHERE {k} >= %s AND {k} < %s AND document @@ to_tsquery('simple', %s)) m "
                            f"LEFT JOIN ({inside}) c ON c.pk = m.{k}", [low, matches[-1][0], query, *inside_params])
                rest = cur.fetchall()
                cur.execute("SET LOCAL enable_nestloop = on; SET LOCAL enable_hashjoin = on")
            else:
                cur.execute(f"SELECT m.{k}, {kept} FROM (SELECT {k}, tokens FROM {t} WHERE {k} >= %s AND {k} < %s "  # nosec B608 - the table and column names are this module's own constants; values are parameters
                            f"AND document @@ to_tsquery('simple', %s)) m", [*params, low, matches[-1][0], query])
                rest = cur.fetchall()
            more = sorted(rest, key=lambda r: -int(r[0]))
            matched += len(more)
            out += [(int(r[0]), str(r[1])) for r in more if r[1] is not None][:window - len(out)]
            if len(out) >= window:
                return out
        older = int(low)  # rows older than the probe, about (keys are dense enough for a guess)
        need = window - len(out)
        share, visible = matched / PROBE, len(out) / PROBE
        in_order = min(need / visible if visible else math.inf, EXAMINE / share if share else math.inf, older)
        if in_order <= RANGE_ROWS and in_order < PAGE_COST * share * older and scope is not None and visible < share / 2:
            # few rows to read, and most matches outside the scope (a reader who sees a few
            # units): the older rows in key order, each matched, up to EXAMINE matches, merged
            # with the scope's cases read in key order too (a merge join) — one index lookup per
            # match costs ~4 times a case read in order
            inside, inside_params = scope.filter(pk__lt=low).values("pk").query.sql_with_params()
            cur.execute("SET LOCAL enable_nestloop = off; SET LOCAL enable_hashjoin = off")
            cur.execute(f"SELECT m.{k}, m.tokens FROM (SELECT {k}, tokens FROM {t} "  # nosec B608 - the table and column names are this module's own constants; values are parameters
                        f"WHERE document @@ to_tsquery('simple', %s) AND {k} < %s ORDER BY {k} DESC LIMIT %s) m "
                        f"WHERE m.{k} IN ({inside}) ORDER BY m.{k} DESC LIMIT %s",
                        [query, low, EXAMINE, *inside_params, need])
            return out + [(int(r[0]), str(r[1])) for r in cur.fetchall()]
        if in_order <= RANGE_ROWS and in_order < PAGE_COST * share * older:
            # few rows to read: the older rows in key order, each matched, up to EXAMINE matches
            cur.execute(f"SELECT s.{k}, c.tokens FROM (SELECT m.{k} FROM (SELECT {k} FROM {t} "  # nosec B608 - the table and column names are this module's own constants; values are parameters
                        f"WHERE document @@ to_tsquery('simple', %s) AND {k} < %s ORDER BY {k} DESC LIMIT %s) m"
                        f"{_where(exists)} ORDER BY m.{k} DESC LIMIT %s) s JOIN {t} c ON c.{k} = s.{k} "
                        f"ORDER BY s.{k} DESC", [query, low, EXAMINE, *params, need])
            return out + [(int(r[0]), str(r[1])) for r in cur.fetchall()]
        return out + self._pg_ranges(cur, query, exists, params, high=int(low), need=need,
                                     span=math.ceil(in_order * RANGE_MARGIN), terms=terms)

    def _pg_ranges(self, cur: Any, query: str, exists: str, params: list[Any], *, high: int, need: int,
                   span: int, terms: list[list[str]]) -> list[tuple[int, str]]:
        """The newest `need` matches in scope below the key `high`, among the first `EXAMINE`
        matches below it — read through the GIN index a key range at a time, newest first: the
        GIN index's matches ANDed with the key range's (a BitmapAnd), so only the pages of the
        range's matches are read, then sorted by key. A range holds about `span` rows (sized from
        the probe to hold the window, `RANGE_MARGIN`); one that falls short is followed by the
        next, sized from what it held; the last one reaches the oldest key (the GIN index's
        matches alone, of the whole query)."""
        t, k = self.table, self.key
        guide, recheck = self._pg_guide(query, terms)  # idf() resets the settings: before setting them
        # bitmap scans, and index scans for the scope's lookups; ordered by `key + 0`, which the
        # key's index cannot give (no scan of the key's index in key order, filtering every row)
        cur.execute("SET LOCAL enable_seqscan = off; SET LOCAL max_parallel_workers_per_gather = 0; "
                    "SET LOCAL enable_bitmapscan = on; SET LOCAL enable_indexscan = on")
        out: list[tuple[int, str]] = []
        budget = EXAMINE
        while need > 0 and budget > 0:
            low = high - span if span < high else None
            if low is not None:
                # ts_match_vq: `@@` as a function, checked on the rows, never read from the index
                check = " AND ts_match_vq(document, to_tsquery('simple', %s))" if recheck else ""
                cond = f"document @@ to_tsquery('simple', %s){check} AND {k} < %s AND {k} >= %s"
                cond_params = [guide, *([query] if recheck else []), high, low]
            else:  # the rest: the whole query's matches by the GIN index alone
                cond, cond_params = f"document @@ to_tsquery('simple', %s) AND {k} < %s", [query, high]
            inner = (f"SELECT {k}, tokens, {k} + 0 AS o FROM {t} WHERE {cond} "  # nosec B608 - the table and column names are this module's own constants; values are parameters
                     f"ORDER BY o DESC LIMIT %s")
            # the range's matches newest first (n: how many), those in the scope until `need`
            cur.execute(f"SELECT m.{k}, m.tokens, m.n FROM (SELECT {k}, tokens, o, count(*) OVER (ORDER BY o DESC "  # nosec B608 - the table and column names are this module's own constants; values are parameters
                        f"ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS n FROM ({inner}) a) m"
                        f"{_where(exists)} ORDER BY m.o DESC LIMIT %s", [*cond_params, budget, *params, need])
            rows = cur.fetchall()
            if rows:
                examined = int(rows[0][2])
            else:  # none in the scope: how many matches were looked at
                cur.execute(f"SELECT count(*) FROM ({inner}) a", [*cond_params, budget])  # nosec B608 - the table and column names are this module's own constants; values are parameters
                examined = int(cur.fetchone()[0])
            out += [(int(r[0]), str(r[1])) for r in rows]
            need -= len(rows)
            budget -= examined
            if low is None:
                break
            # the next range below: as wide as the rows that should hold the rest, at this range's density
            span = max(span, math.ceil(need * span / len(rows) * RANGE_MARGIN)) if rows else span * 4
            high = low
        return out

    def _pg_guide(self, query: str, terms: list[list[str]]) -> tuple[str, bool]:
        """The tsquery the GIN index reads for a key range, and whether the whole query must be
        checked on the rows it finds. The planner multiplies the frequencies of a query's words
        (the words of one complaint come together: several words are guessed 1,000 times too
        rare), and then filters the GIN index's matches by the key range after fetching them all
        rather than AND the range's index. A word every match has (one of each term's every
        alternative), the rarest one by its idf, is guessed right: the GIN index reads that word
        alone (cheaper than several), the rows it finds are checked for the whole query. Without
        such a word, `w & !w` (never true) ORed to the query keeps its matches and lifts the
        guess to about w's share."""
        required = sorted({w for alternatives in terms
                           for w in set.intersection(*(set(alt.split()) for alt in alternatives))})
        words = {w for alternatives in terms for alt in alternatives for w in alt.split()}
        if len(words) == 1:
            return query, False
        if required:
            idf = self.idf(required)
            return f"'{max(required, key=lambda w: idf[w])}'", True
        word = re.search(r"'([^']+)'", query)
        return (f"({query}) | ('{word.group(1)}' & !'{word.group(1)}')" if word else query), False

    def ranked(self, terms: list[list[str]], *, window: int | None = None,
               scope: QuerySet[Any] | None = None) -> list[int]:
        """Keys of the newest `window` matches (in `scope`), best first by BM25 (ties: newest
        first) — computed here over the matches' indexed words, the same on both databases."""
        rows = self.newest_matches(terms, window=window, scope=scope)
        if len(rows) < 2:
            return [r[0] for r in rows]
        words = sorted({w for alternatives in terms for alt in alternatives for w in alt.split()})
        idf = self.idf(words) if len(words) > 1 else dict.fromkeys(words, 1.0)
        scored = bm25(rows, idf)
        scored.sort(key=lambda r: (-r[1], -r[0]))
        return [r[0] for r in scored]

    def idf(self, words: list[str]) -> dict[str, float]:
        """BM25's idf of each word, from its number of matches: counted when under `DF_PROBE`,
        else estimated from the key range its newest `DF_PROBE` matches span. Cached in the
        process for `DF_TTL` seconds while the table's size moves less than 1 % (a word's weight
        moves slowly)."""
        now = time.monotonic()
        out: dict[str, float] = {}
        t, k = self.table, self.key
        with connection.cursor() as cur:
            cur.execute(f"SELECT max({k}) FROM {t}")  # nosec B608 - the table and column names are this module's own constants; values are parameters
            total = int(cur.fetchone()[0] or 0)
            for w in words:
                hit = _idf_cache.get((t, w))
                if hit and now - hit[1] < DF_TTL and abs(hit[2] - total) <= total // 100:
                    out[w] = hit[0]
                    continue
                if connection.vendor == "sqlite":
                    cur.execute(f"SELECT count(*), min(rowid) FROM (SELECT rowid FROM {t}_fts WHERE {t}_fts MATCH %s "  # nosec B608 - the table and column names are this module's own constants; values are parameters
                                f"ORDER BY rowid DESC LIMIT %s)", [f'"{w}"', DF_PROBE])
                    n, low = cur.fetchone()
                    df = float(n) if n < DF_PROBE else DF_PROBE * total / max(1, total - int(low) + 1)
                else:  # the newest rows in key order: the share that matches
                    with transaction.atomic():
                        cur.execute("SET LOCAL enable_bitmapscan = off")
                        cur.execute(f"SELECT count(*) FROM (SELECT document FROM {t} ORDER BY {k} DESC LIMIT %s) s "  # nosec B608 - the table and column names are this module's own constants; values are parameters
                                    f"WHERE document @@ to_tsquery('simple', %s)", [PG_DF_PROBE, f"'{w}'"])
                        n = int(cur.fetchone()[0])
                        cur.execute(PG_RESET)
                    df = n * total / PG_DF_PROBE if total > PG_DF_PROBE else float(n)
                value = max(1e-6, math.log((total - df + 0.5) / (df + 0.5))) if total else 1.0
                if len(_idf_cache) > 10_000:
                    _idf_cache.clear()
                _idf_cache[(t, w)] = (value, now, total)
                out[w] = value
        return out

    def matches(self, terms: list[list[str]], field: str = "pk") -> Q:
        return Q(**{f"{field}__in": [r[0] for r in self.newest_matches(terms)]})


_idf_cache: dict[tuple[str, str], tuple[float, float, int]] = {}  # (idf, when, table size)
K1, B = 1.2, 0.75  # BM25's usual constants (FTS5's bm25 uses the same)


def bm25(rows: list[tuple[int, str]], idf: dict[str, float]) -> list[tuple[int, float]]:
    """(key, BM25 score) of each (key, indexed words) row for the query words of `idf`; the
    average length is the rows' own (they are the newest matches: close enough to the index's)."""
    # words counted in C: each word between two spaces of its own (the spaces doubled), and a
    # document's length is its spaces plus one — no list of words is built per document
    lengths = [text.count(" ") + 1 for _key, text in rows]
    avg = sum(lengths) / len(lengths) or 1.0
    wanted = [(f" {w} ", weight) for w, weight in idf.items()]
    out = []
    for (key, text), length in zip(rows, lengths, strict=True):
        padded = f" {text.replace(' ', '  ')} "
        norm = K1 * (1 - B + B * length / avg)
        score = 0.0
        for w, weight in wanted:
            tf = padded.count(w)
            if tf:
                score += weight * tf * (K1 + 1) / (tf + norm)
        out.append((key, score))
    return out


def _where(cond: str) -> str:
    return f" WHERE {cond}" if cond else ""


def _and(cond: str) -> str:
    return f" AND {cond}" if cond else ""


def _exists(scope: QuerySet[Any] | None, outer_key: str) -> tuple[str, list[Any]]:
    """`EXISTS (…)`: the row keyed by `outer_key` is in `scope` — the caller's filters
    compiled by Django into the index's own statement."""
    if scope is None:
        return "", []
    sql, params = scope.filter(pk=RawSQL(outer_key, ())).values("pk").query.sql_with_params()  # noqa: S611  # nosec B611 - a column of this module's own statement
    return f"EXISTS ({sql})", list(params)


CASES = Index(table="text_casetext", key="case_id")


# --- the cases' index, kept by the workflow --------------------------------------------------------

# The case's fields that are searched (never the complainant's identity: a search must not find a
# whistle-blower by name), and the timeline's comments (replies, notes, reasons).
TEXT_FIELDS = (
    "subject", "description", "demands", "product", "reply", "cause", "course", "conclusion",
    "countermeasures", "instructions", "invalid_reason",
)
_policy_names: dict[int, str] = {}


def preset_of(policy_id: int) -> str:
    """The preset (policy name) whose dictionary cuts a case's words; versions are immutable."""
    name = _policy_names.get(policy_id)
    if name is None:
        name = Policy.objects.filter(pk=policy_id).values_list("name", flat=True).first() or ""
        _policy_names[policy_id] = name
    return name


def active_preset() -> str:
    return active_policy().name


def case_document(case: Case, *, new: bool = False) -> list[str]:
    """The searchable text of a case: its text fields, then its timeline's comments (the
    intake rules' own notes left out). `new`: a case being registered, whose timeline holds no
    comment yet (its register event and the intake's repeat, rule and obligation steps carry
    none), so its events are not read (checked by text.tests, "the index of a new case")."""
    parts = [str(getattr(case, f) or "") for f in TEXT_FIELDS]
    if not new:
        parts += list(Event.objects.filter(case_id=case.pk).exclude(comment="").exclude(action="rule")
                      .order_by("id").values_list("comment", flat=True))
    return parts


def stale(event: Event) -> bool:
    """Whether the change recorded by `event` changes the case's searchable text."""
    if event.action == "register":
        return True
    if event.comment and event.action != "rule":
        return True
    return any(name in event.changes for name in TEXT_FIELDS)


def case_prepare(case: Case) -> None:
    """The intake's preparer (cases/derived.py): the search words of the new case, cut before
    the intake's transaction (cutting is most of the index row's cost) and kept on the case with
    the text they were cut from, for `case_index` to write."""
    preset = preset_of(case.policy_id)
    document = case_document(case, new=True)
    case._index_prepared = (preset, document, tokens.index_tokens(document, preset=preset))  # type: ignore[attr-defined]


def case_index(case: Case, *, new: bool = False) -> None:
    """Write the case's index row (insert or replace) from its current fields and comments.
    `new`: the case is being registered: it has no row and no comment yet, so the row is one
    lean INSERT and the timeline is not read; its words were cut before the transaction
    (`case_prepare`) unless its text changed since."""
    preset = preset_of(case.policy_id)
    document = case_document(case, new=new)
    prepared = case.__dict__.pop("_index_prepared", None) if new else None
    if prepared is not None and prepared[:2] == (preset, document):
        words = prepared[2]
    else:
        words = tokens.index_tokens(document, preset=preset)
    row = CaseText(case_id=case.pk, tokens=words, preset=preset, indexed_at=timezone.now())
    if new:
        insert_one(row)  # the lean INSERT of one row (huiyin/db.py)
        return
    CaseText.objects.bulk_create([row], update_conflicts=True, unique_fields=["case"],
                                 update_fields=["tokens", "preset", "indexed_at"])


def case_written(case: Case, event: Event) -> None:
    """The workflow's derived writer (cases/derived.py): re-index when the text changed. The
    register event is written once, by the intake of a new case (`workflow.register`)."""
    if stale(event):
        case_index(case, new=event.action == "register")


def reindex(case_ids: Iterable[int] | None = None, *, batch: int = 500, progress: Any = None) -> int:
    """Rebuild index rows (all cases, or `case_ids`), in batches; returns how many."""
    qs = Case.objects.order_by("id")
    if case_ids is not None:
        qs = qs.filter(pk__in=list(case_ids))
    done = 0
    last = 0
    while True:
        cases = list(qs.filter(pk__gt=last).only("id", "policy_id", *TEXT_FIELDS)[:batch])
        if not cases:
            return done
        comments: dict[int, list[str]] = {}
        for case_id, comment in (Event.objects.filter(case_id__in=[c.pk for c in cases]).exclude(comment="")
                                 .exclude(action="rule").order_by("id").values_list("case_id", "comment")):
            comments.setdefault(case_id, []).append(comment)
        now = timezone.now()
        rows = []
        for c in cases:
            preset = preset_of(c.policy_id)
            parts = [str(getattr(c, f) or "") for f in TEXT_FIELDS] + comments.get(c.pk, [])
            rows.append(CaseText(case_id=c.pk, tokens=tokens.index_tokens(parts, preset=preset), preset=preset,
                                 indexed_at=now))
        CaseText.objects.bulk_create(rows, update_conflicts=True, unique_fields=["case"],
                                     update_fields=["tokens", "preset", "indexed_at"])
        done += len(rows)
        last = cases[-1].pk
        if progress:
            progress(done)


# --- the search box's backend (cases/derived.py: TextSearch) ---------------------------------------


class CaseSearch:
    def terms(self, text: str) -> list[list[str]]:
        return tokens.query_terms(text, preset=active_preset())

    def matches(self, text: str) -> Q | None:
        terms = self.terms(text)
        return CASES.matches(terms) if terms else None

    def ranked_ids(self, text: str, *, limit: int, scope: QuerySet[Case] | None = None) -> list[int] | None:
        terms = self.terms(text)
        return CASES.ranked(terms, window=limit, scope=scope) if terms else None


SEARCH = CaseSearch()


# --- snippets --------------------------------------------------------------------------------------


_UNSET: Any = object()


def marker(query: str, *, preset: str | None = None) -> re.Pattern[str] | None:
    """The pattern of the words of `query` to mark in a snippet (None: nothing to mark); made once
    per search, not once per hit (it cuts the query's words)."""
    marks = tokens.highlight_terms(query, preset=preset if preset is not None else active_preset())
    return re.compile("|".join(re.escape(m) for m in marks), re.IGNORECASE) if marks else None


def snippet(parts: Iterable[str], query: str, *, width: int = 90, preset: str | None = None,
            pattern: re.Pattern[str] | None = _UNSET) -> SafeString:
    """The passage of `parts` around the first word of `query` found, HTML-escaped, the words
    marked `<mark>`; the start of the text when none is found. `pattern`: `marker(query)` when
    the caller has it already."""
    text = " ".join(p.strip() for p in parts if p and p.strip())
    text = re.sub(r"\s+", " ", text)
    if pattern is _UNSET:
        pattern = marker(query, preset=preset)
    first = pattern.search(text) if pattern else None
    start = max(0, first.start() - width // 3) if first else 0
    window = text[start:start + width]
    out: list[str] = ["…" if start > 0 else ""]
    pos = 0
    for m in (pattern.finditer(window) if pattern else []):
        out.append(html.escape(window[pos:m.start()]))
        out.append(f"<mark>{html.escape(m.group(0))}</mark>")
        pos = m.end()
    out.append(html.escape(window[pos:]))
    if start + width < len(text):
        out.append("…")
    return mark_safe("".join(out))  # noqa: S308 - every piece is escaped above  # nosec B308 B703
