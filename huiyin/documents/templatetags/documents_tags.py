"""The case page's 文书 menu (one include in web/case.html): the documents the reader may open for
the case now (`services.documents_for_staff`: issued ones, or ones the reader may issue)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from huiyin.cases.models import Case, DocumentKind
from huiyin.org.models import User

from .. import services

register = template.Library()


@register.inclusion_tag("documents/_case_menu.html", takes_context=True)
def case_documents(context: Any, case: Case) -> dict[str, Any]:
    user = context.get("user") or getattr(context.get("request"), "user", None)
    if not isinstance(user, User):
        return {"items": []}
    labels = dict(DocumentKind.choices)
    items = [
        {"kind": kind, "label": labels[kind],
         "pdf": reverse("documents:document", args=[case.number, kind, "pdf"]),
         "html": reverse("documents:document", args=[case.number, kind, "html"])}
        for kind in services.documents_for_staff(user, case)
    ]
    return {"items": items}
