"""Reads of cases, shared by the API, the pages, the exports and the jobs: one meaning per filter.

Every query starts from `cases.access.cases_for(user)` (the caller's scope); nothing here writes.
What waits for whom is read off the workflow's own table (`workflow.ACTIONS`: the roles of the
action that moves a case on from its state), never restated. Lists page by keyset (never OFFSET)
and counts are capped (never a COUNT(*) over everything).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.utils import timezone

from huiyin import kept
from huiyin.org.access import (
    grants,
    subtree_ids,
    subtree_ids_of,
    unit_ids_with_roles,
    visible_unit_ids,
)
from huiyin.org.models import Role, Unit, User
from huiyin.policies.config import TIMER_CODES
from huiyin.policies.services import active_policy, config_for

from . import derived, identity, inputs, outcomes, workflow
from .access import (
    cases_for,
    cases_in_units,
    complainant_view,
    identity_scope,
    identity_scope_of,
    identity_units,
    mask,
    may_see_attachment,
    may_see_identity,
    visible_references,
    visible_references_by_id,
)
from .models import (
    FINAL_STATES,
    Attachment,
    Case,
    CaseLink,
    Category,
    CoHandling,
    CompensationStatus,
    Event,
    Extension,
    ExtensionStatus,
    Kind,
    Satisfaction,
    State,
    Timer,
    TimerState,
)
from .phones import normalise_phone

OPEN_STATES = [s.value for s in State if s not in FINAL_STATES]
COUNT_CAP = 100  # counts on the workbench stop here ("99+"): never a COUNT(*) over everything
QUEUE_CAP = 200  # per-state counts of a unit queue stop here ("199+")

S = State


# --- the search box ----------------------------------------------------------------------------

CASE_NUMBER = re.compile(r"^[A-Za-z]{2}\d{8}-\d{6}$")
PHONE_LIKE = re.compile(r"^[0-9+\-() ]{5,20}$")


NAME_LIKE = re.compile(r"^[^\s\d@]{2,30}$")


def text_query(text: str, *, user: User | None = None) -> Q:
    """The search box as a filter: the exact forms (`exact_query`) or, for anything else that is
    not a case number, the full-text index over subject, description, demands, replies and
    comments (`cases/derived.py`: registered by the text app; SQLite FTS5 / PostgreSQL tsvector
    over words cut by rjieba; the newest 5,000 matches). Without an index, words in the subject
    (a trigram index serves it on PostgreSQL)."""
    return _search(text, user)[0]


SEARCH_WINDOW = 1000  # the newest full-text matches a search ranks, in the reader's scope (text.index.MATCH_WINDOW)


# --- i13b (issue 13: search at a million cases): the exact forms resolved to ids first ----------
# A phone, an account or a name is found by its keyed hash. Each hash column is read alone, in its
# index's order, so the planner takes the index even where its statistics call the column
# unselective (most rows share the empty hash: a hotline's anonymous callers, a bulk import) and
# would otherwise scan every case (3–6 s at a million on SQLite); the identity scope and the list's
# filters then apply to those few ids by primary key.
EXACT_LIMIT = 1000  # cases per phone, account or name (newest first)


def _ids_by_hash(field: str, value: str) -> list[int]:
    column = identity.hash_column(field)
    rows = Case.objects.filter(identity.matches(field, value)).order_by(column, "-id")
    return list(rows.values_list("pk", flat=True)[:EXACT_LIMIT])


def exact_query(text: str, user: User | None = None) -> Q | None:
    """The exact forms of the search box, each one indexed lookup: a case number; a phone number or
    an account; for a user who may know it, the complainant's name exactly. Identities are sealed
    at rest: a phone, an account or a name is found through its keyed hash (cases.identity), ids
    first (`_ids_by_hash`), and only among the cases whose complainant the user may know
    (`access.identity_scope`) — for anyone else a guessed phone or name finds nothing, so it
    confirms nothing."""
    q = text.strip()
    if CASE_NUMBER.match(q):
        return Q(number=q.upper())
    if PHONE_LIKE.match(q) and sum(ch.isdigit() for ch in q) >= 5:
        if user is None:
            return Q(pk__in=[])
        ids = _ids_by_hash("complainant_phone", q) + _ids_by_hash("complainant_account", q)
        return Q(pk__in=ids) & identity_scope(user)
    if user is not None and NAME_LIKE.match(q):
        return Q(pk__in=_ids_by_hash("complainant_name", q)) & identity_scope(user)
    return None


def _pk_in(ids: list[int]) -> Q:
    """`pk IN ids` for a long list as ONE parameter (a JSON array on SQLite, an array on
    PostgreSQL): Django compiles one placeholder per item otherwise, ~0.05 ms each — a quarter of a
    second for the search window's 5,000 ids, paid by every query that carries them."""
    if len(ids) <= 100 or connection.vendor not in ("sqlite", "postgresql"):
        return Q(pk__in=ids)
    if connection.vendor == "sqlite":
        return Q(pk__in=RawSQL("SELECT value FROM json_each(%s)", [json.dumps(ids)]))  # nosec B611 - a constant; the ids are one parameter
    # the array as its text form: psycopg's list dumper costs ~4 µs an item (4 ms for a window)
    array = "{" + ",".join(str(int(i)) for i in ids) + "}"
    return Q(pk__in=RawSQL("SELECT unnest(%s::bigint[])", [array]))  # nosec B611 - a constant; the ids are one parameter


def _search_parts(text: str, user: User | None, scope: QuerySet[Case] | None = None,
                  ) -> tuple[Q, list[int] | None, Q | None]:
    """(the filter, the full-text matches best first — None without a full-text search, the
    exact forms' condition — None when the text has none). With `scope` (the reader's cases
    under the list's filters), the full-text matches are the newest SEARCH_WINDOW among them,
    found in the index's own statement."""
    q = text.strip()
    exact = exact_query(q, user)
    if exact is not None and CASE_NUMBER.match(q):
        return exact, None, exact
    backend = derived.search()
    best = backend.ranked_ids(q, limit=SEARCH_WINDOW, scope=scope) if backend is not None else None
    full = _pk_in(best) if best is not None else Q(subject__icontains=q)
    return (exact | full if exact is not None else full), best, exact


def _search(text: str, user: User | None) -> tuple[Q, list[int] | None]:
    """(the filter, the full-text matches best first — None without a full-text search)."""
    cond, best, _exact = _search_parts(text, user)
    return cond, best


def search_filter(user: User, qs: QuerySet[Case], text: str, *, ranked: bool) -> QuerySet[Case]:
    """`qs` narrowed by the search box. With `ranked`, the order `page` gives it is kept with
    it: exact matches (number, phone, account — newest first), then the full-text matches by
    relevance (bm25 / ts_rank; ties newest first)."""
    cond, best, exact = _search_parts(text, user, qs)
    scoped = qs
    qs = qs.filter(cond)
    if not ranked or best is None:
        return qs
    exact_ids = list(scoped.filter(exact).order_by("-id").values_list("pk", flat=True)[:100]) if exact else []
    # carried by the queryset to `page` (an alias is never selected); ids only, no SQL. Both lists
    # are already within `qs`'s scope and filters: `page` reads no row to check them again.
    return qs.alias(search_exact=Value(",".join(map(str, exact_ids))),
                    search_order=Value(",".join(map(str, best))))
# --- end i13b ---------------------------------------------------------------------------------


# --- deadlines ---------------------------------------------------------------------------------


def open_timers() -> QuerySet[Timer]:
    """Handling clocks still counting (paused ones are not: a suspended case's clock stops).
    Obligations (e.g. 结案后报备) are not among them: they show on the case and in their role's
    waiting list, never make a case overdue in lists (a closed case is never overdue)."""
    return Timer.objects.filter(stopped_at__isnull=True, code__in=TIMER_CODES).exclude(state=TimerState.PAUSED)


def overdue_timers(now: datetime) -> QuerySet[Timer]:
    return open_timers().filter(due_at__lt=now)


def due_today_timers(now: datetime) -> QuerySet[Timer]:
    return open_timers().filter(due_at__gte=now, due_at__lt=end_of_day(now))


def at_risk_timers(now: datetime) -> QuerySet[Timer]:
    """Not yet due but past the policy's reminder share of their time (e.g. 75 %): the timer's
    own `remind_at`, set by cases.deadlines from the policy's reminder_share."""
    return open_timers().filter(due_at__gte=now, remind_at__lte=now)


def timer_case_ids(timers: QuerySet[Timer]) -> QuerySet[Timer, Any]:
    return timers.values("case_id")


def end_of_day(now: datetime) -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(now) + timedelta(days=1), time.min))


# The case's current deadline is kept on its row (`next_due_at`, `next_remind_at`: the earliest
# counting deadline of its main stages and when that stage is at risk), so "overdue", "at risk"
# and "most urgent first" are read from the (next_due_at, id) index, never from the timers.
URGENCY = ("overdue", "at_risk", "due_today")


def urgency_q(which: str, now: datetime) -> Q:
    """Cases whose current deadline is past (`overdue`), not past but in its reminder share
    (`at_risk`), or due before midnight (`due_today`)."""
    if which == "overdue":
        return Q(next_due_at__lt=now)
    if which == "at_risk":
        return Q(next_due_at__gte=now, next_remind_at__lte=now)
    if which == "due_today":
        return Q(next_due_at__gte=now, next_due_at__lt=end_of_day(now))
    raise ValueError(which)


def urgency(case: Case, now: datetime) -> str:
    """The marking of one case in a list: "overdue" (red), "at_risk" (yellow) or ""."""
    due, remind = case.next_due_at, case.next_remind_at
    if due is None:
        return ""
    if due < now:
        return "overdue"
    if remind is not None and remind <= now:
        return "at_risk"
    return ""


def by_time_left(qs: QuerySet[Case]) -> QuerySet[Case]:
    """Most urgent first: the least time left, overdue first; cases without a counting deadline
    (closed, paused) last. For a small set (a page of ids); a large one goes through
    `most_urgent_ids`, which reads the (state, next_due_at, id) and (next_due_at, id) indexes in order."""
    return qs.order_by(F("next_due_at").asc(nulls_last=True), "id")


def most_urgent_ids(qs: QuerySet[Case], cap: int) -> list[int]:
    """The ids of the `cap` most urgent cases of `qs`: those with a deadline in its order (an
    index scan that stops at `cap`), then, if room is left, those without one, oldest first."""
    with_deadline, without = _most_urgent_queries(qs, cap)
    ids = list(with_deadline)
    if len(ids) < cap:
        ids += list(without[:cap - len(ids)])
    return ids


def _known(case: Case, key: str) -> Any:
    """What the workflow already knows about a case it just registered (`Case._known`), so the
    answer to an intake does not read back the rows it has just written."""
    known: dict[str, Any] | None = getattr(case, "_known", None)
    return known.get(key) if known is not None else None


def current_timers(case: Case) -> list[Timer]:
    """The latest timer of each stage and obligation of the case's current handling cycle (older
    rounds and cycles stay in the database, as they were, for the timeline and reports)."""
    latest: dict[str, Timer] = {}
    timers = _known(case, "timers")
    if timers is None:  # read on every case page and API answer, at times twice: kept SQL (`kept`)
        timers = kept.instances(("current_timers",), lambda values: Timer.objects.filter(
            case_id=values[0], co_unit__isnull=True, cycle=values[1]).order_by("id"), [case.pk, case.cycle])
    for t in timers:
        latest[t.code] = t
    return sorted(latest.values(), key=lambda t: t.started_at)


def attach_next_deadline(rows: list[Case], now: datetime) -> None:
    """Set `next_timer` (the stage of the case's current deadline: its code, unit and basis),
    `next_due` and `overdue` on each case, from the row's own deadline columns."""
    by_case: dict[int, Timer] = {}
    if rows:
        for t in open_timers().filter(case_id__in=[c.pk for c in rows], co_unit__isnull=True).order_by("due_at", "id"):
            by_case.setdefault(t.case_id, t)
    for c in rows:
        found = by_case.get(c.pk)
        c.next_timer = found
        c.next_due = c.next_due_at
        c.overdue = bool(c.next_due_at and c.next_due_at < now)


# --- one case, as a reader sees it ---------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    """Times as ISO 8601 in Beijing time (+08:00)."""
    return timezone.localtime(value).isoformat() if value is not None else None


def money(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def timer_facts(t: Timer, now: datetime) -> dict[str, Any]:
    """One deadline: when it is due, whether it is met or breached and by how much. A paused
    clock's figures stand still at the pause (the time overdue before it is kept)."""
    at = t.paused_at or now
    return {
        "timer": t.code,
        "round": t.round,
        "due_at": iso(t.due_at),
        "state": t.state,
        "provisional": t.provisional,
        "started_at": iso(t.started_at),
        "stopped_at": iso(t.stopped_at),
        "remaining_seconds": int((t.due_at - at).total_seconds()) if t.stopped_at is None else None,
        "breach_seconds": t.breach_seconds
        if t.stopped_at is not None
        else (max(0, int((at - t.due_at).total_seconds())) if t.breached_at else None),
        "basis": t.basis,
        "amount": t.amount,
        "unit": t.unit,
        "cycle": t.cycle,
        "capped_by": t.capped_by or None,
        "obligation": t.code not in TIMER_CODES,
        "role": t.role or None,
    }


def co_units_facts(case: Case, now: datetime) -> list[dict[str, Any]]:
    """The co-handling units (协办) of the current round with their own deadlines."""
    if _known(case, "co_units") == []:
        return []
    rows = workflow.co_handlings(case)
    if not rows:
        return []
    timers: dict[tuple[int, str], Timer] = {}
    for t in case.timers.filter(co_unit__isnull=False, cycle=case.cycle, round=case.round).order_by("id"):
        assert t.co_unit_id is not None
        timers[(t.co_unit_id, t.code)] = t
    return [
        {
            "unit": co.unit.code,
            "acknowledged_at": iso(co.acknowledged_at),
            "submitted_at": iso(co.submitted_at),
            "result": co.result,
            "deadlines": [timer_facts(timers[(co.unit_id, code)], now) for code in ("acknowledge", "resolve")
                          if (co.unit_id, code) in timers],
        }
        for co in rows
    ]


def linked_numbers(case: Case, user: User | None = None) -> list[str]:
    """The numbers of the cases linked to `case`, in either direction — for a reader, only those
    they may see named (`access.visible_references`: in scope, and no report's link to a reader
    who may not know the reporter)."""
    if _known(case, "links") == []:
        return []
    # on every case page and API answer: SQL kept per process (`huiyin.kept`)
    pairs = kept.rows(("selectors.linked_numbers",), lambda values: CaseLink.objects.filter(
        Q(case_id=values[0]) | Q(to_id=values[1])).values_list("case__number", "to__number"), [case.pk, case.pk])
    numbers = {b if a == case.number else a for a, b in pairs}
    if user is not None:
        numbers &= visible_references(user, case, numbers)
    return sorted(numbers)


def references(user: User, case: Case) -> dict[str, Any]:
    """The other cases `case` names (repeat_of, merged_into, links), as far as `user` may see them
    named; a hidden one reads as absent (null), exactly as when there is none."""
    named = {"repeat_of": case.repeat_of_id, "merged_into": case.merged_into_id}
    shown = visible_references_by_id(user, case, named.values())
    out: dict[str, Any] = {key: shown.get(pk) if pk else None for key, pk in named.items()}
    out["links"] = linked_numbers(case, user)
    return out


CASE_REFERENCE_KEYS = ("repeat_of", "merged_into", "linked_to")


def timeline(user: User, case: Case) -> list[Event]:
    """The case's timeline as `user` may read it, oldest first: an entry that names another case
    (a repeat link, a merge, a link) names it only if the user may see it named; otherwise the
    number reads as null. Identity fields never appear in entries (the workflow redacts them)."""
    # read on every case page and after every form sent back wrong: kept SQL (`kept`)
    events = kept.instances(("timeline",), lambda values: Event.objects.filter(case_id=values[0])
                            .select_related("actor").order_by("id"), [case.pk])
    return redact_references(user, case, events)


def redact_references(user: User, case: Case, events: list[Event]) -> list[Event]:
    """`events` of `case` with the numbers of cases `user` may not see named taken out (in memory:
    the stored timeline is append-only)."""
    named = {v for e in events for key in CASE_REFERENCE_KEYS if isinstance(e.changes, dict)
             for v in (e.changes.get(key) or []) if isinstance(v, str)}
    if not named:
        return events
    shown = visible_references(user, case, named)
    for e in events:
        for key in CASE_REFERENCE_KEYS:
            if isinstance(e.changes, dict) and key in e.changes:
                pair = e.changes[key]
                if isinstance(pair, list):
                    e.changes = {**e.changes, key: [v if not isinstance(v, str) or v in shown else None for v in pair]}
    return events


def attachments(user: User, case: Case) -> list[Attachment]:
    """The case's files `user` may see (a report's confidential files only for the roles that may
    know the reporter: `access.may_see_attachment`), oldest first."""
    rows = kept.instances(("attachments",), lambda values: Attachment.objects.filter(case_id=values[0])
                          .select_related("uploaded_by").order_by("id"), [case.pk])
    return [a for a in rows if may_see_attachment(user, case, a.confidential)]


def extensions(case: Case) -> list[Extension]:
    """The case's requests for more time, oldest first, with who asked and who decided."""
    return kept.instances(("extensions",), lambda values: Extension.objects.filter(case_id=values[0])
                          .select_related("requested_by", "decided_by").order_by("id"), [case.pk])


def attachment(user: User, case: Case, token: str) -> Attachment | None:
    if not isinstance(token, str) or not 0 < len(token) <= 32:
        return None
    found = case.attachments.filter(token=token).first()
    if found is None or not may_see_attachment(user, case, found.confidential):
        return None
    return found


COMPLAINANT_KEYS = ("name", "phone", "email", "address", "account", "customer_class", "anonymous", "confidential")


def case_facts(user: User, case: Case, *, timers: list[Timer] | None = None) -> dict[str, Any]:
    """Everything `user` may see of one case, as plain data (the API's case and the case page's
    facts): the complainant through the identity rule, the deadlines, the allowed actions.
    `timers`: the case's `current_timers`, when the caller has read them already. One
    `workflow.reading`: what the deadlines and the actions' guards share is read once."""
    with workflow.reading(case):
        return _case_facts(user, case, timers)


def _case_facts(user: User, case: Case, timers: list[Timer] | None) -> dict[str, Any]:
    now = timezone.now()
    if timers is None:
        timers = current_timers(case)
    person = complainant_view(user, case)
    refs = references(user, case)
    return {
        "number": case.number,
        "kind": case.kind,
        "channel": case.channel,
        "state": case.state,
        "round": case.round,
        "version": case.version,
        "unit": case.unit.code if case.unit_id and case.unit else None,
        "proposed_unit": case.proposed_unit.code if case.proposed_unit_id and case.proposed_unit else None,
        "proposed_co_units": case.proposed_co_units,
        "owner_unit": case.owner_unit.code,
        "severity": case.severity,
        "class": case.case_class,
        "tags": case.tags,
        "repeat_of": refs["repeat_of"],
        "region": case.region,
        "requires_approval": case.requires_approval,
        "reply_level": case.reply_level,
        "subject": case.subject,
        "description": case.description,
        "demands": case.demands,
        "product": case.product,
        "occurred_at": iso(case.occurred_at),
        "amount": money(case.amount),
        "people_count": case.people_count,
        "flags": case.flags,
        "category": case.category.code if case.category_id and case.category else None,
        "complainant": {key: person[key] for key in COMPLAINANT_KEYS},
        "received_at": iso(case.received_at),
        "registered_by": case.registered_by.username,
        "upstream_ref": case.upstream_ref,
        "upstream_due_at": iso(case.upstream_due_at),
        "instructions": case.instructions,
        "validity": case.validity,
        "invalid_code": case.invalid_code or None,
        "invalid_reason": case.invalid_reason,
        "liability": case.liability,
        "investigation": {
            "cause": case.cause,
            "course": case.course,
            "responsible_person": case.responsible_person,
            "conclusion": case.conclusion,
            "countermeasures": case.countermeasures,
        },
        "reply": case.reply,
        "compensation": {"amount": money(case.compensation_amount), "form": case.compensation_form,
                         "status": case.compensation_status or None}
        if case.compensation_amount is not None
        else None,
        "satisfaction": case.satisfaction or None,
        "callback_attempts": case.callback_attempts,
        "urge_count": case.urge_count,
        "supervised": case.supervised,
        "escalated": case.escalated,
        "merged_into": refs["merged_into"],
        "links": refs["links"],
        "close_reason": case.close_reason or None,
        "closed_at": iso(case.closed_at),
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
        "deadlines": [timer_facts(t, now) for t in timers],
        "co_units": co_units_facts(case, now),
        "return_disputed": case.return_disputed,
        "waiting_for": waiting_for(case),
        "allowed_actions": workflow.allowed_actions(user, case),
        # issue 14: the policy's clocks' anchors, handling cycles, approvals, 回避, group complaints
        "dispatched_at": iso(case.dispatched_at),
        "acknowledged_at": iso(case.acknowledged_at),
        "result_at": iso(case.result_at),
        "cycle": case.cycle,
        "reopened_at": iso(case.reopened_at),
        "approval_level": case.approval_level,
        "awaiting": case.awaiting or None,
        "respondent_unit": case.respondent_unit.code if case.respondent_unit_id and case.respondent_unit else None,
        "respondent_person": case.respondent_person,
        "recusal": case.recusal,
        "representatives": representatives_view(user, case),
        "appeal": case.appeal,
        "required": required_fields(case),
    }


def representatives_view(user: User, case: Case) -> list[dict[str, str]]:
    """A group complaint's representatives, under the same identity rule as the complainant: a
    report's (举报) are hidden altogether from roles that may not know the reporter."""
    full = may_see_identity(user, case)
    if not full and case.kind == Kind.REPORT:
        return [{"name": "", "phone": "", "id_number": ""} for _ in case.representatives]
    return [
        {"name": r.get("name", "") if full else "", "phone": r.get("phone", "") if full else mask(r.get("phone", "")),
         "id_number": r.get("id_number", "") if full else mask(r.get("id_number", ""))}
        for r in case.representatives
    ]


def required_fields(case: Case) -> dict[str, list[str]]:
    """The fields the case's policy requires per form (`forms.<form>.required`): the
    investigation report of `submit_result`, the registration fields … — for the API's clients
    and the pages, which show them as required."""
    forms = config_for(case.policy_id).raw.get("forms") or {}
    return {name: list(spec.get("required", [])) for name, spec in forms.items() if spec.get("required")}


def case_row(user: User, case: Case) -> dict[str, Any]:
    """One case as a row of a list (the API's list items)."""
    person = complainant_view(user, case, listing=True, keys=("name", "phone"))
    return {
        "number": case.number,
        "kind": case.kind,
        "channel": case.channel,
        "state": case.state,
        "round": case.round,
        "severity": case.severity,
        "class": case.case_class,
        "subject": case.subject,
        "unit": case.unit.code if case.unit_id and case.unit else None,
        "owner_unit": case.owner_unit.code,
        "complainant": {"name": person["name"], "phone": person["phone"]},
        "received_at": iso(case.received_at),
        "version": case.version,
    }


# --- lists -------------------------------------------------------------------------------------

# Keyset-friendly orders only: the id follows registration, and every filter index ends in id,
# so any filter with either order reads a few index entries. (Ordering by received_at would need
# composite indexes per filter column at 1,000,000 cases; not offered.) "due" is most urgent
# first, from the (next_due_at, id) index; cases without a counting deadline follow, newest first.
SORTS = {
    "-id": ("-id",),
    "id": ("id",),
    "due": ("next_due_at", "id"),
}


@dataclass
class ListFilters:
    """A case list's filters, the same for the API, the pages and the export.

    `unit` keeps the cases handled in that unit's subtree (a city includes its counties);
    `overdue` is "yes" when the case's current deadline (its earliest counting one; a paused
    clock does not count) is past, "no" when it is not; `deadline` keeps the cases "overdue",
    "at_risk" (in the policy's reminder share, not yet past) or "due_today"."""

    state: list[str] = field(default_factory=list)
    kind: str = ""
    unit: Unit | None = None
    severity: str = ""
    category: str = ""
    channel: str = ""
    overdue: str = ""  # "", "yes", "no"
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""
    sort: str = "-id"
    deadline: str = ""  # "", "overdue", "at_risk", "due_today"
    # The reports' drill-downs (huiyin.reports): the same cohort and conditions as a figure.
    # `within`: the cases of a unit — handled in its subtree, or registered there and not yet
    # dispatched (`in_unit`, as the dashboard and the board read a unit); `category_under`: the
    # category or one below it; `outcome`: what happened, read off the timeline
    # (`cases.outcomes`; several are all required).
    within: Unit | None = None
    category_under: str = ""
    customer_class: str = ""
    region: str = ""
    outcome: list[str] = field(default_factory=list)


def apply_filters(user: User, f: ListFilters, *, now: datetime | None = None) -> QuerySet[Case]:
    now = now or timezone.now()
    qs = cases_for(user)
    if f.state:
        qs = qs.filter(state__in=f.state)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.severity:
        qs = qs.filter(severity=f.severity)
    if f.channel:
        qs = qs.filter(channel=f.channel)
    if f.category:
        qs = qs.filter(category__code=f.category)
    if f.unit is not None:
        qs = qs.filter(unit_id__in=subtree_ids({f.unit.path}))
    if f.overdue == "yes":
        qs = qs.filter(urgency_q("overdue", now))
    elif f.overdue == "no":
        qs = qs.exclude(urgency_q("overdue", now))
    if f.deadline in URGENCY:
        qs = qs.filter(urgency_q(f.deadline, now))
    # dates outside the years a case can have are not filters (year 1 or 9999 overflow as times)
    if f.date_from and inputs.EARLIEST_YEAR <= f.date_from.year <= inputs.LATEST_YEAR:
        qs = qs.filter(received_at__gte=timezone.make_aware(datetime.combine(f.date_from, time.min)))
    if f.date_to and inputs.EARLIEST_YEAR <= f.date_to.year <= inputs.LATEST_YEAR:
        qs = qs.filter(received_at__lt=timezone.make_aware(datetime.combine(f.date_to + timedelta(days=1), time.min)))
    if f.within is not None:
        qs = qs.filter(in_unit(f.within))
    if f.category_under:
        qs = qs.filter(category_id__in=category_ids_under(f.category_under))
    if f.customer_class:
        qs = qs.filter(customer_class=f.customer_class)
    if f.region:
        qs = qs.filter(region=f.region)
    for name in f.outcome:
        condition = outcomes.outcome_q(name)
        if condition is None:
            raise ValueError(f"unknown outcome {name!r}")  # the pages and the API refuse it first
        qs = qs.filter(condition)
    if f.q:  # the default order (-id) becomes relevance for a search
        qs = search_filter(user, qs, f.q, ranked=f.sort == "-id")
    return qs


def category_ids_under(code: str) -> list[int]:
    """The ids of the category `code` and of every category below it."""
    rows = list(Category.objects.values_list("id", "code", "parent_id"))
    children: dict[int | None, list[int]] = {}
    start = None
    for pk, c, parent in rows:
        children.setdefault(parent, []).append(pk)
        if c == code:
            start = pk
    if start is None:
        return []
    out, todo = [], [start]
    while todo:
        pk = todo.pop()
        out.append(pk)
        todo.extend(children.get(pk, []))
    return sorted(out)


def page(qs: QuerySet[Case], *, sort: str, cursor: str | int | None, limit: int) -> tuple[list[Case], str | None]:
    """One page by keyset (never OFFSET): `cursor` is where the previous page ended (the last
    row's id, or for "due" its deadline and id; for a search ordered by relevance, the position
    reached); returns the rows and the cursor of the next page (None on the last)."""
    if "search_order" in qs.query.annotations and sort == "-id":
        return _page_ranked(qs, cursor=cursor, limit=limit)
    if sort == "due":
        return _page_by_time_left(qs, str(cursor or ""), limit)
    order = SORTS.get(sort, SORTS["-id"])
    try:
        last_id = int(cursor) if cursor else 0
    except ValueError:
        last_id = 0
    if not 0 < last_id < MAX_ID:  # beyond a 64-bit id: an unreadable cursor, not a database error
        last_id = 0
    if last_id > 0:
        qs = qs.filter(id__lt=last_id) if sort == "-id" else qs.filter(id__gt=last_id)
    rows = list(qs.select_related("owner_unit", "unit", "category").order_by(*order)[: limit + 1])
    has_next = len(rows) > limit
    rows = rows[:limit]
    if not has_next or not rows:
        return rows, None
    return rows, str(rows[-1].pk)


def _ids(alias: Any) -> list[int]:
    return [int(x) for x in str(alias.value).split(",") if x]


def _page_ranked(qs: QuerySet[Case], *, cursor: str | int | None, limit: int) -> tuple[list[Case], str | None]:
    """A page of a search in its order (`search_filter`): the exact matches, then the full-text
    matches (at most SEARCH_WINDOW ids), both already narrowed to the reader's scope and the other
    filters by `search_filter`; the page's rows fetched by id. The cursor is the position reached
    (one integer, ≥ 1)."""
    exact = _ids(qs.query.annotations["search_exact"])
    order = _ids(qs.query.annotations["search_order"])
    seen = set(exact)
    ordered = exact + [pk for pk in order if pk not in seen]  # both within the reader's scope (search_filter)
    try:
        start = max(0, int(cursor)) if cursor else 0
    except ValueError:
        start = 0
    ids = ordered[start:start + limit]
    # the page's ids read through `qs` all the same: the reader's scope checked on the rows shown
    # (a few primary keys), whatever a search backend returned
    found = qs.filter(pk__in=ids).select_related("owner_unit", "unit", "category").in_bulk()
    rows = [found[pk] for pk in ids if pk in found]
    for i, row in enumerate(rows):
        row.search_pos = 0 if row.pk in seen else start + i + 1  # type: ignore[attr-defined]
    end = start + limit
    return rows, (str(end) if end < len(ordered) else None)


DUE_CURSOR = re.compile(r"^d(\d{1,17})_(\d{1,18})$")  # µs before the year 5138; an id below 2**63
NONE_CURSOR = re.compile(r"^n(\d{1,18})$")
MAX_ID = 2**63 - 1


def due_cursor(case: Case) -> str:
    """Where a page of the most-urgent-first order ends: the case's deadline and id."""
    if case.next_due_at is None:
        return f"n{case.pk}"
    stamp = case.next_due_at - datetime(1970, 1, 1, tzinfo=UTC)
    return f"d{stamp // timedelta(microseconds=1)}_{case.pk}"


def _page_by_time_left(qs: QuerySet[Case], cursor: str, limit: int) -> tuple[list[Case], str | None]:
    """Most urgent first, by keyset on (next_due_at, id): "d<µs since 1970>_<id>" inside the cases
    with a deadline, then "n<id>" inside those without one (newest first). An unreadable
    cursor starts again at the top."""
    qs = qs.select_related("owner_unit", "unit", "category")
    rows: list[Case] = []
    in_due, in_none = DUE_CURSOR.match(cursor), NONE_CURSOR.match(cursor)
    if not in_none:
        due = qs.filter(next_due_at__isnull=False)
        if in_due:
            after = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(in_due.group(1)))
            last_id = int(in_due.group(2))
            due = due.filter(next_due_at__gte=after).filter(Q(next_due_at__gt=after) | Q(id__gt=last_id))
        rows = list(due.order_by("next_due_at", "id")[: limit + 1])
    if len(rows) <= limit:
        rest = qs.filter(next_due_at__isnull=True)
        if in_none:
            rest = rest.filter(id__lt=int(in_none.group(1)))
        rows += list(rest.order_by("-id")[: limit + 1 - len(rows)])
    has_next = len(rows) > limit
    rows = rows[:limit]
    return rows, (due_cursor(rows[-1]) if has_next and rows else None)


def customer_cases(user: User, phone: str, *, limit: int) -> list[Case]:
    """The caller's cases, newest first, by exact (normalised) phone: only those whose complainant
    the user may know (`access.identity_scope`) — a reporter's (举报) earlier cases never show to
    the reported unit, and a guessed number confirms nothing."""
    if not normalise_phone(phone):
        return []
    hashes = identity.search_hashes("complainant_phone", phone)
    if not hashes:  # `identity.matches` would match nothing
        return []
    # Kept SQL (`kept`): the query depends on the visible units, the identity scope's units and
    # the number of hashes alone (compiling it cost ~3 ms a case page).
    units, scope = tuple(visible_unit_ids(user)), identity_units(user)
    column = identity.hash_column("complainant_phone")
    return kept.instances(
        ("customer_cases", units, scope, limit),
        lambda values: cases_in_units(list(units)).filter(Q(**{f"{column}__in": list(values)}),
                                                          identity_scope_of(*scope))
        .select_related("unit", "owner_unit").order_by("-id")[:limit],
        hashes,
    )


# --- what waits for whom ---------------------------------------------------------------------

@dataclass(frozen=True)
class Waiting:
    """A case in `state` (and matching `where`/`test`, the same condition for the database and for
    one case in memory) waits for `action`, taken by its roles over the `side` unit — or, for an
    approval chain, by the role the case is `awaiting` (a policy may name any role), or by the
    `roles` given here where the action's table is wider than who the case waits for."""

    state: str
    action: str
    side: str  # "owner": the registering centre's line; "unit": the handling unit
    where: Q = field(default_factory=Q)
    test: Callable[[Case], bool] = lambda case: True
    roles: tuple[str, ...] | None = None
    by_awaiting: bool = False


SATISFIED = [Satisfaction.VERY_SATISFIED, Satisfaction.SATISFIED, Satisfaction.NEUTRAL]
WAITING: list[Waiting] = [
    Waiting(S.REGISTERED, "dispatch", "owner"),
    Waiting(S.RETURNED, "dispatch", "owner", Q(return_disputed=False), lambda c: not c.return_disputed),
    Waiting(S.RETURNED, "decide_return", "owner", Q(return_disputed=True), lambda c: c.return_disputed),
    Waiting(S.PENDING_APPROVAL, "approve", "owner", by_awaiting=True),
    Waiting(S.DISPATCHED, "acknowledge", "unit"),
    Waiting(S.ACCEPTED, "submit_result", "unit"),
    Waiting(S.SUSPENDED, "resume", "unit"),
    Waiting(S.PLAN_APPROVAL, "approve_plan", "owner", by_awaiting=True),
    # 答复审核 first (the role the reply awaits), then the centre's review.
    Waiting(S.RESULT_SUBMITTED, "approve_reply", "owner", ~Q(awaiting=""), lambda c: bool(c.awaiting),
            by_awaiting=True),
    Waiting(S.RESULT_SUBMITTED, "review", "owner", Q(awaiting=""), lambda c: not c.awaiting),
    Waiting(S.PENDING_CALLBACK, "callback", "owner", Q(satisfaction__in=["", Satisfaction.UNREACHABLE]),
            lambda c: c.satisfaction in ("", Satisfaction.UNREACHABLE)),
    # After an unsatisfied callback the centre decides: 二次派单 in round 1, 三次派单 later.
    Waiting(S.PENDING_CALLBACK, "redispatch", "owner", Q(satisfaction=Satisfaction.UNSATISFIED, round=1),
            lambda c: c.satisfaction == Satisfaction.UNSATISFIED and c.round == 1,
            roles=workflow.DECIDE_AFTER_UNSATISFIED),
    Waiting(S.PENDING_CALLBACK, "escalate", "owner", Q(satisfaction=Satisfaction.UNSATISFIED, round__gte=2),
            lambda c: c.satisfaction == Satisfaction.UNSATISFIED and c.round >= 2,
            roles=workflow.DECIDE_AFTER_UNSATISFIED),
    # Satisfied, and the policy's decision roles (the leader) decide on another round or the close.
    Waiting(S.PENDING_CALLBACK, "close", "owner", Q(satisfaction__in=SATISFIED) & ~Q(awaiting=""),
            lambda c: c.satisfaction in SATISFIED and bool(c.awaiting), by_awaiting=True),
    # Satisfied under a policy that wants an explicit sign-off.
    Waiting(S.PENDING_CALLBACK, "close", "owner", Q(satisfaction__in=SATISFIED, awaiting=""),
            lambda c: c.satisfaction in SATISFIED and not c.awaiting, roles=workflow.CLOSERS),
]
HANDLER_ROLES = (Role.HANDLER, Role.FIRST_RESPONSIBLE)


def waiting_for(case: Case) -> str | None:
    """The step an open case waits for — the action that moves it on (the API's `waiting_for`,
    a sub-state of `state`): e.g. a case in pending_callback after an unsatisfied callback waits
    for `redispatch` (二次派单), not for another callback. A case that owes an obligation of its
    policy (e.g. a closed case's 报备) waits for `fulfil`. None when nothing is due."""
    for w in WAITING:
        if w.state == case.state and w.test(case):
            return w.action
    if not case.is_open and case.timers.filter(stopped_at__isnull=True).exclude(role="").exists():
        return "fulfil"
    return None


def waiting_roles(case: Case) -> tuple[str, ...]:
    """Who takes the step the case waits for: the role it awaits (an approval chain, a policy's
    decision role), the roles of its WAITING row, or the roles of the action."""
    for w in WAITING:
        if w.state == case.state and w.test(case):
            if w.by_awaiting and case.awaiting:
                return (case.awaiting,)
            return w.roles or workflow.ACTIONS[w.action].roles
    if not case.is_open:
        owed = case.timers.filter(stopped_at__isnull=True).exclude(role="").values_list("role", flat=True)
        return tuple(dict.fromkeys(owed))
    return ()


def role_units(user: User) -> dict[str, list[int]]:
    """The unit ids each role name of the user reaches — the built-in roles, and the active
    policy's own roles (`roles:` a built-in role held in a named unit) — cached on the user."""
    cached: dict[str, list[int]] | None = getattr(user, "_huiyin_role_names", None)
    if cached is not None:
        return cached
    paths: dict[str, set[str]] = {}
    for g in grants(user):
        paths.setdefault(g.role, set()).add(g.path)
    cfg = config_for(active_policy().pk)
    for code, policy_role in cfg.roles.items():
        found = {g.path for g in grants(user)
                 if g.role == policy_role.role and (not policy_role.unit or g.unit.code == policy_role.unit)}
        if found:
            paths.setdefault(code, set()).update(found)
    cached = {name: subtree_ids(p) for name, p in paths.items()}
    user._huiyin_role_names = cached  # type: ignore[attr-defined]
    return cached


def _on_case(ids: list[int]) -> Q:
    return Q(owner_unit_id__in=ids) | Q(unit_id__in=ids)


def awaiting_terms(user: User) -> list[Q]:
    """Cases waiting for a decision of a role the user holds: an approval chain's level
    (`awaiting`), an extension tier's approver, an obligation's role."""
    terms: list[Q] = []
    for name, ids in role_units(user).items():
        terms.append(Q(awaiting=name) & _on_case(ids))
    return terms


def waiting_terms(user: User) -> list[Q]:
    """Cases whose next step is the user's: the state's moving action is one the user's roles
    may take over the right unit (the registering centre's line or the handling unit), or the
    role an approval waits for is the user's. One term per (state, action), each answerable
    from an index on its own."""
    return [_waiting_term(spec) for spec in _waiting_specs(user)]


# A waiting term, as plain values: (kind, what, unit ids). `_waiting_term` makes its Q from these
# alone, so that the terms' compiled queries can be kept under them (`waiting_ids`).
WaitingSpec = tuple[str, Any, tuple[int, ...]]


def _waiting_specs(user: User) -> tuple[WaitingSpec, ...]:
    specs: list[WaitingSpec] = []
    named = role_units(user)
    for i, w in enumerate(WAITING):
        if w.by_awaiting:
            specs += [("awaiting", (i, name), tuple(ids)) for name, ids in named.items()]
            continue
        ids = unit_ids_with_roles(user, w.roles or workflow.ACTIONS[w.action].roles)
        if ids:
            specs.append(("state", i, tuple(ids)))
    for name, ids in named.items():
        specs += [("extension", name, tuple(ids)), ("owed", name, tuple(ids))]
    if ids := unit_ids_with_roles(user, HANDLER_ROLES):
        specs.append(("co_handling", None, tuple(ids)))
    return tuple(specs)


def _waiting_term(spec: WaitingSpec) -> Q:
    kind, what, units = spec
    ids = list(units)
    if kind == "awaiting":
        i, name = what
        w = WAITING[i]
        return Q(state=w.state, awaiting=name) & w.where & _on_case(ids)
    if kind == "state":
        w = WAITING[what]
        return Q(state=w.state) & w.where & (Q(owner_unit_id__in=ids) if w.side == "owner" else Q(unit_id__in=ids))
    if kind == "extension":
        # A pending extension request waits for its tier's approver.
        pending = Extension.objects.filter(status=ExtensionStatus.REQUESTED, approver=what).values("case_id")
        return Q(pk__in=pending, state__in=list(workflow.ACTIONS["grant_extension"].sources)) & _on_case(ids)
    if kind == "owed":
        # An obligation of the policy (报备, 专项报告) waits for its role, open or closed case.
        owed = Timer.objects.filter(stopped_at__isnull=True, role=what).values("case_id")
        return Q(pk__in=owed) & _on_case(ids)
    # A joint case's co-handling unit (协办) has its own acknowledgement and contribution.
    co = CoHandling.objects.filter(unit_id__in=ids, active=True, submitted_at__isnull=True).values("case_id")
    return Q(pk__in=co, state__in=[S.DISPATCHED, S.ACCEPTED, S.SUSPENDED])


def waiting_ids(user: User, *, cap: int = COUNT_CAP) -> list[int]:
    """Ids of the cases waiting for the user: the union of one small indexed query per term (an
    OR of them all would make the database scan the whole table), each term's most urgent first
    (`most_urgent_ids`). Building and compiling a dozen ORM queries cost far more than running
    them, so their SQL is kept, per process, under what it is made of: the user's visible units
    and the terms' plain values."""
    units = visible_unit_ids(user)
    specs = _waiting_specs(user)
    queries = compiled(("waiting_ids", cap, tuple(units), specs), lambda: [
        q for spec in specs for q in _most_urgent_queries(cases_in_units(units).filter(_waiting_term(spec)), cap)
    ])
    ids: set[int] = set()
    with connection.cursor() as cursor:
        for n in range(0, len(queries), 2):
            (due_sql, due_params), (rest_sql, rest_params) = queries[n], queries[n + 1]
            found: list[int] = []
            if due_sql:
                cursor.execute(due_sql, due_params)
                found = [row[0] for row in cursor.fetchall()]
            if len(found) < cap and rest_sql:  # as `most_urgent_ids`: then those without a deadline, oldest first
                cursor.execute(rest_sql, rest_params)
                found += [row[0] for row in cursor.fetchall()][: cap - len(found)]
            ids.update(found)
    return sorted(ids)


def _most_urgent_queries(qs: QuerySet[Case], cap: int) -> list[QuerySet[Any]]:
    """The two queries of `most_urgent_ids` (the second with the whole `cap` as its limit)."""
    return [
        qs.filter(next_due_at__isnull=False).order_by("next_due_at", "id").values_list("id", flat=True)[:cap],
        qs.filter(next_due_at__isnull=True).order_by("id").values_list("id", flat=True)[:cap],
    ]


_COMPILED: dict[Hashable, list[tuple[str, tuple[Any, ...]]]] = {}
COMPILED_KEEP = 1000  # keys kept per process; when full, the cache starts again (no lock needed)


def compiled(key: Hashable, build: Callable[[], list[QuerySet[Any]]]) -> list[tuple[str, tuple[Any, ...]]]:
    """The SQL and parameters of the querysets `build()` makes, compiled once per process and
    database for `key`, which must hold everything the querysets are made of (never rows: the
    SQL is run again on every call, so it reads the data as it is then). A query that can match
    nothing (e.g. `pk__in=[]`) is ("", ()): the caller runs nothing for it, as the ORM would."""
    key = (connection.alias, connection.vendor, key)
    found = _COMPILED.get(key)
    if found is None:
        found = []
        for qs in build():
            try:
                sql, params = qs.query.get_compiler(using=qs.db).as_sql()
            except EmptyResultSet:
                sql, params = "", ()
            found.append((sql, tuple(params)))
        if len(_COMPILED) >= COMPILED_KEEP:
            _COMPILED.clear()
        _COMPILED[key] = found
    return found


def capped_count(qs: QuerySet[Any], cap: int = COUNT_CAP) -> int:
    return qs[:cap].count()


WORKBENCH_TABS = ("waiting", "due_today", "at_risk", "overdue", "registered_by_me")
# The orders a queue offers: most urgent first (the workbench's default), oldest or newest first.
QUEUE_SORTS = ("due", "id", "-id")


def queue_order(qs: QuerySet[Case], sort: str) -> QuerySet[Case]:
    """A queue (workbench, approvals, board) in the chosen order; most urgent first by default."""
    if sort in ("id", "-id"):
        return qs.order_by(sort)
    return by_time_left(qs)


def workbench(user: User, *, tab: str, sort: str = "due", limit: int = 50) -> dict[str, Any]:
    """我的待办: what waits for the user, what is due today, at risk or overdue among it, and what
    the user registered that is still open; with capped counts and the unit queues. Most urgent
    first unless `sort` asks for the oldest ("id") or the newest ("-id")."""
    now = timezone.now()
    visible = cases_for(user)
    waiting = waiting_ids(user)
    mine = visible.filter(Q(pk__in=waiting) | Q(registered_by=user, state__in=OPEN_STATES))
    sets: dict[str, QuerySet[Case]] = {
        "registered_by_me": visible.filter(registered_by=user, state__in=OPEN_STATES),
        "due_today": mine.filter(urgency_q("due_today", now)),
        "at_risk": mine.filter(urgency_q("at_risk", now)),
        "overdue": mine.filter(urgency_q("overdue", now)),
    }
    counts = {"waiting": len(waiting), **{key: capped_count(qs) for key, qs in sets.items()}}
    tab = tab if tab in counts else "waiting"
    sort = sort if sort in QUEUE_SORTS else "due"
    chosen = visible.filter(pk__in=waiting) if tab == "waiting" else sets[tab]
    rows = list(queue_order(chosen, sort).select_related("owner_unit", "unit", "category")[:limit])
    attach_next_deadline(rows, now)
    return {"tab": tab, "sort": sort, "counts": counts, "rows": rows, "queues": unit_queues(user), "now": now}


def unit_queues(user: User) -> list[dict[str, Any]]:
    """Open cases per state of each unit the user dispatches for or handles in."""
    result = []
    seen: set[tuple[int, str]] = set()
    units = visible_unit_ids(user)
    for g in grants(user):
        if g.role == Role.DISPATCHER:
            side = "owner"
        elif g.role in HANDLER_ROLES:
            side = "unit"
        else:
            continue
        if (g.unit_id, side) in seen:
            continue
        seen.add((g.unit_id, side))
        ids = tuple(subtree_ids_of(user, {g.path}))
        field_in = "owner_unit_id__in" if side == "owner" else "unit_id__in"
        # One capped count per state (each from the state index), not a GROUP BY over every open
        # case; in one statement, its SQL kept as `waiting_ids` keeps its own.
        counts = capped_counts(("unit_queue", tuple(units), field_in, ids),
                               partial(_queue_states, units, field_in, ids), QUEUE_CAP)
        result.append({
            "unit": g.unit, "side": side, "cap": QUEUE_CAP,
            "states": list(zip(OPEN_STATES, counts, strict=True)),
            "total": sum(counts),
        })
    return result


def _queue_states(units: list[int], field_in: str, ids: tuple[int, ...]) -> list[QuerySet[Any]]:
    return [cases_in_units(units).filter(**{field_in: list(ids)}, state=st) for st in OPEN_STATES]


def capped_counts(key: Hashable, build: Callable[[], list[QuerySet[Any]]], cap: int) -> list[int]:
    """`capped_count(qs, cap)` of each queryset `build()` makes, in one statement whose SQL is
    compiled once per `key` (see `compiled`)."""
    parts = compiled(("capped", cap, key), lambda: [qs.values("pk")[:cap] for qs in build()])
    asked = [(n, part, params) for n, (part, params) in enumerate(parts) if part]  # "": matches nothing
    found: dict[int, int] = {}
    if asked:
        sql = " UNION ALL ".join(
            # our own compiled SQL, its values in the parameters
            f"SELECT {n} AS n, COUNT(*) AS c FROM ({part}) AS capped_{n}"  # noqa: S608  # nosec B608
            for n, part, _ in asked
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [p for _, _, params in asked for p in params])
            found = dict(cursor.fetchall())
    return [found.get(n, 0) for n in range(len(parts))]


# --- leaders and supervisors ----------------------------------------------------------------


APPROVALS_SCAN = 2000  # compensation requests looked at per page (far more than ever wait at once)


def approvals(user: User, *, sort: str = "due", limit: int = 100) -> dict[str, list[Case]]:
    """What waits for the user's decision: 批示 (and appeals), plan approval, extension requests
    (by their tier's approver), compensation — by the role each waits for (a policy may name any);
    each most urgent first (or oldest/newest first by `sort`)."""
    now = timezone.now()
    visible = cases_for(user).select_related("owner_unit", "unit", "proposed_unit", "category")
    named = role_units(user)
    out: dict[str, list[Case]] = {}

    def terms(cond: Q, by: Callable[[str], Q]) -> list[Case]:
        q = Q(pk__in=[])
        for name, ids in named.items():
            q |= by(name) & _on_case(ids)
        return list(queue_order(visible.filter(cond, q), sort)[:limit]) if named else []

    out["dispatch"] = terms(Q(state=S.PENDING_APPROVAL), lambda name: Q(awaiting=name))
    out["plan"] = terms(Q(state=S.PLAN_APPROVAL), lambda name: Q(awaiting=name))
    out["extension"] = terms(Q(state__in=list(workflow.ACTIONS["grant_extension"].sources)), lambda name: Q(
        pk__in=Extension.objects.filter(status=ExtensionStatus.REQUESTED, approver=name).values("case_id")))
    ids = unit_ids_with_roles(user, workflow.ACTIONS["approve_compensation"].roles)
    # a handful among a million: the ids first, from their own index (a planner that sees one
    # common value in the column would otherwise scan the table)
    requested = list(Case.objects.filter(compensation_status=CompensationStatus.REQUESTED)
                     .values_list("id", flat=True)[:APPROVALS_SCAN]) if ids else []
    out["compensation"] = list(queue_order(visible.filter(pk__in=requested, owner_unit_id__in=ids), sort)
                               [:limit]) if ids else []
    for rows in out.values():
        attach_next_deadline(rows, now)
    ext_cases = [c.pk for c in out["extension"]]
    pending = {e.case_id: e for e in Extension.objects.filter(case_id__in=ext_cases, status=ExtensionStatus.REQUESTED)
               .select_related("requested_by")}
    for c in out["extension"]:
        c.pending_extension = pending.get(c.pk)
    return out


def in_unit(unit: Unit | None) -> Q:
    """Cases handled in the unit's subtree, or registered there and not yet dispatched."""
    if unit is None:
        return Q()
    ids = subtree_ids({unit.path})
    return Q(unit_id__in=ids) | Q(unit__isnull=True, owner_unit_id__in=ids)


def board(user: User, *, unit: Unit | None, sort: str = "due", limit: int = 100) -> dict[str, Any]:
    """Overdue and at-risk open cases, counted per handling unit, for 督办; most urgent first."""
    now = timezone.now()
    # Only open cases have a current deadline: the deadline index alone finds them.
    qs = cases_for(user).filter(in_unit(unit), next_due_at__isnull=False)
    overdue = qs.filter(urgency_q("overdue", now))
    at_risk = qs.filter(urgency_q("at_risk", now))
    per_unit: dict[int | None, dict[str, Any]] = {}
    for key, subset in (("overdue", overdue), ("at_risk", at_risk)):
        for row in subset.values("unit_id", "owner_unit_id").annotate(n=Count("id")).order_by():
            uid = row["unit_id"] or row["owner_unit_id"]
            entry = per_unit.setdefault(uid, {"overdue": 0, "at_risk": 0})
            entry[key] += row["n"]
    units = Unit.objects.in_bulk([u for u in per_unit if u is not None])
    table = sorted(
        ({"unit": units.get(uid), **v} for uid, v in per_unit.items() if uid is not None),
        key=lambda r: (-r["overdue"], -r["at_risk"], r["unit"].path if r["unit"] else ""),
    )
    # Overdue or at risk: the reminder time is passed (it never comes after the deadline). In
    # deadline order this reads the (next_due_at, id) index and stops at `limit`.
    late = qs.filter(urgency_q("overdue", now) | Q(next_remind_at__lte=now))
    ordered = late.order_by("next_due_at", "id") if sort == "due" else queue_order(late, sort)
    rows = list(ordered.select_related("owner_unit", "unit", "category")[:limit])
    attach_next_deadline(rows, now)
    for c in rows:
        c.board_kind = urgency(c, now)
        c.can = workflow.possible(user, c, ("urge", "escalate", "redispatch"))
    return {"table": table, "rows": rows, "now": now, "sort": sort, "more": len(rows) >= limit,
            "totals": {"overdue": sum(r["overdue"] for r in table), "at_risk": sum(r["at_risk"] for r in table)}}


# --- the dashboard ---------------------------------------------------------------------------

DASHBOARD_SECONDS = 60  # the dashboard's figures are recomputed at most once a minute per view


def dashboard(user: User, *, unit: Unit | None, days: int = 30) -> dict[str, Any]:
    """The dashboard's figures for what the user sees (cached briefly: aggregates over every open
    case and a month of intake are the heaviest reads of the pages)."""
    from django.core.cache import cache

    key = "web:dashboard:{}:{}:{}".format(
        ",".join(str(i) for i in sorted(visible_unit_ids(user))), unit.pk if unit else "-", days
    )
    data: dict[str, Any] | None = cache.get(key)
    if data is None:
        data = _dashboard(user, unit=unit, days=days)
        cache.set(key, data, DASHBOARD_SECONDS)
    return data


def _dashboard(user: User, *, unit: Unit | None, days: int = 30) -> dict[str, Any]:
    from django.db.models.functions import TruncDate

    now = timezone.now()
    base = cases_for(user).filter(in_unit(unit))
    # Open cases by state and unit.
    open_rows = list(
        base.filter(state__in=OPEN_STATES).values("unit_id", "owner_unit_id", "state").annotate(n=Count("id"))
        .order_by()
    )
    unit_ids = {r["unit_id"] or r["owner_unit_id"] for r in open_rows}
    names = {u.pk: u for u in Unit.objects.filter(pk__in=unit_ids)}
    by_unit: dict[int, dict[str, int]] = {}
    for r in open_rows:
        uid = r["unit_id"] or r["owner_unit_id"]
        by_unit.setdefault(uid, {})[r["state"]] = by_unit.get(uid, {}).get(r["state"], 0) + r["n"]
    ordered_units = sorted(by_unit, key=lambda uid: names[uid].path if uid in names else "")
    # Intake per day.
    first_day = timezone.localdate(now) - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first_day, time.min))
    recent = base.filter(received_at__gte=start)
    per_day = {
        r["day"]: r["n"]
        for r in recent.annotate(day=TruncDate("received_at")).values("day").annotate(n=Count("id")).order_by()
    }
    day_list = [first_day + timedelta(days=i) for i in range(days)]
    # Timeliness per timer (finished stages of the cases received in the period).
    timeliness: dict[str, dict[str, int]] = {}
    for t in (
        Timer.objects.filter(case__in=recent.values("pk"), co_unit__isnull=True, stopped_at__isnull=False,
                             state__in=[TimerState.MET, TimerState.BREACHED])
        .values("code", "state").annotate(n=Count("id")).order_by()
    ):
        timeliness.setdefault(t["code"], {"met": 0, "breached": 0})[t["state"]] = t["n"]
    satisfaction = {
        r["satisfaction"]: r["n"]
        for r in recent.exclude(satisfaction="").values("satisfaction").annotate(n=Count("id")).order_by()
    }
    open_total = sum(sum(v.values()) for v in by_unit.values())
    return {
        "open_total": open_total,
        "intake_total": sum(per_day.values()),
        "open_by_state_unit": {
            "units": [names[uid].name if uid in names else "?" for uid in ordered_units],
            "series": [
                {"state": s, "data": [by_unit[uid].get(s, 0) for uid in ordered_units]}
                for s in OPEN_STATES if any(by_unit[uid].get(s, 0) for uid in ordered_units)
            ],
        },
        "intake": {"days": [d.strftime("%m-%d") for d in day_list], "counts": [per_day.get(d, 0) for d in day_list]},
        "timeliness": timeliness,
        "satisfaction": satisfaction,
        "days": days,
        "computed_at": now,
    }
