"""The case page's 文书 menu (one include in web/case.html): the documents the case can have now."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from huiyin.cases.models import Case, DocumentKind
from huiyin.cases.notices import not_available

register = template.Library()


@register.inclusion_tag("documents/_case_menu.html")
def case_documents(case: Case) -> dict[str, Any]:
    items = [
        {"kind": kind, "label": label,
         "pdf": reverse("documents:document", args=[case.number, kind, "pdf"]),
         "html": reverse("documents:document", args=[case.number, kind, "html"])}
        for kind, label in DocumentKind.choices if not_available(case, kind) is None
    ]
    return {"items": items}
