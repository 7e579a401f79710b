"""The portal over the REST API, mounted at /api/v1/portal (no authentication): what a WeChat
mini program or another public front end needs.

POST ""                           → 201 {"number", "query_code"}: a case from the public (channel web)
GET  "/cases/{number}"            → the tracking view; header X-Query-Code (404 for a wrong code,
                                    exactly as for a case that does not exist)
GET  "/track"                     → the same by the query code alone (an anonymous reporter)
POST "/cases/{number}/satisfaction", "/reopen", "/information" → the complainant's steps
POST "/challenges"                → a challenge picture, when an answer is asked for (428)

Every answer is counted per client address (`limits`); after repeated use an answer to a
challenge must come with the request (headers X-Challenge-Id and X-Challenge-Answer), 428
otherwise; past the limit, 429 with Retry-After. Errors have the API's `Error` shape.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import Router, Schema
from pydantic import ConfigDict, Field, WithJsonSchema

from huiyin.cases.errors import BadInput
from huiyin.cases.models import Case

from . import limits, services
from .challenge import picture

router = Router(tags=["portal"])

Timestamp = Annotated[
    str, WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-02-24T17:30:00+08:00"]})
]
ERROR_REF = {"$ref": "#/components/schemas/Error"}
CODE_HEADER = {"in": "header", "name": "X-Query-Code", "required": True, "schema": {"type": "string"},
               "description": "The query code shown on the receipt (dashes and spaces do not matter)."}
CHALLENGE_HEADERS = [
    {"in": "header", "name": "X-Challenge-Id", "required": False, "schema": {"type": "string"},
     "description": "After repeated use (428): the id of a challenge from POST /portal/challenges."},
    {"in": "header", "name": "X-Challenge-Answer", "required": False, "schema": {"type": "string"},
     "description": "The characters of that challenge's picture."},
]
ERROR_TEXT = {
    404: "`not_found`: no such case, or a wrong query code (indistinguishable).",
    409: "`invalid_transition`: not possible in the case's state (e.g. rated already, still being handled, "
         "past the period for reopening).",
    413: "`too_large`: the request body is over the limit.",
    422: "`invalid_input`: bad JSON, unknown fields, wrong types, too long, control characters; `fields` names "
         "each one.",
    428: "`challenge_required`: this address used the portal repeatedly; answer a challenge (POST "
         "/portal/challenges) and repeat the request with X-Challenge-Id and X-Challenge-Answer. "
         "`challenge_failed`: the answer was wrong or the challenge expired.",
    429: "`too_many_requests`: this address used the portal too often; try again after Retry-After seconds.",
    503: "`portal_unavailable`: the portal takes in no cases now (no unit registers them: the operator's "
         "settings); nothing was stored.",
}


def _extra(*statuses: int, body: type[Any] | None = None, code: bool = False, challenge: bool = True
           ) -> dict[str, Any]:
    extra: dict[str, Any] = {"responses": {
        s: {"description": ERROR_TEXT[s], "content": {"application/json": {"schema": ERROR_REF}}} for s in statuses}}
    params = ([CODE_HEADER] if code else []) + (CHALLENGE_HEADERS if challenge else [])
    if params:
        extra["parameters"] = params
    if body is not None:
        extra["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{body.__name__}"}}}}
    return extra


class Out(Schema):
    model_config = ConfigDict(extra="forbid")


class Submitted(Out):
    number: str = Field(examples=["TS20260213-000001"])
    query_code: str = Field(description="Shown this once and never again (only its hash is kept): with the number "
                                        "it opens the case on the portal.", examples=["7KQ2-M9XD-4HTA-PLWE-3C8N-YR6F"])


class PublicDeadline(Out):
    clock: str = Field(description="dispatch (受理), first_contact, resolve (答复), end_to_end (办结) or callback.")
    label: str = Field(description="What the portal calls it, e.g. 答复时限.")
    due_at: Timestamp
    state: str = Field(description="running, paused, met, breached or cancelled.")
    open: bool


class PublicDocument(Out):
    kind: str = Field(description="acceptance_notice, rejection_notice or reply.")
    title: str
    number: str = Field(description="The document number, e.g. 示范市局〔2026〕受告字第00001号.")
    issued_at: Timestamp


class Milestone(Out):
    at: Timestamp
    label: str


class Tracking(Out):
    """What the complainant sees of their case: never a person, an internal note, an
    instruction, an approval comment or another case."""

    number: str
    kind: str
    state: str
    status: str = Field(description="The state in the complainant's words.")
    received_at: Timestamp
    subject: str
    description: str
    demands: str
    unit: str | None = Field(description="The handling unit's name, once the case is sent to one.")
    deadlines: list[PublicDeadline]
    reply: str | None = Field(description="The answer, once the result is accepted (or the explanation of a refusal).")
    competent_authority: str | None = Field(description="Where to turn when the matter is not this organisation's.")
    documents: list[PublicDocument]
    progress: list[Milestone]
    satisfaction: str | None
    closed_at: Timestamp | None
    may_rate: bool
    may_add_information: bool
    may_reopen: bool
    reopen_until: Timestamp | None
    reopen_requested: bool


class Challenge(Out):
    id: str = Field(description="Send it back as X-Challenge-Id.")
    image: str = Field(description="The picture to read, as a data: URI (PNG).")
    expires_in: int = Field(description="Seconds the challenge stays answerable; each is answerable once.")


def _error(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": fields or {}}}, status=status)


def _limited(request: HttpRequest, scope: str) -> JsonResponse | None:
    """Count this request; the 428/429 answer when it may not go on."""
    try:
        limits.check(scope, limits.client_address(request),
                     challenge_id=request.headers.get("X-Challenge-Id", ""),
                     answer=request.headers.get("X-Challenge-Answer", ""))
    except limits.Limited as exc:
        response = _error(429, "too_many_requests", str(exc))
        response["Retry-After"] = str(exc.retry_after)
        return response
    except limits.ChallengeRequired as exc:
        return _error(428, "challenge_failed" if exc.wrong else "challenge_required", str(exc),
                      {"X-Challenge-Answer": "wrong or expired" if exc.wrong else "required"})
    return None


def _body(request: HttpRequest) -> Any:
    if not request.body:
        return {}
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: "[[[[…" nested too deep
        raise BadInput("The request body is not valid JSON.", fields={"body": "invalid JSON"}) from None


def _ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _case(request: HttpRequest, number: str) -> Case:
    case = services.case_by_number(number, request.headers.get("X-Query-Code", ""))
    if case is None:
        raise Http404
    return case


@router.post("/cases", summary="Submit a case from the public (channel web)", auth=None, by_alias=True,
             response={201: Submitted},
             openapi_extra=_extra(413, 422, 428, 429, 503, body=services.PortalCaseIn))
def portal_case_create(request: HttpRequest) -> HttpResponse:
    """The staff intake's fields without the internal ones. `complainant` may be left out only
    for a report (举报), which is then anonymous and followed by its query code alone. The
    answer's `query_code` is shown once: only its hash is kept."""
    if (refused := _limited(request, "submit")) is not None:
        return refused
    case, code = services.case_submit(_body(request), ip=_ip(request))
    return JsonResponse({"number": case.number, "query_code": code}, status=201)


@router.get("/cases/{number}", summary="Follow a case (number and query code)", auth=None, by_alias=True,
            response={200: Tracking}, openapi_extra=_extra(404, 428, 429, code=True))
def portal_case_detail(request: HttpRequest, number: str) -> HttpResponse:
    if (refused := _limited(request, "track")) is not None:
        return refused
    return JsonResponse(services.tracking_view(_case(request, number)))


@router.get("/track", summary="Follow a case by its query code alone (an anonymous report)", auth=None,
            by_alias=True, response={200: Tracking}, openapi_extra=_extra(404, 428, 429, code=True))
def portal_track(request: HttpRequest) -> HttpResponse:
    if (refused := _limited(request, "track")) is not None:
        return refused
    case = services.case_by_code(request.headers.get("X-Query-Code", ""))
    if case is None:
        raise Http404
    return JsonResponse(services.tracking_view(case))


@router.post("/cases/{number}/satisfaction", summary="Rate the handling (满意度)", auth=None, by_alias=True,
             response={200: Tracking},
             openapi_extra=_extra(404, 409, 413, 422, 428, 429, body=services.SatisfactionIn, code=True))
def portal_case_rate(request: HttpRequest, number: str) -> HttpResponse:
    """The callback's values (very_satisfied, satisfied, neutral, unsatisfied). While the case waits
    for its callback this answers it; on a closed case not yet rated it records the satisfaction."""
    if (refused := _limited(request, "act")) is not None:
        return refused
    case = services.rate(_case(request, number), _body(request), ip=_ip(request))
    return JsonResponse(services.tracking_view(case))


@router.post("/cases/{number}/reopen", summary="Ask to have a closed case handled again (重办申请)", auth=None,
             by_alias=True, response={200: Tracking},
             openapi_extra=_extra(404, 409, 413, 422, 428, 429, body=services.ReopenIn, code=True))
def portal_case_reopen(request: HttpRequest, number: str) -> HttpResponse:
    """Within the policy's period after closing (`portal.reopen_days`); the centre decides."""
    if (refused := _limited(request, "act")) is not None:
        return refused
    case = services.reopen_request(_case(request, number), _body(request), ip=_ip(request))
    return JsonResponse(services.tracking_view(case))


@router.post("/cases/{number}/information", summary="Add information to a case being handled (补充材料)",
             auth=None, by_alias=True, response={200: Tracking},
             openapi_extra=_extra(404, 409, 413, 422, 428, 429, body=services.InformationIn, code=True))
def portal_case_information(request: HttpRequest, number: str) -> HttpResponse:
    if (refused := _limited(request, "act")) is not None:
        return refused
    case = services.information_add(_case(request, number), _body(request), ip=_ip(request))
    return JsonResponse(services.tracking_view(case))


@router.post("/challenges", summary="A challenge to answer after repeated use", auth=None, by_alias=True,
             response={201: Challenge}, openapi_extra=_extra(429, challenge=False))
def portal_challenge_create(request: HttpRequest) -> HttpResponse:
    try:
        limits.check("challenge", limits.client_address(request))
    except (limits.Limited, limits.ChallengeRequired):
        response = _error(429, "too_many_requests", "Too many challenges from this address; try again later.")
        response["Retry-After"] = str(settings.PORTAL_LIMITS["challenge"][2])
        return response
    challenge_id = limits.challenge_new()
    answer = limits.challenge_answer(challenge_id) or ""
    image = "data:image/png;base64," + base64.b64encode(picture(answer)).decode()
    return JsonResponse({"id": challenge_id, "image": image, "expires_in": limits.CHALLENGE_SECONDS}, status=201)
