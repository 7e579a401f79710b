"""The knowledge base's pages and htmx fragments: articles beside the intake form, the article
list with the Chinese search, an article, a proposal after a consultation, standard replies."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from huiyin.cases.access import case_for
from huiyin.org.models import User

from . import services
from .models import Article, ArticleStatus, Purpose

staff_required = login_required(login_url=reverse_lazy("web:login"))


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@require_GET
@staff_required
def suggest(request: HttpRequest) -> HttpResponse:
    """The articles in force most relevant to what the agent is typing (a consultation is then
    answered and closed on the spot)."""
    hits = services.suggest_for(request.GET.get("subject", "")[:200], request.GET.get("description", "")[:2000])
    return render(request, "knowledge/_suggest.html", {"hits": hits, "kind": request.GET.get("kind", "")})


@require_GET
@staff_required
def article_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:100]
    if q:
        hits = services.search(q, limit=50)
    else:
        hits = [services.ArticleHit(article=a, snippet=services.snippet([a.body], "", width=120))
                for a in services.current().order_by("-updated_at")[:50]]
    return render(request, "knowledge/articles.html", {"q": q, "hits": hits})


@require_GET
@staff_required
def article_detail(request: HttpRequest, pk: int) -> HttpResponse:
    article = get_object_or_404(Article.objects.select_related("owner", "category"), pk=pk)
    in_force = services.current().filter(pk=pk).exists()
    return render(request, "knowledge/article.html", {"a": article, "in_force": in_force})


@require_http_methods(["GET", "POST"])
@staff_required
def propose(request: HttpRequest) -> HttpResponse:
    """After a consultation closes: propose a new article, or a correction of one, for review."""
    user = _user(request)
    number = request.GET.get("case", request.POST.get("case", ""))
    case = case_for(user, number) if number else None
    if number and case is None:
        raise Http404
    corrects = None
    corrects_id = request.GET.get("corrects", request.POST.get("corrects", ""))
    if corrects_id.isdigit():
        corrects = Article.objects.filter(pk=int(corrects_id)).first()
    errors: dict[str, str] = {}
    values = {"title": (corrects.title if corrects else case.subject if case else ""),
              "body": corrects.body if corrects else (case.reply if case else "")}
    if request.method == "POST":
        values = {"title": request.POST.get("title", "").strip()[:200], "body": request.POST.get("body", "").strip()}
        if not values["title"]:
            errors["title"] = _("A title is needed.")
        if not values["body"]:
            errors["body"] = _("The answer is needed.")
        elif len(values["body"]) > 50000:
            errors["body"] = _("At most 50,000 characters.")
        if not errors:
            services.propose(user=user, case=case, title=values["title"], body=values["body"], corrects=corrects)
            messages.success(request, _("Thank you: the article was sent for review."))
            return redirect("web:case", number=case.number) if case else redirect("knowledge:articles")
    status = 422 if errors else 200
    return render(request, "knowledge/propose.html",
                  {"case": case, "corrects": corrects, "v": values, "errors": errors}, status=status)


@require_GET
@staff_required
def replies(request: HttpRequest) -> HttpResponse:
    """Standard replies and service phrases filled from the case, for the reply and callback forms."""
    case = case_for(_user(request), request.GET.get("case", ""))
    if case is None:
        raise Http404
    purpose = request.GET.get("purpose", Purpose.REPLY)
    if purpose not in Purpose.values:
        purpose = Purpose.REPLY
    target = request.GET.get("target", "")[:60]
    return render(request, "knowledge/_replies.html",
                  {"rows": services.replies(_user(request), case, purpose), "target": target, "case": case,
                   "statuses": ArticleStatus})
