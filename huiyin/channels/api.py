"""The call centre over the REST API: GET /api/v1/screen-pop?phone=…[&recording=…] (staff, bearer
token) — see `callcentre.screen_pop`."""

from __future__ import annotations

import json
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Query, Router, Schema
from pydantic import ConfigDict, Field, WithJsonSchema

from huiyin.cases.errors import BadInput, Forbidden
from huiyin.cases.models import Timer
from huiyin.cases.selectors import iso
from huiyin.org.models import User

from .callcentre import screen_pop
from .models import Upstream
from .upstream import transfer_receive

router = Router(tags=["call centre"])
Timestamp = Annotated[
    str, WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-02-24T17:30:00+08:00"]})
]
ERROR_REF = {"$ref": "#/components/schemas/Error"}


def errors(texts: dict[int, str]) -> dict[str, Any]:
    return {"responses": {s: {"description": d, "content": {"application/json": {"schema": ERROR_REF}}}
                          for s, d in texts.items()}}


class Out(Schema):
    model_config = ConfigDict(extra="forbid")


class CallerCase(Out):
    number: str
    kind: str
    state: str
    subject: str
    unit: str | None = Field(description="The handling unit's name, once dispatched.")
    received_at: Timestamp
    deadline: Timestamp | None = Field(description="The open case's current deadline.")
    overdue: bool
    waiting_for: str | None = Field(description="The step the open case waits for (an action's name).")
    closed_at: Timestamp | None
    satisfaction: str | None
    urge_count: int


class Hints(Out):
    urge: str | None = Field(description="An open case of the caller the agent may urge (催办): this call is "
                                         "most likely about it.")
    repeat: str | None = Field(description="A case closed within the policy's repeat window: a new complaint "
                                           "is a repeat (重复投诉).")
    repeat_days: int


class ScreenPop(Out):
    """Who is calling: their cases the agent may see, newest first, and what to do with the call."""

    phone: str = Field(description="The number as stored (digits, no +86).")
    valid_phone: bool
    name: str = Field(description="The name the caller gave last time (empty if unknown or not to be shown).")
    customer_class: str
    open: list[CallerCase]
    recent: list[CallerCase] = Field(description="Closed cases of the last year, newest first.")
    hints: Hints
    intake_url: str = Field(description="The intake page pre-filled with the number, the name and the recording.")
    recording: str


class PopQuery(Schema):
    phone: str = Field(max_length=32, description="The caller's number as the CTI system has it.")
    recording: str = Field(default="", max_length=200, description="The call's recording reference in the CTI "
                                                                    "system; stored on a case registered from it.")


@router.get("/screen-pop", summary="Screen-pop: who is calling (弹屏)", by_alias=True, response={200: ScreenPop},
            openapi_extra=errors({401: "`unauthenticated`: no bearer token, or an unknown or expired one.",
                                  422: "`invalid_input`: no phone number (at least 5 digits)."}))
def screen_pop_api(request: HttpRequest, q: Query[PopQuery]) -> HttpResponse:
    user: User = request.auth  # type: ignore[attr-defined]
    return JsonResponse(screen_pop(user, q.phone, recording=q.recording))


# --- upstream and regulator transfers -------------------------------------------------------------


class TransferAccepted(Out):
    number: str = Field(description="Our case number.")
    reference: str = Field(description="The upstream's own reference, as sent.")
    due_at: Timestamp | None = Field(description="The upstream's deadline; it caps the case's clocks.")
    resolve_due_at: Timestamp | None = Field(description="When our answer is due (the resolve clock, capped).")


@router.post("/transfers", summary="An upstream or regulator platform transfers a case (上级/监管转办)",
             by_alias=True, response={201: TransferAccepted, 200: TransferAccepted},
             openapi_extra={**errors({401: "`unauthenticated`: no bearer token, or an unknown or expired one.",
                                      403: "`forbidden`: the token is not an upstream platform's.",
                                      413: "`too_large`: the request body is over the limit.",
                                      422: "`invalid_input`: the case's fields, or no upstream_ref / upstream_due_at."}),
                            "requestBody": {"required": True, "content": {"application/json": {
                                "schema": {"$ref": "#/components/schemas/CaseIn"}}}}})
def transfer_create(request: HttpRequest) -> HttpResponse:
    """The staff intake's JSON (`CaseIn`) with `upstream_ref` and `upstream_due_at` required; the
    channel is the platform's (upstream or regulator). 201 with the new case; 200 with the case a
    push with the same reference already made. The result is reported back to the platform's
    address, in its format, when the case ends — retried until acknowledged."""
    user: User = request.auth  # type: ignore[attr-defined]
    upstream = Upstream.objects.filter(user=user, active=True).first()
    if upstream is None:
        raise Forbidden("Only an upstream platform's account transfers cases here.")
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: "[[[[…" nested too deep
        raise BadInput("The request body is not valid JSON.", fields={"body": "invalid JSON"}) from None
    case, created = transfer_receive(upstream, data, ip=request.META.get("REMOTE_ADDR"))
    resolve = Timer.objects.filter(case=case, code__in=["resolve", "end_to_end"], stopped_at__isnull=True,
                                   co_unit__isnull=True).order_by("due_at").values_list("due_at", flat=True).first()
    return JsonResponse({"number": case.number, "reference": case.upstream_ref, "due_at": iso(case.upstream_due_at),
                         "resolve_due_at": iso(resolve)}, status=201 if created else 200)
