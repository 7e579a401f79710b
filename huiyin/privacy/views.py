"""The export requests page: an approver decides, a requester follows theirs and downloads the file
once it is approved (privacy.exports)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from huiyin.cases.errors import CaseError
from huiyin.org.models import User

from . import exports
from .models import ExportRequest, ExportStatus


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def download_url(req: ExportRequest) -> str:
    """The export's own address with the request: `/cases/export.xlsx?<filters>&export_request=ID`."""
    query = (req.query + "&") if req.query else ""
    return reverse("web:case_export") + "?" + query + urlencode({"export_request": req.pk})


@require_GET
@login_required
def export_requests(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    rows = [{"request": r, "download": download_url(r) if r.requester_id == user.pk and exports.redeemable(
        user, r.pk)[0] else ""} for r in exports.visible_requests(user)[:100]]
    return render(request, "privacy/export_requests.html", {
        "rows": rows, "may_approve": exports.may_approve(user), "requested": ExportStatus.REQUESTED,
    })


@require_POST
@login_required
def export_decide(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    req = exports.visible_requests(user).filter(pk=pk).first() if pk < 2**63 else None
    if req is None:
        raise Http404
    decision = request.POST.get("decision", "")
    try:
        if decision == "approve":
            exports.export_request_approve(req, actor=user)
            messages.success(request, _("Export request %(id)s approved.") % {"id": req.pk})
        elif decision == "refuse":
            exports.export_request_refuse(req, actor=user)
            messages.success(request, _("Export request %(id)s refused.") % {"id": req.pk})
    except CaseError as exc:
        messages.error(request, _("Export request %(id)s was not decided: %(why)s") % {
            "id": req.pk, "why": _("your roles do not approve exports") if exc.status == 403
            else _("it was already decided")})
    return redirect("privacy:export_requests")
