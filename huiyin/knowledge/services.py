"""The knowledge base: articles kept searchable (the same Chinese search as cases), suggested
beside the intake form, expired ones leaving the suggestions and their owners told; standard
replies filled from a case's fields."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.safestring import SafeString

from huiyin.cases.access import complainant_view
from huiyin.cases.models import Case, Kind, State
from huiyin.notify.services import enqueue
from huiyin.org.models import User
from huiyin.text import tokens
from huiyin.text.index import Index, active_preset, snippet

from .models import Article, ArticleStatus, ArticleText, Purpose, ReplyTemplate

ARTICLES = Index(table="knowledge_articletext", key="article_id")


def article_index(article: Article) -> None:
    """Write the article's index row; called by `article_save` in the same transaction."""
    words = tokens.index_tokens([article.title, article.title, article.issuing_body, article.reference, article.body],
                                preset=active_preset())
    ArticleText.objects.bulk_create([ArticleText(article_id=article.pk, tokens=words)], update_conflicts=True,
                                    unique_fields=["article"], update_fields=["tokens"])


def article_save(article: Article) -> Article:
    """Save an article and its index row together (the admin and the proposal form use this)."""
    with transaction.atomic():
        article.save()
        article_index(article)
    return article


def current(on: date | None = None) -> QuerySet[Article]:
    """Published articles in force on `on`: effective (or undated) and not expired."""
    on = on or timezone.localdate()
    return Article.objects.filter(status=ArticleStatus.PUBLISHED).filter(
        Q(effective_from__isnull=True) | Q(effective_from__lte=on)).filter(
        Q(expires_on__isnull=True) | Q(expires_on__gt=on))


@dataclass
class ArticleHit:
    article: Article
    snippet: SafeString


def search(text: str, *, limit: int = 20, include_expired: bool = False, any_word: bool = False) -> list[ArticleHit]:
    """Articles matching `text`, best first. `any_word`: any of its words (the suggestions beside
    a consultation being typed), else all of them (the search box)."""
    preset = active_preset()
    if any_word:
        words = sorted(set(tokens.words(text, preset=preset)), key=len, reverse=True)
        terms_any = [w for w in words if len(w) >= 2][:12]
        if not terms_any:
            return []
        ranked = _ranked_any(terms_any)
    else:
        terms = tokens.query_terms(text, preset=preset)
        if not terms:
            return []
        ranked = ARTICLES.ranked(terms, window=2000)
    qs = Article.objects.all() if include_expired else current()
    by_id = {a.pk: a for a in qs.filter(pk__in=ranked[:500])}
    hits = []
    for pk in ranked:
        a = by_id.get(pk)
        if a is not None:
            hits.append(ArticleHit(article=a, snippet=snippet([a.body], text, preset=preset, width=120)))
        if len(hits) >= limit:
            break
    return hits


def _ranked_any(words: list[str]) -> list[int]:
    from django.db import connection

    t = ARTICLES.table
    if connection.vendor == "sqlite":
        sql = (f"SELECT rowid, bm25({t}_fts) FROM {t}_fts WHERE {t}_fts MATCH %s "  # noqa: S608  # nosec B608
               f"ORDER BY rowid DESC LIMIT 2000")
        params: list[Any] = [" OR ".join(f'"{w}"' for w in words)]
        better_high = False
    elif connection.vendor == "postgresql":
        sql = (f"SELECT article_id, ts_rank(document, q) FROM {t}, to_tsquery('simple', %s) q "  # noqa: S608  # nosec B608
               f"WHERE document @@ q ORDER BY article_id DESC LIMIT 2000")
        params = [" | ".join(f"'{w}'" for w in words)]
        better_high = True
    else:
        return []
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    rows.sort(key=lambda r: (-r[1] if better_high else r[1], -r[0]))
    return [int(r[0]) for r in rows]


def suggest_for(subject: str, description: str = "", *, limit: int = 3) -> list[ArticleHit]:
    """The articles most relevant to a case being typed (in force only)."""
    text = f"{subject}\n{description}".strip()
    if len(text) < 2:
        return []
    return search(text, limit=limit, any_word=True)


def notify_expired(*, today: date | None = None) -> int:
    """Tell each owner, once, that an article of theirs has expired (it has already left the
    suggestions: `current`). Returns how many owners' notices were written."""
    today = today or timezone.localdate()
    now = timezone.now()
    n = 0
    with transaction.atomic():
        due = list(Article.objects.select_for_update().filter(
            status=ArticleStatus.PUBLISHED, expires_on__lte=today, expiry_notified_at__isnull=True))
        for a in due:
            if a.owner_id:
                enqueue("knowledge.expired", case_number="", recipients=[a.owner_id],
                        dedupe=f"knowledge.expired:{a.pk}:{a.expires_on}",
                        context={"subject": f"《{a.title}》", "deadline": f"{a.expires_on:%Y-%m-%d}",
                                 "url": f"/knowledge/articles/{a.pk}/"})
                n += 1
        Article.objects.filter(pk__in=[a.pk for a in due]).update(expiry_notified_at=now)
    return n


def propose(*, user: User, case: Case | None, title: str, body: str, corrects: Article | None = None) -> Article:
    """An agent's proposal of a new or corrected article after a consultation: saved for review
    (not suggested until someone publishes it), owned by the corrected article's owner."""
    article = Article(title=title, body=body, status=ArticleStatus.REVIEW, proposed_from=case, proposed_by=user,
                      corrects=corrects, owner_id=corrects.owner_id if corrects else None,
                      category_id=(corrects.category_id if corrects else case.category_id if case else None))
    return article_save(article)


def may_propose_from(case: Case) -> bool:
    return case.kind == Kind.CONSULTATION and case.state == State.CLOSED


# --- standard replies ----------------------------------------------------------------------------

FIELD = re.compile(r"\{(\w+)\}")


def case_fields(user: User, case: Case) -> dict[str, str]:
    """The case's fields a template may name, as the user may see them (a reporter's name never)."""
    person = complainant_view(user, case)
    return {
        "number": case.number,
        "subject": case.subject,
        "complainant": person["name"] or "您",
        "unit": case.unit.name if case.unit_id and case.unit else "",
        "received_date": timezone.localtime(case.received_at).strftime("%Y年%m月%d日"),
        "today": timezone.localdate().strftime("%Y年%m月%d日"),
        "category": case.category.name if case.category_id and case.category else "",
    }


def render_template(body: str, fields: dict[str, str]) -> str:
    """`body` with each {field} replaced; unknown names stay as written (no attribute access)."""
    return FIELD.sub(lambda m: fields.get(m.group(1), m.group(0)), body)


def templates_for(case: Case, purpose: str) -> QuerySet[ReplyTemplate]:
    qs = ReplyTemplate.objects.filter(active=True, purpose__in=[purpose, Purpose.PHRASE])
    qs = qs.filter(Q(kind="") | Q(kind=case.kind))
    return qs.filter(Q(category__isnull=True) | Q(category_id=case.category_id))


def replies(user: User, case: Case, purpose: str) -> list[dict[str, Any]]:
    fields = case_fields(user, case)
    return [{"id": t.pk, "name": t.name, "purpose": t.purpose, "text": render_template(t.body, fields)}
            for t in templates_for(case, purpose)]
