"""The text app's pages and htmx fragments: the assistant beside intake (suggestions and similar
open cases), the search page with ranked results and snippets, one-click urge, model quality.

Thin, like every view: the permission-checked fetch (`cases.access`), then one service."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils import timezone
from django.views.decorators.http import require_GET

from huiyin.cases import selectors, workflow
from huiyin.cases.access import case_for
from huiyin.cases.models import Kind
from huiyin.org.access import roles_of
from huiyin.org.models import Role, User

from . import search, similar, suggest

staff_required = login_required(login_url=reverse_lazy("web:login"))


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _typed(request: HttpRequest) -> dict[str, str]:
    g = request.GET
    return {
        "subject": g.get("subject", "")[:200],
        "description": g.get("description", "")[:5000],
        "phone": g.get("complainant_phone", g.get("phone", ""))[:32],
        "account": g.get("complainant_account", g.get("account", ""))[:100],
        "kind": g.get("kind", "") if g.get("kind", "") in Kind.values else "",
    }


@require_GET
@staff_required
def assist(request: HttpRequest) -> HttpResponse:
    """Beside the intake form, refreshed while the agent types: suggested category, unit and
    severity (applied only by the agent's click), similar open cases (one click urges one instead
    of registering a new case, through the case page's own action endpoint), and — from the
    knowledge app — the relevant articles. With `case=NUMBER` (the dispatch form), the same for a
    registered case."""
    user = _user(request)
    t = _typed(request)
    exclude = None
    if request.GET.get("case"):  # at dispatch: the suggestions for a registered case
        case = case_for(user, request.GET["case"])
        if case is None:
            raise Http404
        t.update(subject=case.subject, description=case.description[:5000], kind=case.kind)
        exclude = case.pk
    found = similar.open_similar(user, subject=t["subject"], description=t["description"], phone=t["phone"],
                                 account=t["account"], exclude=exclude)
    for s in found:
        s.may_urge = "urge" in workflow.possible(user, s.case, ["urge"])  # type: ignore[attr-defined]
    context: dict[str, Any] = {
        "typed": t,
        "suggestions": suggest.suggest(t["subject"], t["description"]) if (t["subject"] or t["description"]) else [],
        "similar": found,
        "threshold": similar.THRESHOLD,
        "window": similar.WINDOW_DAYS,
    }
    return render(request, "text/_assist.html", context)


@require_GET
@staff_required
def search_page(request: HttpRequest) -> HttpResponse:
    """Search over every case the user may see: exact matches first, then by relevance, each with
    the passage that matched."""
    user = _user(request)
    q = request.GET.get("q", "").strip()[:100]
    hits, next_cursor = search.search(user, q, cursor=request.GET.get("cursor", ""), limit=25) if q else ([], None)
    selectors.attach_next_deadline([h.case for h in hits], timezone.now())
    return render(request, "text/search.html", {"q": q, "hits": hits, "next_cursor": next_cursor})


@require_GET
@staff_required
def model_quality(request: HttpRequest) -> HttpResponse:
    """The administrator's view of the suggestion models: on or off (and why), each version's
    quality on held-back cases."""
    user = _user(request)
    if not (roles_of(user) & {Role.ADMIN, Role.LEADER, Role.SUPERVISOR} or user.is_superuser):
        raise Http404
    return render(request, "text/models.html", {"status": [suggest.status(t) for t in suggest.TARGETS],
                                                "history": suggest.history()})
