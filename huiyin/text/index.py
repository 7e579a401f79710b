"""The full-text index: one `Index` per searchable table (cases here, knowledge articles in
`huiyin.knowledge`), over words cut beforehand by `tokens` (rjieba + the preset's dictionary).

- SQLite: an external-content FTS5 table `<table>_fts` (tokenizer unicode61 over the space-separated
  words), kept by triggers on the table; ranked by bm25.
- PostgreSQL: a stored generated column `document tsvector` (`to_tsvector('simple', tokens)`)
  with a GIN index; ranked by ts_rank.

The words are cut in Python on both, so both databases find the same documents. A search looks at
the newest `MATCH_WINDOW` matches (a hotline cares about recent cases; it bounds the cost of a
common word over a million cases) and ranks them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from huiyin.cases.models import Case, Event
from huiyin.policies.models import Policy
from huiyin.policies.services import active_policy

from . import tokens
from .models import CaseText

# A search matches at most the newest MATCH_WINDOW cases with the words, ranked: a word in most of
# a million cases (卷烟 at a tobacco bureau) must not cost reading them all; another word reaches
# further back (docs/text.md).
MATCH_WINDOW = 5000
FIRST_CHUNK = 20_000  # PostgreSQL: ids scanned in the first step back from the newest (then doubled)


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

    def newest_matches(self, terms: list[list[str]], *, window: int | None = None) -> list[tuple[int, float]]:
        """(key, score) of the newest `window` matches, newest first; a higher score is better.

        SQLite: FTS5 walks the doclists newest first and stops. PostgreSQL: a GIN match cannot be
        read in id order, and reading every match's row costs ~one page each; so the newest ids
        are searched in steps (FIRST_CHUNK ids, then twice as many each time) until the window
        is full — a bitmap AND of the GIN index and the primary key's range."""
        window = window or MATCH_WINDOW
        t, k = self.table, self.key
        if connection.vendor == "sqlite":
            with connection.cursor() as cur:
                cur.execute(f"SELECT rowid, -bm25({t}_fts) FROM {t}_fts WHERE {t}_fts MATCH %s "  # nosec B608 - the table and column names are this module's own constants; values are parameters
                            f"ORDER BY rowid DESC LIMIT %s", [fts_query(terms), window])
                return [(int(r[0]), float(r[1])) for r in cur.fetchall()]
        if connection.vendor != "postgresql":
            return []
        query = ts_query(terms)
        out: list[tuple[int, float]] = []
        with connection.cursor() as cur:
            cur.execute(f"SELECT max({k}) FROM {t}")  # nosec B608 - the table and column names are this module's own constants; values are parameters
            top = cur.fetchone()[0]
            chunk = FIRST_CHUNK
            while top is not None and top > 0 and len(out) < window:
                low = max(0, top - chunk)
                cur.execute(f"SELECT {k}, ts_rank(document, q) FROM {t}, to_tsquery('simple', %s) q "  # nosec B608 - the table and column names are this module's own constants; values are parameters
                            f"WHERE document @@ q AND {k} > %s AND {k} <= %s ORDER BY {k} DESC LIMIT %s",
                            [query, low, top, window - len(out)])
                out += [(int(r[0]), float(r[1])) for r in cur.fetchall()]
                top, chunk = low, chunk * 2
        return out

    def ranked(self, terms: list[list[str]], *, window: int | None = None) -> list[int]:
        """Keys of the newest `window` matches, best first (ties: newest first)."""
        rows = self.newest_matches(terms, window=window)
        rows.sort(key=lambda r: (-r[1], -r[0]))
        return [r[0] for r in rows]

    def matches(self, terms: list[list[str]], field: str = "pk") -> Q:
        return Q(**{f"{field}__in": [r[0] for r in self.newest_matches(terms)]})


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


def case_document(case: Case) -> list[str]:
    parts = [str(getattr(case, f) or "") for f in TEXT_FIELDS]
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


def case_index(case: Case) -> None:
    """Write the case's index row (insert or replace) from its current fields and comments."""
    preset = preset_of(case.policy_id)
    row = CaseText(case_id=case.pk, tokens=tokens.index_tokens(case_document(case), preset=preset),
                   preset=preset, indexed_at=timezone.now())
    CaseText.objects.bulk_create([row], update_conflicts=True, unique_fields=["case"],
                                 update_fields=["tokens", "preset", "indexed_at"])


def case_written(case: Case, event: Event) -> None:
    """The workflow's derived writer (cases/derived.py): re-index when the text changed."""
    if stale(event):
        case_index(case)


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

    def ranked_ids(self, text: str, *, limit: int) -> list[int] | None:
        terms = self.terms(text)
        return CASES.ranked(terms, window=limit) if terms else None


SEARCH = CaseSearch()


# --- snippets --------------------------------------------------------------------------------------


def snippet(parts: Iterable[str], query: str, *, width: int = 90, preset: str | None = None) -> SafeString:
    """The passage of `parts` around the first word of `query` found, HTML-escaped, the words
    marked `<mark>`; the start of the text when none is found."""
    text = " ".join(p.strip() for p in parts if p and p.strip())
    text = re.sub(r"\s+", " ", text)
    marks = tokens.highlight_terms(query, preset=preset if preset is not None else active_preset())
    pattern = re.compile("|".join(re.escape(m) for m in marks), re.IGNORECASE) if marks else None
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
