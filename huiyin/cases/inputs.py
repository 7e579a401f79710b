"""The data each case service accepts, validated once for the API and the pages alike.

Unknown fields, wrong types, over-long strings and impossible values are refused
with the offending field named (BadInput → 422).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import BadInput
from .models import Channel, Flag, InvalidReason, Kind, Satisfaction
from .phones import check_phone

Text = Annotated[str, Field(max_length=5000)]
Short = Annotated[str, Field(max_length=200)]
UnitCode = Annotated[str, Field(min_length=1, max_length=64)]
TimeUnitName = Literal["minutes", "hours", "business_hours", "working_days", "calendar_days", "business_minutes"]


# What no text field may hold (issue 11): C0 control characters other than tab, newline and
# carriage return (NUL cannot be stored by PostgreSQL; the others make the Excel export fail for
# every later export), DEL, lone surrogates (not encodable) and the non-characters U+FFFE/U+FFFF.
FORBIDDEN_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
# Times a case can be about: refused outside these years (a year 1 or 9999 overflows when the
# time is moved to UTC or a deadline is added), or with an offset beyond any real time zone.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2199
MAX_OFFSET_SECONDS = 14 * 3600


def check_text(value: Any) -> Any:
    """Refuses FORBIDDEN_CHARS in a string, or in the strings of a list or dict."""
    if isinstance(value, str):
        if FORBIDDEN_CHARS.search(value):
            raise ValueError("contains a control character or an invalid character")
    elif isinstance(value, list | tuple):
        for v in value:
            check_text(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            check_text(k)
            check_text(v)
    return value


def check_time(value: Any) -> Any:
    """Refuses a time outside EARLIEST_YEAR–LATEST_YEAR or with an offset beyond ±14:00."""
    if isinstance(value, datetime):
        offset = value.utcoffset()
        if offset is not None and abs(offset.total_seconds()) > MAX_OFFSET_SECONDS:
            raise ValueError("the time zone offset is beyond ±14:00")
        if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            raise ValueError(f"must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _safe_values(cls, value: Any) -> Any:
        return check_time(check_text(value))


class ActionBase(Strict):
    comment: Text = ""
    expected_version: int | None = Field(default=None, ge=1)


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("must include a timezone offset, e.g. 2026-11-24T09:30:00+08:00")
    return value


class ComplainantIn(Strict):
    name: Annotated[str, Field(max_length=100)] = ""
    phone: Annotated[str, Field(max_length=32)] = ""
    email: Annotated[str, Field(max_length=254)] = ""
    address: Annotated[str, Field(max_length=300)] = ""
    account: Annotated[str, Field(max_length=100)] = ""
    id_number: Annotated[str, Field(max_length=32)] = ""
    customer_class: Literal["", "A", "B", "C", "D"] = ""
    anonymous: bool = False
    # How the complainant wants the formal notices (告知书): portal, email, sms, post.
    notify_via: Literal["", "portal", "email", "sms", "post"] = ""

    _check_phone = field_validator("phone")(check_phone)

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str) -> str:
        if value and not EMAIL.match(value):
            raise ValueError("not an e-mail address like name@example.com")
        return value


class RepresentativeIn(Strict):
    """One representative of a group complaint (群体投诉代表)."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    phone: Annotated[str, Field(max_length=32)] = ""
    id_number: Annotated[str, Field(max_length=32)] = ""

    _check_phone = field_validator("phone")(check_phone)


class CaseIn(Strict):
    kind: Kind
    channel: Channel
    subject: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=20000)] = ""
    demands: Text = ""
    complainant: ComplainantIn = Field(default_factory=ComplainantIn)
    amount: Annotated[Decimal, Field(ge=0, le=Decimal("999999999999.99"), decimal_places=2)] | None = None
    people_count: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    flags: Annotated[list[Flag], Field(max_length=10)] = Field(default_factory=list)
    category: Annotated[str, Field(max_length=64)] | None = None
    received_at: datetime | None = None
    occurred_at: datetime | None = None
    product: Short = ""
    upstream_ref: Annotated[str, Field(max_length=64)] = ""
    upstream_due_at: datetime | None = None
    region: Annotated[str, Field(max_length=100)] = ""
    # 被投诉单位 / 被投诉人: a policy rule may forbid dispatching the case to them (回避).
    respondent_unit: Annotated[str, Field(max_length=64)] = ""
    respondent_person: Annotated[str, Field(max_length=100)] = ""
    representatives: Annotated[list[RepresentativeIn], Field(max_length=20)] = Field(default_factory=list)
    # The call's recording in the call centre's system (the screen-pop hands it to intake).
    recording_ref: Annotated[str, Field(max_length=200)] = ""
    # The version of the privacy notice the complainant was given (a portal or an app records the
    # one it showed); empty: the policy's current one (`privacy.notice_version`).
    privacy_notice: Annotated[str, Field(max_length=50)] = ""

    _check_tz = field_validator("received_at", "occurred_at", "upstream_due_at")(_aware)


# The registration fields a policy may require (`forms.registration.required`), as the intake
# body names them, and the case attribute each one fills.
REGISTRATION_FIELDS: dict[str, str] = {
    "subject": "subject", "description": "description", "demands": "demands", "product": "product",
    "occurred_at": "occurred_at", "amount": "amount", "category": "category_id", "region": "region",
    "received_at": "received_at", "upstream_ref": "upstream_ref", "upstream_due_at": "upstream_due_at",
    "complainant.name": "complainant_name", "complainant.phone": "complainant_phone",
    "complainant.email": "complainant_email", "complainant.address": "complainant_address",
    "complainant.account": "complainant_account", "complainant.id_number": "complainant_id_number",
    "complainant.customer_class": "customer_class", "respondent_unit": "respondent_unit_id",
    "respondent_person": "respondent_person", "representatives": "representatives",
}


class DispatchIn(ActionBase):
    unit: UnitCode
    instructions: Text = ""
    # A joint case (联合办理): co-handling units (协办) beside the lead unit (主办).
    co_units: Annotated[list[UnitCode], Field(max_length=10)] = Field(default_factory=list)


class ApproveIn(ActionBase):
    """批示: the approver may choose or change the handling unit (and co-handling units) as they
    approve (审批人员先选择承办人员,再填写阅办意见); left out, the proposal stands."""

    unit: UnitCode | None = None
    co_units: Annotated[list[UnitCode], Field(max_length=10)] | None = None


class WithdrawIn(ActionBase):
    """撤回: the complainant withdraws; the case closes as of the day the request was received."""

    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    requested_at: datetime | None = None

    _check_tz = field_validator("requested_at")(_aware)


class FulfilIn(ActionBase):
    """An obligation of the policy done (e.g. the plan filed with head office)."""

    obligation: Annotated[str, Field(min_length=1, max_length=20)]
    note: Text = ""


class CoResultIn(ActionBase):
    result: Annotated[str, Field(min_length=1, max_length=5000)]


class DecideReturnIn(ActionBase):
    uphold: bool


class ReasonIn(ActionBase):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class MarkInvalidIn(ActionBase):
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    # The seed's criterion (无效投诉); `reason` says what exactly, `explanation` what the customer is told.
    reason_code: InvalidReason = InvalidReason.OTHER
    explanation: Text = ""


class ResolveOnSpotIn(ActionBase):
    reply: Annotated[str, Field(min_length=1, max_length=5000)]


class ExtensionIn(ActionBase):
    amount: Annotated[int, Field(ge=1, le=1000)]
    unit: TimeUnitName
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class SubmitResultIn(ActionBase):
    cause: Text = ""
    course: Text = ""
    responsible_person: Annotated[str, Field(max_length=100)] = ""
    conclusion: Text = ""
    countermeasures: Text = ""
    reply: Annotated[str, Field(min_length=1, max_length=5000)]
    liability: Literal["", "enterprise", "customer", "third_party"] = ""


class ReviewIn(ActionBase):
    accept: bool


class CallbackIn(ActionBase):
    satisfaction: Satisfaction
    notes: Text = ""


class UrgeIn(ActionBase):
    note: Text = ""


class MergeIn(ActionBase):
    into: Annotated[str, Field(min_length=1, max_length=20)]


class LinkIn(ActionBase):
    to: Annotated[str, Field(min_length=1, max_length=20)]


class CompensateIn(ActionBase):
    amount: Annotated[Decimal, Field(ge=0, le=Decimal("999999999999.99"), decimal_places=2)]
    form: Annotated[str, Field(min_length=1, max_length=100)]


class TransferOutIn(ActionBase):
    authority: Annotated[str, Field(min_length=1, max_length=200)]
    note: Text = ""


class ContactIn(ActionBase):
    notes: Text = ""


class CloseIn(ActionBase):
    recourse: Annotated[str, Field(max_length=500)] = ""


ACTION_INPUTS: dict[str, type[ActionBase]] = {
    "approve": ApproveIn,
    "reject": ActionBase,
    "mark_invalid": MarkInvalidIn,
    "resolve_on_spot": ResolveOnSpotIn,
    "dispatch": DispatchIn,
    "acknowledge": ActionBase,
    "return": ReasonIn,
    "request_extension": ExtensionIn,
    "grant_extension": ActionBase,
    "refuse_extension": ActionBase,
    "suspend": ReasonIn,
    "resume": ActionBase,
    "record_contact": ContactIn,
    "submit_result": SubmitResultIn,
    "approve_plan": ActionBase,
    "review": ReviewIn,
    "callback": CallbackIn,
    "close": CloseIn,
    "redispatch": DispatchIn,
    "escalate": DispatchIn,
    "urge": UrgeIn,
    "merge": MergeIn,
    "link": LinkIn,
    "reopen": ReasonIn,
    "appeal": ReasonIn,
    "compensate": CompensateIn,
    "transfer_out": TransferOutIn,
    "approve_reply": ReviewIn,
    "approve_compensation": ActionBase,
    "refuse_compensation": ActionBase,
    "co_acknowledge": ActionBase,
    "co_submit_result": CoResultIn,
    "dispute_return": ReasonIn,
    "decide_return": DecideReturnIn,
    "withdraw": WithdrawIn,
    "fulfil": FulfilIn,
}


def parse(model: type[Strict], data: Any) -> Any:
    """Validate `data` against `model`, raising BadInput naming every bad field."""
    if not isinstance(data, dict):
        raise BadInput("The request body must be a JSON object.", fields={"body": "expected an object"})
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        errors: dict[str, dict[str, Any]] = {}
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "body"
            msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
            fields.setdefault(loc, msg)
            errors.setdefault(loc, dict(err))
        raise BadInput("Some fields are invalid: " + ", ".join(sorted(fields)), fields=fields,
                       errors=errors) from None


class ClassifyIn(ActionBase):
    category: Annotated[str, Field(max_length=64)] | None = None
    severity: Literal["general", "difficult", "major"] | None = None
    case_class: Annotated[str, Field(max_length=4)] | None = None
    customer_class: Literal["", "A", "B", "C", "D"] | None = None
    liability: Literal["", "enterprise", "customer", "third_party"] | None = None
    respondent_unit: Annotated[str, Field(max_length=64)] | None = None
    respondent_person: Annotated[str, Field(max_length=100)] | None = None


ACTION_INPUTS["classify"] = ClassifyIn


def missing_required(params: Any, required: list[str]) -> dict[str, str]:
    """The fields of an action's input that the policy requires (`forms.<action>.required`) and
    that were left empty: {field: reason}, for a BadInput naming them."""
    return {name: "required by the policy" for name in required
            if name in type(params).model_fields and getattr(params, name) in (None, "", [])}
