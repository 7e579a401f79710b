"""The search page's and the API's hits: the cases of `cases.selectors` (scoped, exact matches
first, then ranked), each with the passage that matched, highlighted."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.safestring import SafeString

from huiyin.cases import selectors
from huiyin.cases.access import complainant_view
from huiyin.cases.models import Case, Event
from huiyin.org.models import User

from .index import TEXT_FIELDS, active_preset, marker, snippet


@dataclass
class Hit:
    case: Case
    snippet: SafeString
    exact: bool
    person: dict[str, str]


def search(user: User, q: str, *, cursor: str | int | None = None, limit: int = 20,
           ) -> tuple[list[Hit], str | None]:
    f = selectors.ListFilters(q=q)
    rows, next_cursor = selectors.page(selectors.apply_filters(user, f), sort="-id", cursor=cursor, limit=limit)
    comments: dict[int, list[str]] = {}
    if rows:
        for case_id, comment in (Event.objects.filter(case_id__in=[c.pk for c in rows]).exclude(comment="")
                                 .exclude(action="rule").order_by("id").values_list("case_id", "comment")):
            comments.setdefault(case_id, []).append(comment)
    pattern = marker(q, preset=active_preset()) if rows else None
    hits = []
    for c in rows:
        parts = [str(getattr(c, name) or "") for name in TEXT_FIELDS] + comments.get(c.pk, [])
        person = complainant_view(user, c, listing=True)
        hits.append(Hit(case=c, snippet=snippet(parts, q, pattern=pattern), exact=getattr(c, "search_pos", 1) == 0,
                        person={"name": person["name"], "phone": person["phone"]}))
    return hits, next_cursor
