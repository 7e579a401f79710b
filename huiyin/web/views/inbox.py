"""The in-app inbox (站内通知): the user's notifications, newest first, and marking them read.
Reads and writes go through notify's own services; another user's item is a 404."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from huiyin.notify.models import InboxItem
from huiyin.notify.scope import visible_numbers
from huiyin.notify.services import inbox_item_for, inbox_mark_read

from .common import staff_required, user_of

PAGE = 50


@require_GET
@staff_required
def inbox(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    unread = request.GET.get("show") == "unread"
    qs = InboxItem.objects.filter(user=user).order_by("-id")
    if unread:
        qs = qs.filter(read_at=None)  # the partial unread index
    before = request.GET.get("before", "")
    if before.isdigit() and len(before) < 19:  # an id, never beyond 64 bits
        qs = qs.filter(id__lt=int(before))
    items = list(qs[: PAGE + 1])
    more = len(items) > PAGE
    items = items[:PAGE]
    seen = visible_numbers(user, (i.case_number for i in items))  # no case the reader gets 404 on (issue 11)
    items = [i for i in items if not i.case_number or i.case_number in seen]
    return render(request, "web/inbox.html", {
        "section": "inbox", "items": items, "next_before": items[-1].pk if more else None,
        "unread_only": unread, "show": "unread" if unread else "",
    })


@require_POST
@staff_required
def inbox_read(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_of(request)
    back = reverse("web:inbox") + ("?show=unread" if request.POST.get("show") == "unread" else "")
    if pk == 0:  # "mark all read"
        for unread in InboxItem.objects.filter(user=user, read_at=None):
            inbox_mark_read(unread)
        return redirect(back)
    item = inbox_item_for(user, pk)
    if item is None:
        raise Http404
    inbox_mark_read(item)
    if item.case_number and request.POST.get("open"):
        return redirect("web:case", item.case_number)
    return redirect(back)
