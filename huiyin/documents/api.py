"""The formal documents over the REST API, mounted beside the cases (/api/v1/cases):

GET /cases/{number}/documents/{kind}.pdf  and  .html  — kinds acceptance_notice, rejection_notice,
transfer_letter, reply, callback_record, record_form (and walk_in_record for a walk-in). A document
is numbered the first time it is printed and keeps its number; 409 when it cannot exist yet.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Router

from huiyin.cases.access import case_for
from huiyin.cases.models import DocumentKind
from huiyin.org.models import User

from . import services

router = Router(tags=["documents"])
ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_TEXT = {
    401: "`unauthenticated`: no bearer token, or an unknown or expired one.",
    403: "`forbidden`: the document was never issued and your roles only read (the auditor).",
    404: "`not_found`: no such case (or outside your units' subtrees), or no such kind of document.",
    409: "`invalid_transition`: the document cannot exist yet (e.g. a reply before the case has one).",
}
KIND_PARAM = {"in": "path", "name": "kind", "required": True,
              "schema": {"type": "string", "enum": list(DocumentKind.values)},
              "description": "acceptance_notice 受理告知书, rejection_notice 不予受理告知书, transfer_letter 转办函, "
                             "reply 答复意见书, callback_record 回访记录, record_form the policy's record form, "
                             "walk_in_record 来访登记表."}


def _extra(media: str, what: str) -> dict[str, Any]:
    responses: dict[Any, Any] = {s: {"description": d, "content": {"application/json": {"schema": ERROR_REF}}}
                                 for s, d in ERROR_TEXT.items()}
    responses[200] = {"description": what, "headers": {"Content-Disposition": {
        "description": "inline; filename=\"<number>-<kind>.<ext>\"", "schema": {"type": "string"}}},
        "content": {media: {"schema": {"type": "string", "format": "binary"}}}}
    return {"responses": responses, "parameters": [KIND_PARAM]}


def _answer(request: HttpRequest, number: str, kind: str, fmt: str) -> HttpResponse:
    user: User = request.auth  # type: ignore[attr-defined]
    case = case_for(user, number)
    if case is None or kind not in DocumentKind.values:
        raise Http404
    doc = services.document_for_staff(user, case, kind)
    body = services.rendered(case, doc, fmt, viewer=user)
    response = HttpResponse(body, content_type="application/pdf" if fmt == "pdf" else "text/html; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{services.filename(doc, fmt)}"'
    return response


@router.get("/{number}/documents/{kind}.pdf", summary="A formal document of the case as PDF", response={200: None},
            openapi_extra=_extra("application/pdf", "The document as a PDF (A4, Chinese fonts embedded)."))
def document_pdf(request: HttpRequest, number: str, kind: str) -> HttpResponse:
    return _answer(request, number, kind, "pdf")


@router.get("/{number}/documents/{kind}.html", summary="A formal document of the case as a printable page",
            response={200: None}, openapi_extra=_extra("text/html", "The document as an HTML page to print (A4)."))
def document_html(request: HttpRequest, number: str, kind: str) -> HttpResponse:
    return _answer(request, number, kind, "html")
