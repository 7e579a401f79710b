"""REST API v1 (/api/v1/): thin — fetch through access, validate, call one service.

Errors always have the shape {"error": {"code", "message", "fields"}}; no stack traces.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from typing import Annotated, Any

from django.contrib.auth import authenticate
from django.core.exceptions import RequestDataTooBig
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from ninja import File, Path, Query, Router, Schema, UploadedFile
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import Field, field_validator

from huiyin.cases import inputs, outcomes, selectors, services, workflow
from huiyin.cases.access import case_for
from huiyin.cases.attachments import attachment_add, attachment_open
from huiyin.cases.errors import BadInput, CaseError
from huiyin.cases.models import Case, Category, Channel, CustomerClass, Kind, Severity, State
from huiyin.notify.selectors import delivery_status
from huiyin.org import mfa, tokens
from huiyin.org.access import is_administrator, unit_for, visible_unit
from huiyin.org.audit import audit
from huiyin.org.models import ApiToken, User
from huiyin.sla import calendar as cal

from . import schemas as out
from .auth import BearerAuth, caller_token, token_issue
from .openapi import ATTACHMENT_TYPES, HuiyinAPI, body_ref, download
from .serialize import attachment_json, event_json

log = logging.getLogger(__name__)

MAX_ID = 2**63 - 1  # ids and cursors beyond a 64-bit integer are refused (422), not sent to the database

api = HuiyinAPI(
    title="Huiyin API",
    version="1",
    urls_namespace="api",
    auth=BearerAuth(),
    docs_url="/docs",
    openapi_url="/openapi.json",
    description="Complaint handling: cases, workflow actions, working-day deadlines. "
    "Authenticate with POST /auth/token, then send `Authorization: Bearer <token>`. "
    "Every operation's answers are described here, errors included (`Error`); each workflow action "
    "is its own operation (POST /cases/{number}/actions/<action>) with its own body. "
    "Times are ISO 8601 in Beijing time (+08:00).",
)


def error(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": fields or {}}}, status=status)


@api.exception_handler(CaseError)
def _case_error(request: HttpRequest, exc: CaseError) -> HttpResponse:
    return error(exc.status, exc.code, exc.message, exc.fields)


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields: dict[str, str] = {}
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", []) if p not in ("query", "body", "path", "payload")]
        fields.setdefault(".".join(loc) or "body", err.get("msg", "invalid"))
    return error(422, "invalid_input", "Some fields are invalid: " + ", ".join(sorted(fields)), fields)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error(401, "unauthenticated", "A valid bearer token is required (POST /api/v1/auth/token).")


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error(404, "not_found", "Not found.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400:  # django-ninja's only 400: a body it could not parse (POST /auth/token)
        return _case_error(request, _not_json())
    return error(exc.status_code, "bad_request" if exc.status_code < 500 else "server_error", str(exc))


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error(413, "too_large", "The request is too large.")


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("unexpected API error on %s %s", request.method, request.path)
    return error(500, "server_error", "An unexpected error occurred; it has been logged.")


def _not_json() -> BadInput:
    return BadInput("The request body is not valid JSON.", fields={"body": "invalid JSON"})


def _json_body(request: HttpRequest) -> Any:
    if not request.body:
        return {}
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: "[[[[…" nested too deep
        raise _not_json() from None


def _ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _user(request: HttpRequest) -> User:
    user: User = request.auth  # type: ignore[attr-defined]  # set by BearerAuth
    return user


# --- auth -------------------------------------------------------------------------------


class TokenIn(Schema):
    username: str = Field(max_length=150)
    password: str = Field(max_length=200)
    otp: str | None = Field(default=None, max_length=12,
                            description="The one-time code of the user's authenticator app, where the user has one "
                            "or the role needs one (leaders, supervisors, administrators, auditors in production).")
    name: str = Field(default="", max_length=100, description="What the token is for (shown in token lists).")


@api.post("/auth/token", auth=None, tags=["auth"], summary="Issue a bearer token",
          description="401 `invalid_credentials`; `otp_required` / `invalid_otp` when a one-time code is needed or "
          "wrong; `mfa_enrolment_required` when the role needs a code and the user has no authenticator app yet "
          "(enrol on the web). 429 `locked_out` after repeated failures (by user name and by address).",
          by_alias=True, response={200: out.Token, **out.errors(401, 413, 422, 429)})
def auth_token(request: HttpRequest, payload: TokenIn) -> HttpResponse:
    user = authenticate(request, username=payload.username, password=payload.password)
    if user is None or not user.is_active:
        return error(401, "invalid_credentials", "Wrong username or password.")
    problem = mfa.api_problem(user, payload.otp)
    if problem is not None:
        if problem[0] == "invalid_otp":
            mfa.failed(request, user)
        return error(401, *problem)
    token = token_issue(user, name=payload.name or "api")
    audit("token_issued", actor=user, target=user.username, details={"name": payload.name or "api"}, request=request)
    return JsonResponse({"token": token})


@api.delete("/auth/token", tags=["auth"], summary="Revoke the caller's own token (sign out)",
            by_alias=True, response={200: out.Revoked, **out.errors(401)})
def auth_token_revoke(request: HttpRequest) -> HttpResponse:
    row = caller_token(request)
    done = tokens.token_revoke(row, reason="holder")
    audit("token_revoked", actor=row.user, target=row.user.username, details={"token": row.pk, "by": "holder"},
          request=request)
    return JsonResponse({"revoked": int(done)})


class TokenFilters(Schema):
    user: str | None = Field(default=None, max_length=150, description="Administrators: one user's tokens.")
    active: bool | None = Field(default=None, description="true: only live tokens; false: only dead ones.")
    cursor: int | None = Field(default=None, ge=1, le=MAX_ID, description="Continue after this id (next_cursor).")
    limit: int = Field(default=50, ge=1, le=200)


@api.get("/auth/tokens", tags=["auth"], summary="API tokens: an administrator's all, anyone else's own",
         description="Newest first. `active` tells whether the token still works (not expired, not revoked, the "
         "password unchanged since it was issued).",
         by_alias=True, response={200: out.TokenList, **out.errors(401, 422)})
def auth_tokens(request: HttpRequest, filters: Query[TokenFilters]) -> HttpResponse:
    user = _user(request)
    rows = ApiToken.objects.select_related("user").order_by("-id")
    if not is_administrator(user):
        rows = rows.filter(user=user)
    elif filters.user:
        rows = rows.filter(user__username=filters.user)
    now = timezone.now()
    live = Q(revoked_at__isnull=True, expires_at__gt=now, user__is_active=True)
    if filters.active is True:
        rows = rows.filter(live)
    elif filters.active is False:
        rows = rows.exclude(live)
    if filters.cursor:
        rows = rows.filter(id__lt=filters.cursor)
    found = list(rows[: filters.limit + 1])
    page, more = found[: filters.limit], len(found) > filters.limit
    return JsonResponse({"items": [_token_json(t, now) for t in page],
                         "next_cursor": page[-1].pk if more else None, "has_next": more})


def _token_json(t: ApiToken, now: datetime) -> dict[str, Any]:
    active = (t.revoked_at is None and t.expires_at > now and t.user.is_active
              and t.user_mark == t.user.get_session_auth_hash())
    return {"id": t.pk, "user": t.user.username, "name": t.name, "created_at": selectors.iso(t.created_at),
            "expires_at": selectors.iso(t.expires_at), "last_used_at": selectors.iso(t.last_used_at),
            "revoked_at": selectors.iso(t.revoked_at), "revoked_reason": t.revoked_reason or None, "active": active}


@api.delete("/auth/tokens/{token_id}", tags=["auth"], summary="Revoke a token (an administrator's any, anyone's own)",
            by_alias=True, response={200: out.Revoked, **out.errors(401, 404, 422)})
def auth_token_revoke_one(request: HttpRequest, token_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> HttpResponse:
    user = _user(request)
    rows = ApiToken.objects.select_related("user")
    if not is_administrator(user):
        rows = rows.filter(user=user)
    row = rows.filter(pk=token_id).first()
    if row is None:
        raise Http404
    done = tokens.token_revoke(row, reason="admin" if row.user_id != user.pk else "holder")
    if done:
        audit("token_revoked", actor=user, target=row.user.username, details={"token": row.pk}, request=request)
    return JsonResponse({"revoked": int(done)})


# --- cases ------------------------------------------------------------------------------

cases_router = Router(tags=["cases"])


def _case_or_404(user: User, number: str) -> Case:
    case = case_for(user, number)
    if case is None:
        raise Http404
    return case


@cases_router.post(
    "",
    summary="Register a case (受理)",
    description="201 with the new case; 200 with the case an Idempotency-Key already made, or with the "
    "customer's open case and `urged` true when the policy turns a repeated contact into an urge (催办).",
    by_alias=True, response={201: out.Case, 200: out.CaseRegistered, **out.errors(401, 403, 409, 413, 422)},
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": body_ref(inputs.CaseIn)}}},
        "parameters": [{"in": "header", "name": "Idempotency-Key", "required": False, "schema": {"type": "string"}}],
    },
)
def case_create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    case, created = services.case_register(
        _json_body(request), actor=user, idempotency_key=request.headers.get("Idempotency-Key"),
        source="api", ip=_ip(request),
    )
    urged = getattr(case, "urged_instead", False)
    if urged or not created:
        case = case_for(user, case.number) or case
    else:
        case.registered_by = user  # the new case is the caller's own: no second fetch
    body = selectors.case_facts(user, case)
    if urged:
        body["urged"] = True  # an open case of this customer was urged (催办) instead
    return JsonResponse(body, status=201 if created else 200)


class CaseFilters(Schema):
    state: State | None = None
    kind: Kind | None = None
    unit: str | None = Field(default=None, max_length=64)
    severity: Severity | None = None
    overdue: bool | None = None
    q: str | None = Field(default=None, max_length=100)
    cursor: int | None = Field(default=None, ge=1, le=MAX_ID, description="Continue after this position (next_cursor).")
    limit: int = Field(default=20, ge=1, le=100)
    # The same filters as the case list page; the reports' drill-downs (cases_url) use them.
    category: str | None = Field(default=None, max_length=64, description="Exactly this category.")
    channel: Channel | None = None
    date_from: date | None = Field(default=None, alias="from", description="Received on or after this day.")
    date_to: date | None = Field(default=None, alias="to", description="Received on or before this day.")
    within: str | None = Field(default=None, max_length=64, description=(
        "The cases of this unit: handled in its subtree, or registered there and not yet dispatched."))
    category_under: str | None = Field(default=None, max_length=64, description="This category or one below it.")
    customer_class: CustomerClass | None = None
    region: str | None = Field(default=None, max_length=100)
    outcome: list[str] = Field(default_factory=list, max_length=5, description=(
        "What happened to the case, read off its timeline (docs/indicators.md), e.g. resolved, "
        "late:resolve, satisfaction:unsatisfied; repeat the parameter to require several."))


@cases_router.get("", summary="List cases visible to the caller (newest first, keyset-paginated)",
                  by_alias=True, response={200: out.CasePage, **out.errors(401, 422)})
def case_list(request: HttpRequest, filters: Query[CaseFilters]) -> HttpResponse:
    """The same filters as the case list page (`cases.selectors.ListFilters`): `unit` keeps the
    cases handled in that unit's subtree; `overdue` looks at counting (not paused) deadlines."""
    user = _user(request)
    unit = None
    if filters.unit:
        unit = unit_for(user, filters.unit)
        if unit is None:
            raise BadInput(f"Unknown unit {filters.unit!r}.", fields={"unit": "unknown unit code"})
    within = None
    if filters.within:
        within = visible_unit(user, filters.within)
        if within is None:
            raise BadInput(f"Unknown unit {filters.within!r}.", fields={"within": "unknown unit code"})
    wrong = [o for o in filters.outcome if not outcomes.is_outcome(o)]
    if wrong:
        raise BadInput(f"Unknown outcome {wrong[0]!r}.", fields={"outcome": "unknown outcome"})
    f = selectors.ListFilters(
        state=[filters.state] if filters.state else [],
        kind=filters.kind or "",
        severity=filters.severity or "",
        unit=unit,
        overdue="" if filters.overdue is None else "yes" if filters.overdue else "no",
        q=filters.q or "",
        category=filters.category or "",
        channel=filters.channel or "",
        date_from=filters.date_from,
        date_to=filters.date_to,
        within=within,
        category_under=filters.category_under or "",
        customer_class=filters.customer_class or "",
        region=filters.region or "",
        outcome=list(filters.outcome),
    )
    rows, next_cursor = selectors.page(selectors.apply_filters(user, f), sort="-id", cursor=filters.cursor,
                                       limit=filters.limit)
    return JsonResponse({
        "items": [selectors.case_row(user, c) for c in rows],
        "next_cursor": int(next_cursor) if next_cursor else None,
        "has_next": next_cursor is not None,
    })


@cases_router.get("/{number}", summary="One case, with its deadlines and the actions the caller may take",
                  by_alias=True, response={200: out.Case, **out.errors(401, 404)})
def case_detail(request: HttpRequest, number: str) -> HttpResponse:
    user = _user(request)
    return JsonResponse(selectors.case_facts(user, _case_or_404(user, number)))


@cases_router.get("/{number}/timeline", summary="The case's timeline, oldest first",
                  by_alias=True, response={200: out.Timeline, **out.errors(401, 404)})
def case_timeline(request: HttpRequest, number: str) -> HttpResponse:
    user = _user(request)
    case = _case_or_404(user, number)
    events = selectors.timeline(user, case)  # other cases named only as far as the caller may see them
    deliveries = delivery_status(case.number)
    return JsonResponse({"number": case.number, "events": [event_json(e) for e in events], "deliveries": deliveries})


@cases_router.post(
    "/{number}/actions/{action}",
    summary="Perform a workflow action",
    description="Actions: " + ", ".join(workflow.ACTIONS) + ". Every body takes an optional `comment` "
    "and `expected_version`. 403: not your role; 409: not allowed in this state or the case changed; "
    "422: bad input. (The document lists one operation per action, each with its own body: "
    "huiyin.api.openapi.)",
    by_alias=True, response={200: out.Case | out.CaseMoved, **out.errors(401, 403, 404, 409, 413, 422)},
)
def case_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    user = _user(request)
    case = _case_or_404(user, number)
    if action not in workflow.ACTIONS:
        return error(404, "unknown_action", f"Unknown action {action!r}.", {"action": "unknown action"})
    updated = workflow.perform(case, action, actor=user, data=_json_body(request), source="api", ip=_ip(request))
    fresh = case_for(user, updated.number)
    if fresh is None:  # the action moved the case out of the caller's sight (e.g. returned elsewhere)
        return JsonResponse({"number": updated.number, "state": updated.state, "version": updated.version})
    return JsonResponse(selectors.case_facts(user, fresh))


@cases_router.post("/{number}/attachments", summary="Attach a file (letter scan, photo, recording)",
                   by_alias=True, response={201: out.Attachment, **out.errors(401, 403, 404, 413, 422)})
def attachment_create(request: HttpRequest, number: str, file: File[UploadedFile]) -> HttpResponse:
    user = _user(request)
    case = _case_or_404(user, number)
    att = attachment_add(case, file, actor=user, source="api")
    return JsonResponse(attachment_json(att), status=201)


@cases_router.get("/{number}/attachments", summary="The case's attachments",
                  by_alias=True, response={200: out.AttachmentList, **out.errors(401, 404)})
def attachment_list(request: HttpRequest, number: str) -> HttpResponse:
    user = _user(request)
    case = _case_or_404(user, number)
    return JsonResponse({"items": [attachment_json(a) for a in selectors.attachments(user, case)]})


@cases_router.get(
    "/{number}/attachments/{token}", summary="Download an attachment",
    by_alias=True, response={200: None, **out.errors(401, 404)},
    openapi_extra={"responses": {200: download(ATTACHMENT_TYPES, "The file, in the type its bytes were found to be.")}},
)
def attachment_download(request: HttpRequest, number: str, token: str) -> FileResponse:
    user = _user(request)
    case = _case_or_404(user, number)
    att = selectors.attachment(user, case, token)  # a report's confidential files: cases.access
    if att is None:
        raise Http404
    response = FileResponse(attachment_open(att), as_attachment=True, filename=att.name, content_type=att.content_type)
    response["Content-Length"] = str(att.size)
    response["X-Content-Type-Options"] = "nosniff"
    return response


api.add_router("/cases", cases_router)


@api.get("/categories", tags=["cases"], summary="The active category tree",
         by_alias=True, response={200: out.CategoryTree, **out.errors(401)})
def category_tree(request: HttpRequest) -> HttpResponse:
    rows = list(Category.objects.filter(active=True).order_by("position", "code"))
    children: dict[int | None, list[Category]] = {}
    for c in rows:
        children.setdefault(c.parent_id, []).append(c)

    def node(c: Category) -> dict[str, Any]:
        out: dict[str, Any] = {"code": c.code, "name": c.name}
        if c.case_class:
            out["class"] = c.case_class
        if c.compensation:
            out["compensation"] = c.compensation
        out["children"] = [node(k) for k in children.get(c.pk, [])]
        return out

    return JsonResponse({"items": [node(c) for c in children.get(None, [])]})

from huiyin.notify.api import router as notify_router

api.add_router("/notifications", notify_router)

from .exports import router as exports_router

api.add_router("/export-requests", exports_router)
from huiyin.portal.api import router as portal_router

api.add_router("/portal", portal_router)

from huiyin.documents.api import router as documents_router

api.add_router("/cases", documents_router)

from huiyin.channels.api import router as channels_router

api.add_router("", channels_router)

from huiyin.knowledge.api import router as knowledge_router  # issue 13
from huiyin.text.api import router as text_router  # issue 13

api.add_router("/text", text_router)
api.add_router("/knowledge", knowledge_router)

from huiyin.reports.api import router as reports_router

api.add_router("", reports_router)

# --- calendar ---------------------------------------------------------------------------

calendar_router = Router(tags=["calendar"])


class DeadlineQuery(Schema):
    start: datetime = Field(description=f"Between the years {inputs.EARLIEST_YEAR} and {inputs.LATEST_YEAR}, "
                                        "with an offset within ±14:00 (naive: Beijing time).")
    amount: int = Field(ge=0, le=10000)
    unit: cal.TimeUnit

    _check_start = field_validator("start")(inputs.check_time)


@calendar_router.get("/deadline", summary="Add an amount of time on the working-day calendar",
                     by_alias=True, response={200: out.CalendarDeadline, **out.errors(401, 422)})
def calendar_deadline(request: HttpRequest, q: Query[DeadlineQuery]) -> HttpResponse:
    start = q.start
    if start.tzinfo is None:
        start = timezone.make_aware(start)
    d = cal.deadline_add(start, q.amount, q.unit)
    return JsonResponse({"due_at": selectors.iso(d.due_at), "provisional": d.provisional,
                         "unknown_years": list(d.unknown_years)})


CalendarDate = date  # the field below is named `date`, which hides the type inside the class


class DayQuery(Schema):
    date: Annotated[CalendarDate, Field(description=f"Between the years {inputs.EARLIEST_YEAR} and {inputs.LATEST_YEAR}.")]

    @field_validator("date")
    @classmethod
    def _check_date(cls, value: CalendarDate) -> CalendarDate:
        if not inputs.EARLIEST_YEAR <= value.year <= inputs.LATEST_YEAR:
            raise ValueError(f"must be between the years {inputs.EARLIEST_YEAR} and {inputs.LATEST_YEAR}")
        return value


@calendar_router.get("/day", summary="Whether a date is a working day, a holiday or a make-up working day",
                     by_alias=True, response={200: out.CalendarDay, **out.errors(401, 422)})
def calendar_day(request: HttpRequest, q: Query[DayQuery]) -> HttpResponse:
    info = cal.day_info(q.date)
    return JsonResponse({"date": q.date.isoformat(), "workday": info.workday, "holiday": info.holiday,
                         "makeup": info.makeup, "known": info.known, "name": info.name})


api.add_router("/calendar", calendar_router)
