"""/api/v1/export-requests: exports of case records waiting for a leader's approval (privacy.exports).

An export is asked for at `/cases/export.xlsx?<filters>&reason=…`; where the policy wants an
approval, that answers 202 `{"export_request": ID}`. An approver approves or refuses here; the
requester then fetches `/cases/export.xlsx?<filters>&export_request=ID` (once, within a day)."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import Path, Query, Router, Schema
from pydantic import Field

from huiyin.cases.selectors import iso
from huiyin.org.models import User
from huiyin.privacy import exports
from huiyin.privacy.models import ExportRequest, ExportStatus
from huiyin.privacy.views import download_url

from . import schemas as out

router = Router(tags=["exports"])
MAX_ID = 2**63 - 1


def _user(request: HttpRequest) -> User:
    user: User = request.auth  # type: ignore[attr-defined]
    return user


def request_json(r: ExportRequest) -> dict[str, Any]:
    return {
        "id": r.pk, "requester": r.requester.username, "reason": r.reason, "filters": r.query,
        "status": r.status, "created_at": iso(r.created_at),
        "decided_by": r.decided_by.username if r.decided_by_id and r.decided_by else None,
        "decided_at": iso(r.decided_at), "used_at": iso(r.used_at), "rows": r.rows,
        "download": download_url(r) if r.status == ExportStatus.APPROVED else None,
    }


class ExportFilters(Schema):
    status: ExportStatus | None = None
    limit: int = Field(default=50, ge=1, le=200)


@router.get("", summary="Export requests: an approver's all, anyone else's own (newest first)",
            by_alias=True, response={200: out.ExportRequestList, **out.errors(401, 422)})
def export_request_list(request: HttpRequest, filters: Query[ExportFilters]) -> HttpResponse:
    rows = exports.visible_requests(_user(request))
    if filters.status:
        rows = rows.filter(status=filters.status)
    return JsonResponse({"items": [request_json(r) for r in rows[: filters.limit]]})


def _decide(request: HttpRequest, request_id: int, approve: bool) -> HttpResponse:
    user = _user(request)
    req = exports.visible_requests(user).filter(pk=request_id).first()
    if req is None:
        raise Http404
    decided = exports.export_request_approve(req, actor=user) if approve else exports.export_request_refuse(
        req, actor=user)
    return JsonResponse(request_json(decided))


@router.post("/{request_id}/approve", summary="Approve an export of case records (批准导出)",
             description="403: your roles are not the policy's export approvers (`privacy.export.approval`); "
             "404: no such request you may see; 409: already decided.",
             by_alias=True, response={200: out.ExportRequestOut, **out.errors(401, 403, 404, 409, 422)})
def export_request_approve(request: HttpRequest, request_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> HttpResponse:
    return _decide(request, request_id, True)


@router.post("/{request_id}/refuse", summary="Refuse an export of case records",
             by_alias=True, response={200: out.ExportRequestOut, **out.errors(401, 403, 404, 409, 422)})
def export_request_refuse(request: HttpRequest, request_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> HttpResponse:
    return _decide(request, request_id, False)
