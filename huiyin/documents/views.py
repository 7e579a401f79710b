"""Formal documents for the staff pages (signed in): /documents/<number>/<kind>.<html|pdf> — the
same documents as the API's, for the case page's print buttons."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from huiyin.cases.access import case_for
from huiyin.cases.errors import CaseError
from huiyin.cases.models import DocumentKind
from huiyin.org.models import User

from . import services


@require_GET
@login_required
def document(request: HttpRequest, number: str, kind: str, fmt: str) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    case = case_for(user, number)
    if case is None or kind not in DocumentKind.values or fmt not in services.FORMATS:
        raise Http404
    try:
        doc = services.document_for_staff(user, case, kind)
    except CaseError as exc:
        return HttpResponse(exc.message, status=exc.status, content_type="text/plain; charset=utf-8")
    response = HttpResponse(services.rendered(case, doc, fmt, viewer=user),
                            content_type="application/pdf" if fmt == "pdf" else "text/html; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{services.filename(doc, fmt)}"'
    return response
