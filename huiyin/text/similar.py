"""Similar open cases while the agent types (DESIGN §5, §13), and groups of similar cases.

A case is similar to the typed text when it is open, visible to the agent, received within
`WINDOW_DAYS`, and either from the same customer (phone or account, only where the agent may see
the complainant) or close in wording: the cosine of character-bigram counts at least `THRESHOLD`,
calibrated on real re-posts (tipdm_hot.csv: docs/text-evaluation.md). The full-text index picks
the candidates (any of the typed words, best first), so the cost does not grow with the number of
cases.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from huiyin.cases import identity
from huiyin.cases.access import cases_for, identity_scope
from huiyin.cases.models import FINAL_STATES, Case
from huiyin.org.models import User

from . import tokens
from .index import CASES, active_preset

# Calibrated on tipdm_hot.csv's re-posts (docs/text-evaluation.md): at 0.6 the marked re-posts are
# found with recall 0.95, and of a sample of the pairs flagged without a mark, read by hand, about
# 5 in 6 were the same matter reworded or from another caller (docs/decisions/0007).
THRESHOLD = 0.6
WINDOW_DAYS = 30
CANDIDATES = 60
SHOWN = ("id", "number", "subject", "description", "state", "received_at", "kind", "version", "policy_id",
         "urge_count", "unit", "owner_unit")
_NON_TEXT = re.compile(r"[\s\W_]+", re.UNICODE)


def bigrams(text: str) -> Counter[str]:
    t = _NON_TEXT.sub("", tokens.normalise(text))
    return Counter(t[i:i + 2] for i in range(len(t) - 1)) if len(t) > 1 else Counter(t)


def cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    dot = sum(n * b.get(k, 0) for k, n in a.items())
    return dot / (math.sqrt(sum(n * n for n in a.values())) * math.sqrt(sum(n * n for n in b.values())))


def any_words(text: str, *, most: int = 12) -> list[list[str]]:
    """The typed text's longest distinct words, for an OR query that picks candidates."""
    words = sorted(set(tokens.words(text, preset=active_preset())), key=len, reverse=True)
    return [[w] for w in words if len(w) >= 2][:most]


def candidates_sql(text: str, *, limit: int) -> tuple[str, list[Any]] | None:
    """The statement selecting the ids of indexed cases sharing any long word with `text`, the
    newest `limit` first; None when the text has no such word or the database has no index."""
    terms = any_words(text)
    if not terms:
        return None
    t = CASES.table
    if connection.vendor == "sqlite":
        expr = " OR ".join(f'"{alt[0]}"' for alt in terms)
        return (f"SELECT rowid FROM {t}_fts WHERE {t}_fts MATCH %s ORDER BY rowid DESC LIMIT %s",  # noqa: S608  # nosec B608
                [expr, limit])
    if connection.vendor == "postgresql":
        expr = " | ".join(f"'{alt[0]}'" for alt in terms)
        sql = (f"SELECT case_id FROM {t} WHERE document @@ to_tsquery('simple', %s) "  # noqa: S608  # nosec B608
               f"ORDER BY case_id DESC LIMIT %s")
        return sql, [expr, limit]
    return None


def candidate_ids(text: str, *, limit: int = 2000) -> list[int]:
    """Ids of indexed cases sharing any long word with `text`, best first among the newest matches."""
    stmt = candidates_sql(text, limit=limit)
    if stmt is None:
        return []
    with connection.cursor() as cur:
        cur.execute(*stmt)
        return [int(r[0]) for r in cur.fetchall()]


@dataclass
class Similar:
    case: Case
    score: float
    same_customer: bool


def open_similar(user: User, *, subject: str, description: str = "", phone: str = "", account: str = "",
                 now: datetime | None = None, limit: int = 5, exclude: int | None = None) -> list[Similar]:
    """Open cases the agent may see that look like the call being typed, best first: the same
    customer's first, then those above the similarity threshold."""
    now = now or timezone.now()
    base = cases_for(user).exclude(state__in=FINAL_STATES).filter(received_at__gte=now - timedelta(days=WINDOW_DAYS))
    if exclude:
        base = base.exclude(pk=exclude)
    found: dict[int, Similar] = {}
    person = Q()
    if phone and sum(ch.isdigit() for ch in phone) >= 5:
        person |= identity.matches("complainant_phone", phone)
    if account.strip():
        person |= identity.matches("complainant_account", account.strip())
    if person:
        same = base.filter(person & identity_scope(user)).select_related("unit", "owner_unit").only(*SHOWN)
        for c in same.order_by("-id")[:limit]:
            found[c.pk] = Similar(case=c, score=1.0, same_customer=True)
    text = f"{subject}\n{description}".strip()
    if len(text) >= 4:
        stmt = candidates_sql(text, limit=CANDIDATES * 4)
        if stmt is not None:
            # one statement: the index's candidates as a subquery (not 240 ids compiled as 240
            # parameters); scored from their text alone, and only the few shown read as cases
            # (~0.3 ms each to build), with the columns the page and `workflow.possible` read
            # (a deferred one would cost a query per case shown)
            texts = base.filter(pk__in=RawSQL(*stmt)).order_by("-id").values_list("pk", "subject", "description")  # noqa: S611  # nosec B611 - this module's own statement; the words are one parameter
            typed = bigrams(text)
            scores = {}
            for pk, subject_, description_ in texts[:CANDIDATES]:
                if pk not in found:
                    score = cosine(typed, bigrams(f"{subject_}\n{description_}"))
                    if score >= THRESHOLD:
                        scores[pk] = round(score, 3)
            best = sorted(scores, key=lambda pk: (-scores[pk], -pk))[:limit]
            for c in Case.objects.filter(pk__in=best).select_related("unit", "owner_unit").only(*SHOWN):
                found[c.pk] = Similar(case=c, score=scores[c.pk], same_customer=False)
    return sorted(found.values(), key=lambda s: (not s.same_customer, -s.score, -s.case.pk))[:limit]


def similar_in_window(case: Case, start: datetime, end: datetime, *, threshold: float = THRESHOLD) -> list[int]:
    """Ids of the cases received in [start, end] worded like `case` (its subject and description:
    cosine of character bigrams ≥ `threshold`), `case` included — the count rules' `same: [text]`
    (registered in `cases.derived.SIMILAR`). Over every case, whatever the reader's scope: rules
    judge the organisation's whole picture."""
    text = f"{case.subject}\n{case.description}".strip()
    found = [case.pk]
    if len(text) < 4:
        return found
    ids = [pk for pk in candidate_ids(text) if pk != case.pk]
    if not ids:
        return found
    mine = bigrams(text)
    rows = (Case.objects.filter(pk__in=ids, received_at__gte=start, received_at__lte=end)
            .values_list("pk", "subject", "description"))
    found += [pk for pk, subject, description in rows if cosine(mine, bigrams(f"{subject}\n{description}")) >= threshold]
    return found


def groups(user: User, *, days: int = 1, now: datetime | None = None, threshold: float = THRESHOLD,
           min_size: int = 3, cap: int = 2000) -> list[list[Case]]:
    """Clusters of similar cases received in the last `days` (群体投诉 forming): cases joined when
    their similarity is at least `threshold` (single linkage), groups of `min_size` or more,
    largest first. For the warnings of the reports and the count-based rules."""
    now = now or timezone.now()
    rows = list(cases_for(user).filter(received_at__gte=now - timedelta(days=days)).order_by("-id")
                .only("id", "number", "subject", "description", "received_at", "state")[:cap])
    grams = [bigrams(f"{c.subject}\n{c.description}") for c in rows]
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            if root(i) != root(j) and cosine(grams[i], grams[j]) >= threshold:
                parent[root(j)] = root(i)
    clusters: dict[int, list[Case]] = {}
    for i, c in enumerate(rows):
        clusters.setdefault(root(i), []).append(c)
    return sorted((g for g in clusters.values() if len(g) >= min_size), key=len, reverse=True)
