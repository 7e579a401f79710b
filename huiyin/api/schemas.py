"""The API's response bodies, as /api/v1/openapi.json publishes them.

These models describe, key for key, the JSON the views build: the case
(`cases.selectors.case_facts`, with `timer_facts` and `co_units_facts`), a row of a list
(`case_row`), the timeline and attachments (`api.serialize`), the category tree, the calendar
and the token. The inbox's bodies are the notifications router's own (`notify.api`).

The views keep answering with that JSON as it is, and ninja does not re-validate it (a view
that returns an HttpResponse is sent as is): the schema describes the bodies, it does not
reshape them. What keeps the two together is the test suite: every API response any test
receives is validated against the published document, strictly (a key, a type or a status
it does not describe fails the test; see huiyin/api/tests/schema_check.py).

The operations declare them with `by_alias=True`, so that the document says `class` (a Python
keyword, hence the alias) and not the field's name.

Times are ISO 8601 strings in Beijing time (`2026-02-24T17:30:00+08:00`); money is a decimal
string (`"1200.00"`); units, users, categories and cases are named by their codes, usernames
and numbers.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

from ninja import Schema
from pydantic import ConfigDict, Field, WithJsonSchema

from huiyin.cases import workflow
from huiyin.cases.models import (
    Channel,
    CloseReason,
    CompensationStatus,
    CustomerClass,
    Flag,
    InvalidReason,
    Kind,
    Liability,
    Satisfaction,
    Severity,
    State,
    TimerState,
    Validity,
)
from huiyin.notify.models import Status as DeliveryStatus
from huiyin.notify.models import Transport
from huiyin.sla.calendar import TimeUnit

Timestamp = Annotated[
    str, WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-02-24T17:30:00+08:00"]})
]
Money = Annotated[
    str, WithJsonSchema({"type": "string", "format": "decimal", "pattern": r"^\d+(\.\d+)?$", "examples": ["1200.00"]})
]
DeliveryState = Annotated[str, WithJsonSchema({
    "type": "string", "enum": [s.value for s in DeliveryStatus],
    "description": "pending, sending (claimed by a worker), sent, failed (will be retried), dead (gave up)."})]
Day = Annotated[str, WithJsonSchema({"type": "string", "format": "date", "examples": ["2026-02-14"]})]

ActionName = enum.StrEnum("ActionName", {name: name for name in workflow.ACTIONS})  # type: ignore[misc]
"""Every workflow action, by the name its URL carries (POST /cases/{number}/actions/{name})."""


def _omitted_when_empty(schema: dict[str, Any]) -> None:
    """A key that is left out of the body when it has no value: not required, and never null
    (the model's `X | None = None` is how pydantic says "may be absent")."""
    schema.pop("default", None)
    branches = schema.pop("anyOf", None)
    if branches is not None:
        schema.update(next(b for b in branches if b != {"type": "null"}))


class Out(Schema):
    model_config = ConfigDict(extra="forbid")


# --- errors ----------------------------------------------------------------------------------


class ErrorDetail(Out):
    code: str = Field(description="A stable code: unauthenticated, invalid_credentials, forbidden, not_found, "
                                  "unknown_action, invalid_transition, conflict, invalid_input, too_large …")
    message: str = Field(description="For people (English); do not parse it.")
    fields: dict[str, str] = Field(description="The offending fields (dotted paths) and why; empty when none.")


class Error(Out):
    """Every 4xx (and 5xx) answer of the API."""

    error: ErrorDetail


def errors(*statuses: int) -> dict[int, type[Error]]:
    """`response=` entries for the error statuses an operation answers (their meaning, the same
    for every operation: `api.openapi.ERRORS`)."""
    return dict.fromkeys(statuses, Error)


# --- a case ----------------------------------------------------------------------------------


class Complainant(Out):
    """What the caller may see of the complainant (the identity rule of `cases.access`): what is
    hidden is an empty string (phones and ID numbers may be masked), and `confidential` is true."""

    name: str
    phone: str
    email: str
    address: str
    account: str
    customer_class: CustomerClass
    anonymous: bool
    confidential: bool


class Investigation(Out):
    """The handling unit's findings (submit_result)."""

    cause: str
    course: str
    responsible_person: str
    conclusion: str
    countermeasures: str


class Compensation(Out):
    amount: Money
    form: str
    status: CompensationStatus | None = Field(description="null when no approval was needed.")


class Deadline(Out):
    """One stage deadline (时限) of one dispatch round."""

    timer: str = Field(description="The stage: dispatch, acknowledge, first_contact, resolve, feedback, callback.")
    round: int
    due_at: Timestamp
    state: TimerState
    provisional: bool = Field(description="Computed on weekends alone: the year's official holidays are not known yet.")
    started_at: Timestamp
    stopped_at: Timestamp | None
    remaining_seconds: int | None = Field(description="Until due (negative when past); null once stopped.")
    breach_seconds: int | None = Field(description="By how much it was missed; null when not breached.")
    basis: str = Field(description="The rule of the policy the deadline comes from.")
    amount: int
    unit: TimeUnit
    cycle: int = Field(description="The handling cycle: 1, then 2 after a reopen or an appeal (history stays).")
    capped_by: str | None = Field(description="The clock that caps this deadline (`end_to_end`, `upstream`), if any.")
    obligation: bool = Field(description="A duty after closing (e.g. a major case's plan filed with head office).")
    role: str | None = Field(description="The role an obligation is owed by.")


class Representative(Out):
    """One representative of a group complaint; masked like the complainant for readers without
    identity access."""

    name: str
    phone: str
    id_number: str


class CoUnit(Out):
    """A co-handling unit (协办) of the current round, with its own deadlines."""

    unit: str
    acknowledged_at: Timestamp | None
    submitted_at: Timestamp | None
    result: str
    deadlines: list[Deadline]


class Case(Out):
    """A case (工单) as the caller may see it, with its deadlines and the actions the caller may
    take now."""

    number: str = Field(examples=["TS20260213-000001"])
    kind: Kind
    channel: Channel
    state: State
    round: int = Field(description="The dispatch round: 1, 2 after redispatch, 3 after escalate.")
    version: int = Field(description="Goes up with every change; send it back as `expected_version`.")
    unit: str | None = Field(description="The handling unit (承办单位), once dispatched.")
    proposed_unit: str | None = Field(description="The unit a dispatch waiting for 批示 proposes.")
    proposed_co_units: list[str]
    owner_unit: str = Field(description="The registering unit (受理单位).")
    severity: Severity
    case_class: str = Field(alias="class", description="Product-quality class (A/B/C), or empty.")
    tags: list[str]
    repeat_of: str | None = Field(description="The customer's earlier closed case (重复投诉).")
    region: str
    requires_approval: bool
    reply_level: int = Field(description="Levels of 答复审核 passed.")
    subject: str
    description: str
    demands: str
    product: str
    occurred_at: Timestamp | None
    amount: Money | None
    people_count: int
    flags: list[Flag]
    category: str | None
    complainant: Complainant
    received_at: Timestamp
    registered_by: str
    upstream_ref: str
    upstream_due_at: Timestamp | None
    instructions: str
    validity: Validity
    invalid_code: InvalidReason | None
    invalid_reason: str
    liability: Liability
    investigation: Investigation
    reply: str
    compensation: Compensation | None
    satisfaction: Satisfaction | None
    callback_attempts: int
    urge_count: int
    supervised: bool
    escalated: bool
    merged_into: str | None
    links: list[str] = Field(description="Numbers of the related cases (link), either direction.")
    close_reason: CloseReason | None
    closed_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp
    deadlines: list[Deadline] = Field(description="The latest timer of each stage, in the order they started.")
    co_units: list[CoUnit]
    return_disputed: bool
    dispatched_at: Timestamp | None
    acknowledged_at: Timestamp | None
    result_at: Timestamp | None
    cycle: int = Field(description="The handling cycle: 1, then 2 after a reopen or an appeal.")
    reopened_at: Timestamp | None
    approval_level: int = Field(description="Levels of the current approval chain already passed.")
    awaiting: str | None = Field(description="The role whose approval or decision the case awaits.")
    respondent_unit: str | None = Field(description="The complained-about unit (被投诉单位).")
    respondent_person: str = Field(description="The complained-about person (被投诉人).")
    recusal: bool = Field(description="A recusal rule (回避) forbids dispatching to the complained-about unit.")
    representatives: list[Representative] = Field(description="A group complaint's representatives (群体投诉代表).")
    appeal: bool = Field(description="The case is (or was) under appeal / upper-level review (复审/核实).")
    required: dict[str, list[str]] = Field(
        description="Fields the policy requires, per form (e.g. `submit_result`: cause, course …)."
    )
    waiting_for: ActionName | None = Field(
        description="What the case waits for now (a sub-state of `state`): the action that moves it on, e.g. "
        "`redispatch` after an unsatisfied callback. null when closed."
    )
    allowed_actions: list[ActionName] = Field(description="What the caller may do now.")


class CaseRegistered(Case):
    """The answer to POST /cases when no new case was made: the case an Idempotency-Key names
    again, or the customer's open case that was urged (催办, `urged` true) instead."""

    urged: bool | None = Field(default=None, json_schema_extra=_omitted_when_empty,
                        description="Present (true) when an open case was urged instead of a new one.")


class CaseMoved(Out):
    """The action moved the case out of the caller's sight (e.g. a unit returned it): only its
    number, its new state and version."""

    number: str
    state: State
    version: int


# --- lists -----------------------------------------------------------------------------------


class ComplainantRow(Out):
    """The complainant in a list: the name and a masked phone, or empty strings."""

    name: str
    phone: str


class CaseRow(Out):
    number: str
    kind: Kind
    channel: Channel
    state: State
    round: int
    severity: Severity
    case_class: str = Field(alias="class")
    subject: str
    unit: str | None
    owner_unit: str
    complainant: ComplainantRow
    received_at: Timestamp
    version: int


class CasePage(Out):
    """One page of a list, newest first."""

    items: list[CaseRow]
    next_cursor: int | None = Field(description="Pass it as `cursor` for the next page; null on the last.")
    has_next: bool


# --- timeline and files --------------------------------------------------------------------


class Event(Out):
    """One entry of the timeline: never edited, never deleted."""

    id: int
    action: str = Field(description="A workflow action, or register, breach, rule, repeat, attach.")
    actor: str | None = Field(description="The username; null for the system (rules, the worker).")
    at: Timestamp
    from_state: State | None
    to_state: State | None
    changes: dict[str, tuple[Any, Any]] = Field(description="{field: [old, new]}: codes, never display labels.")
    comment: str
    source: str = Field(description="api, web, worker, rules, portal …")


class Delivery(Out):
    """One notification about the case, and how its delivery went."""

    id: int
    delivery_id: str = Field(json_schema_extra={"format": "uuid"},
                             description="Receivers drop duplicates by it (delivery is at least once).")
    event: str
    transport: Transport
    recipient_id: int | None
    address: str = Field(description="Masked: 138****8000, z***@example.com.")
    status: DeliveryState
    attempts: int
    created_at: Timestamp
    sent_at: Timestamp | None
    last_error: str


class Timeline(Out):
    number: str
    events: list[Event] = Field(description="Oldest first.")
    deliveries: list[Delivery]


class Attachment(Out):
    token: str = Field(description="Names the file in GET /cases/{number}/attachments/{token}.")
    name: str
    content_type: str = Field(description="What the file's bytes are (read from them, not from the name).")
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: Timestamp


class AttachmentList(Out):
    items: list[Attachment]


# --- reference data ------------------------------------------------------------------------


class Category(Out):
    code: str
    name: str
    category_class: str | None = Field(default=None, alias="class", json_schema_extra=_omitted_when_empty,
                                description="Product-quality class (A/B/C); absent when none.")
    compensation: str | None = Field(default=None, json_schema_extra=_omitted_when_empty,
                              description="The compensation standard; absent when none.")
    children: list[Category]


class CategoryTree(Out):
    items: list[Category]


class Token(Out):
    token: str = Field(description="Send it as `Authorization: Bearer <token>`.")


class Revoked(Out):
    revoked: int = Field(description="1 when a live token was revoked now, 0 when it already was.")


class TokenInfo(Out):
    """An API token as its holder and administrators see it (never the token itself)."""

    id: int
    user: str
    name: str
    created_at: Timestamp
    expires_at: Timestamp
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None
    revoked_reason: str | None = Field(description="holder, admin, password (the password changed), disabled, "
                                                   "signout (signed out everywhere); null while not revoked.")
    active: bool


class TokenList(Out):
    items: list[TokenInfo]
    next_cursor: int | None
    has_next: bool


class CalendarDeadline(Out):
    due_at: Timestamp
    provisional: bool = Field(description="A year on the way has no official holiday notice yet: weekends alone.")
    unknown_years: list[int]


class CalendarDay(Out):
    date: Day
    workday: bool
    holiday: bool = Field(description="A statutory holiday (法定节假日), weekend days inside it included.")
    makeup: bool = Field(description="A Saturday or Sunday that is a working day (调休上班日).")
    known: bool = Field(description="False: the year is not in the calendar; weekends alone are assumed.")
    name: str = Field(description="e.g. 春节, 国庆节; empty when none.")


# --- exports of case records (privacy.exports) -------------------------------------------------


ExportState = Annotated[str, WithJsonSchema({
    "type": "string", "enum": ["requested", "approved", "refused", "used"],
    "description": "requested (waits for an approver), approved (the requester may download it once, within a "
                   "day), refused, used (downloaded)."})]


class ExportRequestOut(Out):
    id: int
    requester: str
    reason: str
    filters: str = Field(description="The case list's filters, as a query string.")
    status: ExportState
    created_at: Timestamp
    decided_by: str | None
    decided_at: Timestamp | None
    used_at: Timestamp | None
    rows: int | None
    download: str | None = Field(description="Once approved: the address the requester downloads the file from "
                                             "(`/cases/export.xlsx?<filters>&export_request=ID`, with a session).")


class ExportRequestList(Out):
    items: list[ExportRequestOut]

