"""The screen-pop page (/callcentre/pop/?phone=…&recording=…): what the CTI system opens for the
agent when a call comes in."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from huiyin.cases.errors import BadInput
from huiyin.org.models import User

from .callcentre import screen_pop


@require_GET
@login_required
def pop(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    try:
        data = screen_pop(user, request.GET.get("phone", ""), recording=request.GET.get("recording", ""))
    except BadInput as exc:
        return render(request, "channels/pop.html", {"problem": exc.message, "phone": request.GET.get("phone", "")},
                      status=422)
    return render(request, "channels/pop.html", {"p": data})
