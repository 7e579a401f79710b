"""Upstream and regulator transfers (上级转办/监管转办): a provincial centre, a group hotline or a
regulator platform pushes a case through the API with its own reference and deadline — the
case's clocks are capped by that deadline (`cases.deadlines`) — and gets the result back, in its
own format, retried until it acknowledges it.

- `transfer_receive(upstream, data)`: the case registered in one transaction with its `Transfer`
  row; a retried push (same reference) answers the case it already made.
- `reports_write()`: the worker writes the report of every transferred case that ended (closed,
  refused, transferred out) and was not reported for that closing yet — its body fixed then.
- `report_send_one()`: the worker sends one due report: 2xx and, for the hotline format, the
  answer's `code` 0 acknowledge it; anything else is retried after 30 s × 2^(n−1), at most an
  hour apart, until UPSTREAM_MAX_ATTEMPTS (then `dead`, for an administrator). Claimed with a
  conditional UPDATE (a lease), sent outside any transaction: several workers never send the
  same report at once, and a worker that dies mid-send leaves it to be sent again (at least once;
  the upstream drops duplicates by `delivery`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from huiyin.cases import services
from huiyin.cases.errors import BadInput
from huiyin.cases.models import FINAL_STATES, Case
from huiyin.notify.channels import DeliveryError
from huiyin.notify.channels.http import post

from .models import ReportFormat, ReportState, Transfer, Upstream

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)


def transfer_receive(upstream: Upstream, data: Any, *, ip: str | None = None) -> tuple[Case, bool]:
    """Register a case the upstream pushed (the staff intake's JSON; `upstream_ref` and
    `upstream_due_at` required; the channel is the upstream's kind). (case, created): a push
    repeated with the same reference answers the first case."""
    if not isinstance(data, dict):
        raise BadInput("The request body must be a JSON object.", fields={"body": "expected an object"})
    reference = data.get("upstream_ref")
    if not isinstance(reference, str) or not reference.strip():
        raise BadInput("upstream_ref (the upstream's own reference) is required.", fields={"upstream_ref": "required"})
    if not data.get("upstream_due_at"):
        raise BadInput("upstream_due_at (the upstream's deadline) is required.", fields={"upstream_due_at": "required"})
    existing = Transfer.objects.filter(upstream=upstream, reference=reference.strip()).select_related("case").first()
    if existing is not None:
        return existing.case, False
    body = {**data, "channel": upstream.kind, "upstream_ref": reference.strip()}

    def keep(case: Case) -> None:
        Transfer.objects.create(upstream=upstream, case=case, reference=reference.strip(), due_at=case.upstream_due_at)

    try:
        case, created = services.case_register(body, actor=upstream.user, source="upstream", ip=ip, urge_open=False,
                                               also=keep)
    except IntegrityError:  # the same push twice at once: the other one won
        again = Transfer.objects.filter(upstream=upstream, reference=reference.strip()).select_related("case").first()
        if again is None:
            raise
        return again.case, False
    return case, created


# --- the report of the result --------------------------------------------------------------------


RESULT = {"closed": "办结", "invalid": "不予受理", "transferred": "转办告知"}


def report_body(transfer: Transfer) -> dict[str, Any]:
    """The report in the upstream's format, from the case as it ended."""
    case = transfer.case
    outcome = "transferred" if case.close_reason == "transferred" else case.state
    closed = timezone.localtime(case.closed_at) if case.closed_at else timezone.localtime()
    unit = case.unit.name if case.unit_id and case.unit else case.owner_unit.name
    if transfer.upstream.format == ReportFormat.HOTLINE:
        return {
            "ticketId": transfer.reference, "localId": case.number, "status": RESULT.get(outcome, outcome),
            "handleDept": unit, "handleResult": case.reply or case.invalid_reason or case.transfer_authority,
            "finishTime": closed.strftime("%Y-%m-%d %H:%M:%S"),
            "satisfaction": case.get_satisfaction_display() if case.satisfaction else "",
        }
    return {
        "reference": transfer.reference, "number": case.number, "result": outcome,
        "reply": case.reply, "unit": unit, "closed_at": closed.isoformat(),
        "satisfaction": case.satisfaction or None, "invalid_reason": case.invalid_reason or None,
        "competent_authority": case.transfer_authority or None,
    }


def reports_write(*, limit: int = 100) -> int:
    """Write the reports of transferred cases that ended and are not reported for that closing;
    returns how many. Each is its own short transaction with the row locked."""
    ended = Transfer.objects.filter(~Q(report_state=ReportState.PENDING), case__state__in=list(FINAL_STATES)).filter(
        Q(reported_closed_at__isnull=True) | Q(reported_closed_at__lt=F("case__closed_at")))
    written = 0
    for pk in list(ended.order_by("id").values_list("id", flat=True)[:limit]):
        with transaction.atomic():
            t = Transfer.objects.select_for_update(of=("self",)).select_related(
                "case", "case__unit", "case__owner_unit", "upstream").filter(pk=pk).first()
            if t is None or t.report_state == ReportState.PENDING or t.case.state not in FINAL_STATES:
                continue
            if t.reported_closed_at is not None and t.case.closed_at and t.reported_closed_at >= t.case.closed_at:
                continue
            t.report_body = report_body(t)
            t.report_state, t.report_attempts, t.report_next_at = ReportState.PENDING, 0, timezone.now()
            t.reported_closed_at = t.case.closed_at or timezone.now()
            t.report_last_error = ""
            t.save(update_fields=["report_body", "report_state", "report_attempts", "report_next_at",
                                  "reported_closed_at", "report_last_error"])
            written += 1
    return written


def _signed(upstream: Upstream, body: bytes, delivery: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    signature = hmac.new(upstream.secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json; charset=utf-8", "X-Huiyin-Timestamp": stamp,
            "X-Huiyin-Signature": signature, "X-Huiyin-Delivery": delivery}


def _acknowledged(upstream: Upstream, status: int, answer: Any) -> tuple[bool, bool, str]:
    """(acknowledged, give up, why) for the upstream's answer."""
    if status in (408, 429) or status >= 500:
        return False, False, f"HTTP {status}"
    if not 200 <= status < 300:
        return False, status in (400, 401, 403, 404, 410, 422), f"HTTP {status}"
    if upstream.format == ReportFormat.HOTLINE:
        code = answer.get("code") if isinstance(answer, dict) else None
        if str(code) != "0":
            return False, False, f"not acknowledged: code {code!r}"
    return True, False, ""


def report_send_one() -> int:
    """Send one due report (1) or find none (0)."""
    now = timezone.now()
    row = (Transfer.objects.filter(report_state=ReportState.PENDING, report_next_at__lte=now)
           .order_by("report_next_at", "id").values_list("id", "report_next_at").first())
    if row is None:
        return 0
    pk, due = row
    # the lease: whoever moves report_next_at first sends it
    if Transfer.objects.filter(pk=pk, report_state=ReportState.PENDING, report_next_at=due).update(
            report_next_at=now + LEASE) != 1:
        return 1  # another worker took it; there may be more
    t = Transfer.objects.select_related("upstream").get(pk=pk)
    body = json.dumps(t.report_body, ensure_ascii=False, sort_keys=True).encode("utf-8")
    delivery = f"{t.upstream.code}:{t.reference}:{t.reported_closed_at.isoformat() if t.reported_closed_at else ''}"
    try:
        response = post(t.upstream.report_url, body, _signed(t.upstream, body, delivery))
        ok, give_up, why = _acknowledged(t.upstream, response.status, response.json())
        if not ok:
            why = f"{why}: {response.snippet()}"
    except DeliveryError as exc:
        ok, give_up, why = False, exc.permanent, str(exc)
    attempts = t.report_attempts + 1
    if ok:
        Transfer.objects.filter(pk=pk).update(report_state=ReportState.SENT, report_attempts=attempts,
                                              reported_at=timezone.now(), report_next_at=None, report_last_error="")
        return 1
    dead = give_up or attempts >= settings.UPSTREAM_MAX_ATTEMPTS
    wait = min(3600, 30 * 2 ** min(attempts - 1, 10))
    Transfer.objects.filter(pk=pk).update(
        report_state=ReportState.DEAD if dead else ReportState.PENDING, report_attempts=attempts,
        report_next_at=None if dead else timezone.now() + timedelta(seconds=wait), report_last_error=why[:2000])
    log.warning("report of %s to %s failed (attempt %s): %s", t.reference, t.upstream.code, attempts, why)
    return 1


def report_upstream() -> int:
    """The worker's job: write the reports due, then send what is due (one at a time)."""
    done = reports_write()
    while report_send_one():
        done += 1
    return done


def report_retry(transfer: Transfer) -> None:
    """An administrator sends a dead report again, now, with a fresh set of attempts."""
    Transfer.objects.filter(pk=transfer.pk, report_state=ReportState.DEAD).update(
        report_state=ReportState.PENDING, report_attempts=0, report_next_at=timezone.now())
