"""Intake: registering a new case (受理) — validation, idempotency, the urge of an open case,
the case number. The new case enters the workflow through `workflow.register`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from huiyin.org.access import intake_unit, unit_for
from huiyin.org.models import User
from huiyin.policies.config import PolicyConfig
from huiyin.policies.models import Policy
from huiyin.policies.services import active_policy, config_for

from . import grading, inputs, workflow
from .access import case_for
from .errors import BadInput, Conflict, Forbidden
from .models import FINAL_STATES, NUMBER_PREFIX, Case, CaseSequence, Category, IdempotencyKey, Kind
from .phones import normalise_phone


def next_case_number(kind: str, now: datetime, *, case: Case | None = None) -> str:
    """PREFIX + YYYYMMDD + - + 6-digit daily sequence, inside the caller's transaction.

    One upsert increments the day's row and locks it until the intake commits, so two intakes
    never share a number and a rolled-back intake gives its number back (gap-free per day).
    With `case` (a new case, saved under a placeholder number), the number is also written into
    its row: on PostgreSQL in the same statement, one round trip while the day's row is locked."""
    prefix = NUMBER_PREFIX[Kind(kind)]
    day = timezone.localdate(now)
    ops = connection.ops
    table = ops.quote_name(CaseSequence._meta.db_table)
    upsert = (f"INSERT INTO {table} (prefix, day, last) VALUES (%s, %s, 1) "  # noqa: S608  # nosec B608 (names are ours)
              f"ON CONFLICT (prefix, day) DO UPDATE SET last = {table}.last + 1 RETURNING last")
    head = f"{prefix}{day:%Y%m%d}-"
    params: list[Any] = [prefix, ops.adapt_datefield_value(day)]
    cases = ops.quote_name(Case._meta.db_table)
    with connection.cursor() as cursor:
        if case is not None and connection.vendor == "postgresql":
            # the number as below: the head, then the day's count zero-padded to at least 6 digits
            cursor.execute(
                f"WITH s AS ({upsert}) UPDATE {cases} "  # noqa: S608  # nosec B608 (names are ours)
                "SET number = CAST(%s AS text) || lpad(s.last::text, greatest(6, length(s.last::text)), '0') "
                f"FROM s WHERE {cases}.id = %s RETURNING {cases}.number",
                [*params, head, case.pk],
            )
            (number,) = cursor.fetchone()
            return str(number)
        cursor.execute(upsert, params)
        (last,) = cursor.fetchone()
        number = f"{head}{last:06d}"
        if case is not None:
            cursor.execute(f"UPDATE {cases} SET number = %s WHERE id = %s", [number, case.pk])  # noqa: S608  # nosec B608 (names are ours)
    return number


def _body_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def case_register(
    data: dict[str, Any],
    *,
    actor: User,
    idempotency_key: str | None = None,
    source: str = "api",
    ip: str | None = None,
    urge_open: bool = True,
    also: Callable[[Case], None] | None = None,
    answered_on_spot: bool = False,
) -> tuple[Case, bool]:
    """Register a new case from `data` (the fields of `inputs.CaseIn`).

    Returns (case, created). With an `idempotency_key`, a retry by the same user
    returns the first case and created=False; the same key with a different body
    is a Conflict. A customer calling again about a case of the same kind that is still
    open urges (催办) it instead, when the policy says so: (that case, False), with
    `urged_instead` set on it.

    A channel that must never hand out another case (the public portal, e-mail) passes
    `urge_open=False`: a new case is always registered. `also(case)` runs inside the intake's
    transaction once the case is numbered (a channel's own rows: the portal's query code, an
    upstream's reference), so they commit or roll back with it.

    A way to reach the complainant (a phone, an e-mail address or a postal address) is required
    where the policy calls the case back (`PolicyConfig.contact_required`: not for a report,
    which may be anonymous, nor for kinds the policy does not call back); without one the case
    is refused (BadInput, 422, field `complainant`) and nothing is stored. `answered_on_spot`:
    the caller answers it at once in the same request (the intake page's answer box), so nobody
    calls it back unless the policy calls such cases back too."""
    if idempotency_key is not None and not (1 <= len(idempotency_key) <= 200):
        raise BadInput("Idempotency-Key must be 1–200 characters.", fields={"Idempotency-Key": "bad length"})
    params: inputs.CaseIn = inputs.parse(inputs.CaseIn, data)
    body_hash = _body_hash(data)
    if idempotency_key:
        existing = _replay(actor, idempotency_key, body_hash)
        if existing is not None:
            return existing, False
    owner = intake_unit(actor)
    if owner is None:
        raise Forbidden("Only agents and dispatchers register cases.")
    policy = active_policy()
    open_case = _open_case_to_urge(params, policy) if urge_open else None
    if open_case is not None:
        # 催办: the customer calls again about a case still open — no new case.
        visible = case_for(actor, open_case.number)
        if visible is not None:
            urged = workflow.perform(visible, "urge", actor=actor, source=source, ip=ip,
                                     data={"note": f"客户再次来电/来函: {params.subject}"[:5000]})
            urged.urged_instead = True
            return urged, False
    now = timezone.now()
    received_at = params.received_at or now
    if received_at > now + timedelta(minutes=5):
        raise BadInput("received_at is in the future.", fields={"received_at": "in the future"})
    category = None
    if params.category:
        category = Category.objects.filter(code=params.category, active=True).first()
        if category is None:
            raise BadInput(f"Unknown category {params.category!r}.", fields={"category": "unknown category code"})
    respondent = None
    if params.respondent_unit:
        respondent = unit_for(actor, params.respondent_unit)
        if respondent is None:
            raise BadInput(f"Unknown unit {params.respondent_unit!r}.", fields={"respondent_unit": "unknown unit code"})
    c = params.complainant
    if c.notify_via == "email" and not c.email:
        raise BadInput("Notices by e-mail need the complainant's e-mail address.",
                       fields={"complainant.email": "required for notices by e-mail"})
    if c.notify_via == "sms" and not c.phone:
        raise BadInput("Notices by SMS need the complainant's phone number.",
                       fields={"complainant.phone": "required for notices by SMS"})
    if contact_missing(params, config_for(policy.pk), answered_on_spot=answered_on_spot):
        raise BadInput(CONTACT_MESSAGE, fields={"complainant": CONTACT_REASON})
    case = Case(
        kind=params.kind, channel=params.channel, policy=policy,
        subject=params.subject, description=params.description, demands=params.demands,
        occurred_at=params.occurred_at, product=params.product, amount=params.amount,
        people_count=params.people_count, flags=sorted({str(f) for f in params.flags}),
        complainant_name=c.name, complainant_phone=normalise_phone(c.phone),
        complainant_email=c.email, complainant_address=c.address, complainant_account=c.account,
        complainant_id_number=c.id_number, customer_class=c.customer_class, anonymous=c.anonymous,
        category=category, case_class=category.case_class if category else "", owner_unit=owner,
        registered_by=actor, received_at=received_at,
        upstream_ref=params.upstream_ref, upstream_due_at=params.upstream_due_at, region=params.region,
        respondent_unit=respondent, respondent_person=params.respondent_person,
        representatives=[{**r.model_dump(), "phone": normalise_phone(r.phone)} for r in params.representatives],
        recording_ref=params.recording_ref, notify_via=c.notify_via,
        privacy_notice=params.privacy_notice or config_for(policy.pk).privacy.notice_version,
    )
    prepared = workflow.register_prepare(case)  # the reads and checks that need no lock, before it is taken
    try:
        with transaction.atomic(durable=True):
            workflow.register(case, actor=actor, source=source, ip=ip, now=now, prepared=prepared,
                              number=lambda into: next_case_number(params.kind, now, case=into))
            if idempotency_key:
                IdempotencyKey.objects.create(user=actor, key=idempotency_key, body_hash=body_hash, case=case)
            if also is not None:
                also(case)
    except IntegrityError:
        # Two requests with the same Idempotency-Key raced; the other one won.
        if idempotency_key:
            existing = _replay(actor, idempotency_key, body_hash)
            if existing is not None:
                return existing, False
        raise
    return case, True


# --- a way to reach the complainant (issue 15, item 5; docs/policies.md) ---------------------
# English for the API's message, then the same in Chinese; the pages say it through CONTACT_REASON.
CONTACT_MESSAGE = ("The policy calls this case back: give the complainant's phone, e-mail address or postal "
                   "address (only a report may be anonymous). 此类工单需要回访：请填写投诉人的电话、电子邮箱或通信地址"
                   "（仅举报可匿名）。")
CONTACT_REASON = "a phone, e-mail address or postal address is required for the callback"


def contact_missing(params: inputs.CaseIn, cfg: PolicyConfig, *, answered_on_spot: bool = False) -> bool:
    """Whether the case would lack the way to reach the complainant its policy needs: no phone,
    e-mail address or postal address of the complainant (nor a group's representative's phone)
    where `cfg.contact_required(kind)`."""
    c = params.complainant
    if c.phone or c.email or c.address or any(r.phone for r in params.representatives):
        return False
    return cfg.contact_required(params.kind, answered_on_spot=answered_on_spot)


def _open_case_to_urge(params: inputs.CaseIn, policy: Policy) -> Case | None:
    if config_for(policy.pk).open_contact != "urge":
        return None
    # The same customer by identity, through the keyed hashes; never a report (grading.customer_q):
    # a reporter calling again makes a new report, never an urge that ties the two together.
    probe = Case(kind=params.kind, complainant_phone=normalise_phone(params.complainant.phone),
                 complainant_account=params.complainant.account, complainant_id_number=params.complainant.id_number)
    q = grading.customer_q(probe)
    if q is None:
        return None
    return Case.objects.filter(q, kind=params.kind).exclude(state__in=FINAL_STATES).order_by("-id").first()


def _replay(actor: User, key: str, body_hash: str) -> Case | None:
    row = IdempotencyKey.objects.filter(user=actor, key=key).select_related("case").first()
    if row is None:
        return None
    if row.body_hash != body_hash:
        raise Conflict("This Idempotency-Key was used for a different request.")
    return row.case
