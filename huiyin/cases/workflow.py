"""The case workflow: every change of a case, and the only code that makes one.

This module is the only code that changes a case's state, unit, round, fields or deadlines
(DESIGN §3). Three ways in, all writing through one `Step` (which records `{field: [old, new]}`)
and one `_write` (which bumps the version, saves the changed columns and appends exactly one
timeline event):

- `perform(case, action, actor=…)` — a transition: each action is one `@action(...)`-decorated
  `_do_<name>` function below, its sources, roles, side and guards in the decorator beside it;
  `perform` runs it in one durable transaction with the row locked and the version checked.
- `register(case, actor=…)` — intake (受理): the new case, its first timer and event, its repeat
  link and intake rules; the caller (`services.case_register`) holds the transaction.
- `change(case, action, actor=…)` — a change that is not a transition: rule effects, repeat
  links, attachments, derived fields. It runs in the caller's lock (`locked=True`) or takes one.
- `record_events(...)` — the jobs' timeline entries of many cases at once that change no field
  (breaches of deadlines).

Timers are started, stopped and extended only in `cases.deadlines`, called from here and from
the jobs. Notifications are written to the outbox in the same transaction. Nothing here makes
network calls.
"""

from __future__ import annotations

import contextvars
import enum
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar, cast

from django.db import connection, transaction
from django.utils import timezone

from huiyin import kept
from huiyin.db import insert_one, insert_position, insert_rows, insert_values
from huiyin.org.access import roles_of, roles_over, unit_for
from huiyin.org.fields import Sealed
from huiyin.org.models import Role, Unit, User
from huiyin.policies.config import PolicyConfig
from huiyin.policies.rules import Rule, matches
from huiyin.policies.services import config_for

from . import deadlines, derived, grading, identity, inputs, notices, notifications
from .access import holds, is_respondent
from .errors import BadInput, CaseError, Cause, Conflict, Forbidden, InvalidTransition
from .models import (
    FINAL_STATES,
    Case,
    CaseLink,
    CloseReason,
    CoHandling,
    CompensationStatus,
    Event,
    Extension,
    ExtensionStatus,
    RuleHit,
    Satisfaction,
    Severity,
    State,
    Timer,
    Validity,
)

S = State
REDACTED = "***"  # an identity field's old and new value on the timeline (issue 11)
HANDLERS = (Role.HANDLER, Role.FIRST_RESPONSIBLE)
OPEN_STATES = frozenset(s for s in State if s not in FINAL_STATES)
SATISFIED = (Satisfaction.VERY_SATISFIED, Satisfaction.SATISFIED, Satisfaction.NEUTRAL)
# The roles whose holders may be named as approvers by a policy (any role of the organisation, or a
# policy role built on one): the table lets them try; the chain's actor guard decides who may.
STAFF = (Role.AGENT, Role.DISPATCHER, *HANDLERS, Role.LEADER, Role.SUPERVISOR)


# --- one change, collected while it runs and written once --------------------------------------


@dataclass
class Step:
    """What one action or change does to a case, collected while it runs and written once."""

    case: Case
    actor: User | None
    now: datetime
    cfg: PolicyConfig
    changes: dict[str, list[Any]] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)

    def set(self, name: str, value: Any) -> None:
        old = getattr(self.case, name)
        if old == value:
            return
        setattr(self.case, name, value)
        self.dirty.add(name)
        if name in identity.SEALED:
            # An identity field is sealed at rest: the timeline says that it changed, never to what.
            self.changes[name] = [REDACTED if old else "", REDACTED if value else ""]
        else:
            self.changes[name] = [_plain(old), _plain(value)]

    def set_unit(self, name: str, unit: Unit | None) -> None:
        old_id = getattr(self.case, f"{name}_id")
        if old_id == (unit.pk if unit else None):
            return
        old = Unit.objects.filter(pk=old_id).values_list("code", flat=True).first() if old_id else None
        setattr(self.case, name, unit)
        self.dirty.add(name)
        self.changes[name] = [old, unit.code if unit else None]

    def set_case(self, name: str, other: Case | None) -> None:
        """A reference to another case (merged_into, repeat_of), recorded by its number."""
        old_id = getattr(self.case, f"{name}_id")
        if old_id == (other.pk if other else None):
            return
        old = Case.objects.filter(pk=old_id).values_list("number", flat=True).first() if old_id else None
        setattr(self.case, name, other)
        self.dirty.add(name)
        self.changes[name] = [old, other.number if other else None]

    def note(self, key: str, value: Any) -> None:
        """Record something on the event that is not a case field (e.g. an extension)."""
        self.changes[key] = [None, _plain(value)]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Unit):
        return value.code
    return value


def _write(step: Step, action: str, *, from_state: str, to_state: str, comment: str, source: str,
           ip: str | None, bump: bool) -> Event:
    """Save the step's changed columns and append its one timeline event. The version goes up
    when a field of the case changed (or, for a transition, always): a reader holding the old
    version then gets a conflict instead of overwriting what it did not see."""
    case = step.case
    if bump or step.dirty:
        step.set("version", case.version + 1)
        step.changes.pop("version", None)
    # The case's current deadline follows its timers; kept, not recorded on the timeline.
    columns = step.dirty | deadlines.refresh_case_deadline(case)
    if columns:
        case.save(update_fields=sorted(columns | {"updated_at"}))
    event = Event.objects.create(
        case=case, action=action, actor=step.actor, at=step.now, from_state=from_state, to_state=to_state,
        changes=step.changes, comment=comment, source=source, ip=ip,
    )
    derived.written(case, event)  # derived data (the search index) in the same transaction: cases/derived.py
    return event


def _lock(case: Case) -> Case:
    """The case's row, fresh and locked until the transaction ends (FOR UPDATE on PostgreSQL; on
    SQLite the IMMEDIATE transaction already holds the write lock), with its two units. Every
    action and change reads it: its SQL is compiled once per process (`kept`), not per call."""
    found = kept.instances(("workflow.lock",), lambda values: Case.objects.select_for_update(of=("self",))
                           .select_related("owner_unit", "unit").filter(pk=values[0]), [case.pk])
    if not found:
        raise Case.DoesNotExist(f"No case with id {case.pk}.")
    return found[0]


@contextmanager
def change(
    case: Case,
    action: str,
    *,
    actor: User | None,
    source: str,
    comment: str = "",
    ip: str | None = None,
    at: datetime | None = None,
    locked: bool = False,
) -> Iterator[Step]:
    """A change of a case that is not a transition of its state — a rule's effects, a repeat
    link, an attachment, a derived field — as one timeline event `action`:

        with workflow.change(case, "attach", actor=user, source="web") as step:
            step.note("attachment", {...})

    With `locked=True` the caller already holds the case row locked in its transaction (the
    workflow itself, running rules after an action); otherwise the row is locked here, in a
    transaction of its own (or a savepoint of the caller's), and `step.case` is the fresh row.
    The version goes up only when a field changed. Raising inside the block changes nothing."""
    with nullcontext() if locked else transaction.atomic():
        locked_case = case if locked else _lock(case)
        step = Step(case=locked_case, actor=actor, now=at or timezone.now(), cfg=config_for(locked_case.policy_id))
        yield step
        _write(step, action, from_state="", to_state="", comment=comment, source=source, ip=ip, bump=False)


_EVENT_FIELDS = ("case", "action", "actor", "at", "from_state", "to_state", "changes", "comment", "source", "ip")


def record_events(rows: Iterable[tuple[int, str, dict[str, list[Any]]]], *, at: datetime, source: str) -> int:
    """Timeline entries `(case_id, action, changes)` of many cases at once that change no field of
    them — a deadline breached, found by the worker. Written in bulk inside the caller's
    transaction (a lean INSERT: a pass may breach thousands); no version bump (nothing a reader
    could overwrite changed, so a form opened before the breach still saves)."""
    return insert_rows(Event, _EVENT_FIELDS, [
        (case_id, action, None, at, "", "", changes, "", source, None) for case_id, action, changes in rows
    ])


# --- notifications written after the change ------------------------------------------------------

# During intake the case number is handed out last (its lock serialises intakes), so the
# notifications that name the case wait for it: `_later` queues them here while one is open.
_held: contextvars.ContextVar[list[Callable[[], object]] | None] = contextvars.ContextVar("held", default=None)


def _later(send: Callable[[], object]) -> None:
    held = _held.get()
    if held is None:
        send()
    else:
        held.append(send)


@contextmanager
def _holding_notices() -> Iterator[list[Callable[[], object]]]:
    held: list[Callable[[], object]] = []
    token = _held.set(held)
    try:
        yield held
    finally:
        _held.reset(token)


# --- rules (DESIGN §5) ----------------------------------------------------------------------------


def rules_apply(case: Case, *, trigger: str, now: datetime | None = None, only: list[Rule] | None = None) -> list[str]:
    """Evaluate the case's policy rules for `trigger` and apply those that match and have not
    fired on this case before, each as one `rule` event. The caller holds the case row locked in
    a transaction; the unique RuleHit row makes a rule fire at most once per case even with
    several workers. Returns the names of the rules that fired."""
    if case.state in FINAL_STATES and trigger != "change":
        return []
    now = now or timezone.now()
    cfg = config_for(case.policy_id)
    rules = [r for r in (only if only is not None else cfg.rules) if trigger in r.on]
    if not rules:
        return []
    # a case just registered has no rule hits yet
    fired_before = set() if trigger == "intake" else {rule for (rule,) in kept.rows(
        ("workflow.rule_hits",), lambda values: RuleHit.objects.filter(case_id=values[0]).values_list("rule"), [case.pk])}
    fired: list[str] = []
    facts = None
    for rule in rules:
        if rule.name in fired_before:
            continue
        if facts is None:
            facts = grading.facts_for(case, now)
        if not matches(rule.when, facts):
            continue
        with change(case, "rule", actor=None, source="rules", comment=rule.name, at=now, locked=True) as step:
            step.note("rule", rule.name)
            for notice in grading.apply_effects(step, rule):
                _later(notice)
            RuleHit.objects.create(case=case, rule=rule.name, at=now)
        fired.append(rule.name)
        facts = None  # effects may change what later rules see
    return fired


# --- intake ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Intake:
    """What the intake of a new case checks and reads before its transaction (`register_prepare`):
    nothing here needs a lock, so none is held while it runs (SQLite's one write lock, the day's
    number on PostgreSQL)."""

    cfg: PolicyConfig
    previous: Case | None  # the customer's recently closed case: this one repeats it (重复投诉)
    row: list[Any]  # the case row's values (`db.insert_values`): hashed, sealed and encoded before the lock
    clocks: list[Timer]  # its first clocks (`deadlines.first_clocks`), their deadlines computed


def register_prepare(case: Case) -> Intake:
    """The part of `register` that writes nothing: the policy's required registration fields
    (BadInput), the organisation's region, the customer's recent case, and the values of the
    case's row (identity hashed and sealed, JSON encoded). Call it before the intake's
    transaction, change nothing of the case after it, and hand the result to `register`."""
    cfg = config_for(case.policy_id)
    missing = {name: "required by the policy" for name in cfg.required("registration")
               if getattr(case, inputs.REGISTRATION_FIELDS.get(name, name), None) in (None, "", [])}
    if missing:
        raise BadInput("The policy requires these registration fields: " + ", ".join(sorted(missing)), fields=missing)
    if not case.region and cfg.region:
        case.region = cfg.region  # the organisation is one region (a provincial branch is one province)
    case.number = "~" + secrets.token_hex(9)  # a unique placeholder until `register` numbers it
    case.hash_identity()
    derived.preparing(case)  # what the derived data's writers can compute before the lock
    clocks = deadlines.first_clocks(case, cfg=cfg)
    if clocks:  # the first deadline, in the row from the start
        first = min(clocks, key=lambda t: t.due_at)
        case.next_due_at, case.next_remind_at = first.due_at, first.remind_at
    return Intake(cfg=cfg, previous=grading.latest_closed_of_customer(case, cfg.repeat_days),
                  row=insert_values(case), clocks=clocks)


def register(case: Case, *, actor: User, number: Callable[[Case | None], str], source: str, ip: str | None,
             now: datetime, prepared: Intake | None = None) -> None:
    """受理: a new case (unsaved) enters the workflow: checked against the policy's required
    registration fields, saved with its first clocks (dispatch, and the end-to-end clock when the
    policy has one) and its `register` event, linked to the customer's recent case (重复投诉),
    graded by the intake rules, and announced. Runs inside the intake's transaction; what needs
    no lock comes from `prepared` (`register_prepare`, called before the transaction; here when
    it was not).

    The case number comes from `number(into)` (`services.next_case_number`), whose lock on the
    day's count serialises intakes of a day and kind until the transaction commits. Where other
    transactions go on beside that lock (PostgreSQL), it is taken last, `number(case)` writing
    the number into the saved row (whose first deadline, `next_due_at` and `next_remind_at`, the
    INSERT already wrote: `register_prepare` computed it). On SQLite the transaction already holds the one write lock of
    the whole database from its first statement, so the order inside it changes nothing for
    the others: `number(None)` is taken first and the row is written once, numbered (one UPDATE
    fewer, and the number's index written once)."""
    prepared = prepared or register_prepare(case)
    number_first = connection.vendor == "sqlite"  # the connection `number` runs on (services.next_case_number)
    with _holding_notices() as held:
        # a new row: the lean INSERT (huiyin/db.py), as Case.save() would write it, of the values
        # `register_prepare` computed, its first deadline included (with a placeholder number
        # where it is numbered below)
        row = prepared.row
        if number_first:
            case.number = number(None)
            row = list(row)
            row[insert_position(Case, "number")] = case.number
        insert_one(case, values=row)
        timers = prepared.clocks
        deadlines.first_clocks_write(case, timers)
        case._timers_touched = False  # type: ignore[attr-defined]
        registered = Event(
            case=case, action="register", actor=actor, at=now, to_state=case.state, source=source, ip=ip,
            changes={
                "kind": [None, case.kind], "channel": [None, case.channel],
                "owner_unit": [None, case.owner_unit.code], "policy": [None, f"{case.policy.name}@{case.policy.version}"],
            },
        )
        insert_one(registered)
        if prepared.previous is not None:
            with change(case, "repeat", actor=None, source="rules", at=now, locked=True) as step:
                grading.mark_repeat(step, prepared.previous)
        rules_apply(case, trigger="intake", now=now)
        started = obligations_apply(case, now=now)
        # derived data (the search index) of the new case: cases/derived.py; before the number,
        # which it does not read, so that the number's lock is held for as little as possible
        derived.written(case, registered)
        if not number_first:
            case.number = number(case)  # written into the saved row (services.next_case_number)
    # What a reader of the new case would read back (cases.selectors): nothing links to it yet.
    case._known = {"timers": timers + started, "links": [], "co_units": []}  # type: ignore[attr-defined]
    case._co_units = []  # type: ignore[attr-defined]  # a new case has no co-handling unit yet
    # Group robots and webhooks hear of a new case from the worker's fan-out, which reads them
    # (`notify.enqueue`'s machines_later): the intake neither reads them nor writes their messages.
    notifications.notify_event(case, "case.created", dedupe=f"case.created:{case.number}", actor=str(actor),
                               actor_id=actor.pk if actor is not None else None, machines_later=True)
    for send in held:
        send()
    if case.severity == Severity.MAJOR:
        notifications.notify_event(case, "case.major_opened", dedupe=f"case.major_opened:{case.number}",
                                   machines_later=True)


def obligations_apply(case: Case, *, now: datetime) -> list[Timer]:
    """Start the policy's obligations whose condition now holds and whose anchor has happened
    (once per handling cycle), e.g. a major case's plan filed with head office within 3 working
    days of closing. The caller holds the case row locked in a transaction."""
    cfg = config_for(case.policy_id)
    if not cfg.obligations:
        return []
    started: list[Timer] = []
    facts = None
    for ob in cfg.obligations:
        if deadlines.anchor_time(case, ob.anchor, at=now, strict=True) is None:
            continue
        if ob.when is not None:
            facts = facts or grading.facts_for(case, now)
            if not matches(ob.when, facts):
                continue
        timer = deadlines.obligation_start(case, ob, at=now, cfg=cfg)
        if timer is not None:
            started.append(timer)
    if started:
        with change(case, "oblige", actor=None, source="rules", at=now, locked=True) as step:
            step.note("obligations", [{"code": t.code, "role": t.role, "due_at": _plain(t.due_at)} for t in started])
    return started


# --- the actions' table --------------------------------------------------------------------------


class Side(enum.StrEnum):
    """Which of the case's units the acting role must cover."""

    OWNER = "owner"  # the registering centre's line (受理单位 and its ancestors)
    UNIT = "unit"  # the handling unit (承办单位)
    CO = "co"  # a co-handling unit (协办) of the current round
    EITHER = "either"  # any of them


Guard = Callable[[Case, PolicyConfig], str | None]
"""A precondition on the case: the reason it fails (→ InvalidTransition, 409), or None."""
ActorGuard = Callable[[User, Case, PolicyConfig], CaseError | None]
"""A check that depends on who acts (which level of 答复审核, which co-unit): the error to raise
(its message makes a 403 or 409 in perform, and hides the action in allowed_actions), or None."""
Run = Callable[["Step", Any], None]


@dataclass(frozen=True)
class Action:
    name: str
    sources: frozenset[str]
    roles: tuple[str, ...]
    side: Side
    run: Run
    guard: Guard | None = None
    actor_guard: ActorGuard | None = None

    @property
    def input(self) -> type[inputs.ActionBase]:
        """The action's request body (cases.inputs)."""
        return inputs.ACTION_INPUTS[self.name]


ACTIONS: dict[str, Action] = {}
"""Every workflow action by name, in the order of the workflow (filled by `@action` below)."""

_F = TypeVar("_F", bound=Run)


def action(
    name: str,
    *,
    sources: Iterable[str],
    roles: Iterable[str],
    side: Side,
    guard: Guard | None = None,
    actor_guard: ActorGuard | None = None,
) -> Callable[[_F], _F]:
    """Declare the decorated `_do_<name>(step, params)` as workflow action `name`: allowed from
    `sources`, to `roles` over the `side` of the case, when `guard` (and `actor_guard`) pass."""

    def declare(run: _F) -> _F:
        if name in ACTIONS:
            raise RuntimeError(f"action {name} declared twice")
        if name not in inputs.ACTION_INPUTS:
            raise RuntimeError(f"action {name} has no input model in cases.inputs.ACTION_INPUTS")
        ACTIONS[name] = Action(name, frozenset(sources), tuple(roles), side, run, guard, actor_guard)
        return run

    return declare


def co_handlings(case: Case) -> list[CoHandling]:
    """The active co-handlings (协办) of the case's current round, with their units, in the order
    they were given (read on every action and case page: SQL compiled once per process, `kept`;
    once for a whole `reading`)."""
    return _read_once(case, "co_handlings", lambda: kept.instances(
        ("workflow.co_handlings",), lambda values: CoHandling.objects.filter(
            case_id=values[0], cycle=values[1], round=values[2], active=True).select_related("unit").order_by("id"),
        [case.pk, case.cycle, case.round]))


def _co_units(case: Case) -> list[Unit]:
    """The active co-handling units of the case's current round (cached on the instance)."""
    cached: list[Unit] | None = getattr(case, "_co_units", None)
    if cached is None:
        cached = [co.unit for co in co_handlings(case)]
        case._co_units = cached  # type: ignore[attr-defined]
    return cached


def _holds(user: User, case: Case, side: Side, roles: Iterable[str]) -> bool:
    """Whether the user holds one of `roles` over the case's units on `side`.

    The co-handling units cost a query (the first time per case instance); it is made only when
    the answer depends on it: the owner's and handling unit's roles did not already give a
    wanted role, and the user holds a wanted role somewhere (else no co-unit can give one)."""
    wanted = set(roles)
    if side == Side.OWNER:
        return bool(roles_over(user, case.owner_unit) & wanted)
    if side == Side.UNIT:
        return bool(roles_over(user, case.unit) & wanted)
    if side == Side.EITHER and (roles_over(user, case.owner_unit) | roles_over(user, case.unit)) & wanted:
        return True
    if not roles_of(user) & wanted:
        return False
    return any(roles_over(user, unit) & wanted for unit in _co_units(case))


def may(user: User, case: Case, action: Action) -> bool:
    """Whether the user holds one of the action's roles over the right unit of the case."""
    return _holds(user, case, action.side, action.roles)


def allowed_actions(user: User, case: Case) -> list[str]:
    """The actions `user` may perform on `case` right now (role, state and preconditions)."""
    cfg = config_for(case.policy_id)
    result = []
    with reading(case):
        for action in ACTIONS.values():
            if (
                case.state in action.sources
                and may(user, case, action)
                and (action.guard is None or action.guard(case, cfg) is None)
                and (action.actor_guard is None or action.actor_guard(user, case, cfg) is None)
            ):
                result.append(action.name)
    return result


@contextmanager
def reading(case: Case) -> Iterator[None]:
    """A read of the case in which nothing changes it (the case page's and the API's answer,
    `selectors.case_facts`; `allowed_actions`): what several parts ask of the database is asked
    once — the co-handlings (their deadlines, `may`, the co-units' own guards), the waiting
    extension request (three guards and its approver's role). Outside a reading, in `perform`,
    every guard asks afresh. Readings nest: the outermost one keeps the answers."""
    if getattr(case, "_reads", None) is not None:
        yield
        return
    case._reads = {}  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del case._reads  # type: ignore[attr-defined]


def _read_once[T](case: Case, key: str, read: Callable[[], T]) -> T:
    """`read()`, or its answer already given in this `reading` of the case."""
    reads: dict[str, Any] | None = getattr(case, "_reads", None)
    if reads is None:
        return read()
    if key not in reads:
        reads[key] = read()
    return cast("T", reads[key])


def possible(user: User, case: Case, names: Iterable[str]) -> set[str]:
    """Which of `names` the user may take on the case now, by the table and the case guards (a
    cheaper `allowed_actions` for the rows of a board)."""
    cfg = config_for(case.policy_id)
    out = set()
    for name in names:
        action = ACTIONS.get(name)
        if action is None or case.state not in action.sources or not may(user, case, action):
            continue
        if action.guard is None or action.guard(case, cfg) is None:
            out.add(name)
    return out


def perform(
    case: Case,
    action_name: str,
    *,
    actor: User,
    data: dict[str, Any] | None = None,
    source: str = "api",
    ip: str | None = None,
) -> Case:
    """Perform `action_name` on `case` for `actor` and return the updated case.

    Raises Forbidden (403) when the actor's roles do not allow the action,
    BadInput (422) for wrong data, Conflict (409) when `expected_version` is stale,
    InvalidTransition (409) when the state or a precondition does not allow it.
    Repeating an action is never silently a no-op: the second call meets the new
    state and gets InvalidTransition (except urge, link and compensate, which record
    again).
    """
    action = ACTIONS.get(action_name)
    if action is None:
        raise BadInput(f"Unknown action {action_name!r}.", fields={"action": "unknown action"})
    params = inputs.parse(action.input, {} if data is None else data)  # `[]`, `""`, `0`: 422
    with transaction.atomic(durable=True):
        locked = _lock(case)
        # A role the action needs, held anywhere over the case → else 403; then the
        # version and the state (409); then the role over the right unit (403).
        if not _holds(actor, locked, Side.EITHER, action.roles):
            raise Forbidden(f"You may not {action_name} this case.")
        if params.expected_version is not None and params.expected_version != locked.version:
            raise Conflict(
                f"The case changed (version {locked.version}, you had {params.expected_version}); reload it.",
            )
        if locked.state not in action.sources:
            raise InvalidTransition(f"Cannot {action_name} a case in state {locked.state}.")
        cfg = config_for(locked.policy_id)
        if not may(actor, locked, action):
            raise Forbidden(f"You may not {action_name} this case.")
        if locked.recusal and is_respondent(actor, locked):
            raise Forbidden("回避: the complained-about person may not act on this case.")
        if action.actor_guard is not None and (why := action.actor_guard(actor, locked, cfg)) is not None:
            raise why
        if action.guard is not None and (reason := action.guard(locked, cfg)) is not None:
            raise InvalidTransition(reason)
        if missing := inputs.missing_required(params, cfg.required(action_name)):
            raise BadInput("The policy requires these fields: " + ", ".join(sorted(missing)), fields=missing)
        step = Step(case=locked, actor=actor, now=timezone.now(), cfg=cfg)
        from_state = locked.state
        action.run(step, params)
        _write(step, action_name, from_state=from_state, to_state=locked.state, comment=params.comment,
               source=source, ip=ip, bump=True)
        _notices_after(locked, action_name, actor=actor, now=step.now)
        events = notifications.events_for_action(action_name, from_state, locked)
        changed = notifications.changed_text(step.changes) if events else ""
        for event in events:
            # the unit is told the dispatcher's instructions; others the actor's comment
            note = locked.instructions if event == "case.dispatched" and locked.instructions else params.comment
            notifications.notify_event(
                locked, event, dedupe=f"{event}:{locked.number}:v{locked.version}",
                actor=str(actor), note=note, actor_id=actor.pk, changed=changed,
            )
        rules_apply(locked, trigger="change", now=step.now)
        obligations_apply(locked, now=step.now)
    return locked


# --- shared moves ----------------------------------------------------------------------------------

ANY_OPEN = tuple(OPEN_STATES)
CENTRE = (Role.DISPATCHER,)
LEADER = (Role.LEADER,)


def _enter_dispatched(step: Step, unit: Unit, instructions: str, co_units: list[Unit] | None = None) -> None:
    """The case reaches a unit (and its co-handling units, for a joint case): the centre's
    dispatch stage ends, each unit's stages start — counted from the dispatch, from receipt, or
    (a clock with `from: acknowledge`) once the unit acknowledges."""
    _check_recusal(step, unit, co_units or [])
    step.set("state", S.DISPATCHED)
    step.set_unit("unit", unit)
    step.set_unit("proposed_unit", None)
    step.set("proposed_co_units", [])
    step.set("instructions", instructions)
    step.set("approval_level", 0)
    step.set("awaiting", "")
    step.set("dispatched_at", step.now.replace(microsecond=0))
    step.set("acknowledged_at", None)
    step.set("result_at", None)
    deadlines.timer_stop(step.case, ("dispatch",), at=step.now)
    deadlines.timer_cancel(step.case, ("acknowledge", "first_contact", "resolve", "feedback", "callback"), at=step.now)
    for code in ("acknowledge", "first_contact", "resolve"):
        deadlines.timer_start(step.case, code, at=step.now, cfg=step.cfg)
    _set_co_units(step, co_units or [])


def _check_recusal(step: Step, unit: Unit, co_units: list[Unit]) -> None:
    """回避: under a rule's `recuse` effect the complained-about unit (or a unit under it) never
    handles the case."""
    respondent = step.case.respondent_unit
    if not step.case.recusal or respondent is None:
        return
    for target in (unit, *co_units):
        if target.is_within(respondent):
            raise BadInput(f"回避: {target.code} is the complained-about unit {respondent.code} or under it; "
                           "dispatch the case to another unit.", fields={"unit": "the complained-about unit (回避)"})


def _set_co_units(step: Step, co_units: list[Unit]) -> None:
    case = step.case
    old = list(CoHandling.objects.filter(case=case, active=True).values_list("unit__code", flat=True))
    CoHandling.objects.filter(case=case, active=True).update(active=False)
    if old:
        deadlines.co_timers_cancel(case, at=step.now)
    for unit in co_units:
        CoHandling.objects.update_or_create(case=case, unit=unit, cycle=case.cycle, round=case.round,
                                            defaults={"active": True})
        for code in ("acknowledge", "resolve"):
            deadlines.timer_start(case, code, at=step.now, cfg=step.cfg, unit=unit)
    case._co_units = list(co_units)  # type: ignore[attr-defined]
    new = [u.code for u in co_units]
    if old != new:
        step.changes["co_units"] = [old, new]


def _co_targets(step: Step, codes: list[str], lead: Unit) -> list[Unit]:
    units: list[Unit] = []
    for code in codes:
        unit = _target_unit(step, code, field_name="co_units")
        if unit.pk == lead.pk or unit in units:
            raise BadInput("Co-handling units must differ from the lead unit and from each other.",
                           fields={"co_units": "duplicate unit"})
        units.append(unit)
    return units


def _finish(step: Step, reason: CloseReason, *, at: datetime | None = None) -> None:
    """The case ends (办结): the stages that were waiting for this end are done (met or late), the
    end-to-end clock stops, every other running clock is abandoned; no approval is awaited."""
    at = at or step.now
    step.set("state", S.CLOSED)
    step.set("close_reason", reason)
    step.set("closed_at", at)
    step.set("awaiting", "")
    deadlines.timer_stop(step.case, ("dispatch", "callback", "decision", "appeal", deadlines.END_TO_END), at=at)
    deadlines.timer_cancel(step.case, None, at=at)
    deadlines.co_timers_cancel(step.case, at=at)


def _target_unit(step: Step, code: str, *, field_name: str = "unit") -> Unit:
    assert step.actor is not None
    unit = unit_for(step.actor, code)
    if unit is None:
        raise BadInput(f"Unknown unit {code!r}.", fields={field_name: "unknown unit code"})
    return unit


def _other_case(step: Step, number: str, field_name: str) -> Case:
    from .access import case_for

    assert step.actor is not None
    other = case_for(step.actor, number)
    if other is None:
        raise BadInput(f"Unknown case {number!r}.", fields={field_name: "unknown case number"})
    if other.pk == step.case.pk:
        raise BadInput("A case cannot refer to itself.", fields={field_name: "same case"})
    return other


# --- the actions, in the order of the workflow ---------------------------------------------------


# --- approval chains (批示, 方案审批, 复审): the roles the policy names, level by level ---------------


def _appeal_pending(case: Case) -> bool:
    """An appeal (复审/核实) waits for its reviewers: appealed, and not yet handled again in this cycle."""
    return case.appeal and case.state == S.PENDING_APPROVAL and case.dispatched_at is None


def _chain(case: Case, cfg: PolicyConfig) -> list[str]:
    """The approval chain the case is in: its appeal's reviewers, its kind's dispatch approvers
    (批示 before dispatch), or the plan approvers (方案审批)."""
    if case.state == S.PLAN_APPROVAL:
        return cfg.plan_chain
    if _appeal_pending(case):
        return cfg.appeal_chain
    return cfg.dispatch_chain(case.kind)


def _enter_chain(step: Step, chain: list[str]) -> None:
    step.set("approval_level", 0)
    step.set("awaiting", chain[0] if chain else "")


def _actor_at_level(user: User, case: Case, cfg: PolicyConfig) -> CaseError | None:
    """The approver of the chain's current level decides (a built-in or a policy role)."""
    chain = _chain(case, cfg)
    role = chain[case.approval_level] if case.approval_level < len(chain) else None
    if role is None or not holds(user, case, role, cfg):
        return Forbidden(f"Approval level {case.approval_level + 1} belongs to the {role} role.")
    return None


@action("approve", sources=(S.PENDING_APPROVAL,), roles=STAFF, side=Side.EITHER, actor_guard=_actor_at_level)
def _do_approve(step: Step, p: inputs.ApproveIn) -> None:
    """批示: the chain's approver lets the proposed dispatch go ahead — choosing or changing the
    handling unit (and co-handling units) as they approve; the last level dispatches."""
    case = step.case
    if p.unit is not None:
        step.set_unit("proposed_unit", _target_unit(step, p.unit))
    if p.co_units is not None:
        lead = case.proposed_unit or case.unit
        step.set("proposed_co_units", [u.code for u in _co_targets(step, p.co_units, lead)] if lead else p.co_units)
    chain = _chain(case, step.cfg)
    step.note("level", case.approval_level + 1)
    if case.approval_level + 1 < len(chain):
        step.set("approval_level", case.approval_level + 1)
        step.set("awaiting", chain[case.approval_level])
        return
    unit = case.proposed_unit or case.unit
    if unit is None:
        raise BadInput("Choose the handling unit (unit) to approve the dispatch.", fields={"unit": "required"})
    by_code = Unit.objects.filter(code__in=case.proposed_co_units, active=True).in_bulk(field_name="code")
    co_units = [by_code[c] for c in case.proposed_co_units if c in by_code]
    if _appeal_pending(case):
        # the appeal is upheld: the case is handled again, on the clocks of a new handling
        deadlines.timer_stop(case, ("appeal",), at=step.now)
        deadlines.timer_start(case, deadlines.END_TO_END, at=step.now, cfg=step.cfg)
    _enter_dispatched(step, unit, case.instructions, co_units)


@action("reject", sources=(S.PENDING_APPROVAL, S.PLAN_APPROVAL), roles=STAFF, side=Side.EITHER,
        actor_guard=_actor_at_level)
def _do_reject(step: Step, p: inputs.ActionBase) -> None:
    step.set("approval_level", 0)
    step.set("awaiting", "")
    if step.case.state == S.PLAN_APPROVAL:
        step.set("state", S.ACCEPTED)
        deadlines.timer_cancel(step.case, ("feedback",), at=step.now)
        deadlines.timer_start(step.case, "resolve", at=step.now, cfg=step.cfg)
    elif _appeal_pending(step.case):
        # The reviewer (the GM, the upper-level branch) upholds the original decision: final.
        _finish(step, CloseReason.APPEAL_REJECTED)
    else:
        step.set("state", S.REGISTERED)
        step.set_unit("proposed_unit", None)


@action("mark_invalid", sources=(S.REGISTERED, S.RETURNED), roles=CENTRE, side=Side.OWNER)
def _do_mark_invalid(step: Step, p: inputs.MarkInvalidIn) -> None:
    step.set("state", S.INVALID)
    step.set("validity", Validity.INVALID)
    step.set("invalid_code", str(p.reason_code))
    step.set("invalid_reason", p.reason)
    step.set("reply", p.explanation or step.case.reply)
    step.set("close_reason", CloseReason.INVALID)
    step.set("closed_at", step.now)
    deadlines.timer_stop(step.case, ("dispatch",), at=step.now)
    deadlines.timer_cancel(step.case, None, at=step.now)


@action("resolve_on_spot", sources=(S.REGISTERED,), roles=(Role.AGENT, Role.DISPATCHER), side=Side.OWNER)
def _do_resolve_on_spot(step: Step, p: inputs.ResolveOnSpotIn) -> None:
    step.set("reply", p.reply)
    step.set("validity", Validity.VALID)
    if step.cfg.workflow.get("callback_on_spot", False):
        step.set("state", S.PENDING_CALLBACK)
        deadlines.timer_stop(step.case, ("dispatch",), at=step.now)
        deadlines.timer_start(step.case, "callback", at=step.now, cfg=step.cfg)
    else:
        _finish(step, CloseReason.RESOLVED_ON_SPOT)


def _guard_dispatch(case: Case, cfg: PolicyConfig) -> str | None:
    if case.return_disputed:
        return "The return is disputed; the supervisor decides first (派单异议审核)."
    return None


@action("dispatch", sources=(S.REGISTERED, S.RETURNED), roles=CENTRE, side=Side.OWNER, guard=_guard_dispatch)
def _do_dispatch(step: Step, p: inputs.DispatchIn) -> None:
    unit = _target_unit(step, p.unit)
    co_units = _co_targets(step, p.co_units, unit)
    step.set("validity", Validity.VALID)
    case = step.case
    if case.requires_approval or step.cfg.approval_before_dispatch(
        case.kind, severity=case.severity, channel=case.channel
    ):
        _check_recusal(step, unit, co_units)
        step.set("state", S.PENDING_APPROVAL)
        step.set_unit("proposed_unit", unit)
        step.set("proposed_co_units", [u.code for u in co_units])
        step.set("instructions", p.instructions)
        _enter_chain(step, step.cfg.dispatch_chain(case.kind))
    else:
        _enter_dispatched(step, unit, p.instructions, co_units)


@action("acknowledge", sources=(S.DISPATCHED,), roles=HANDLERS, side=Side.UNIT)
def _do_acknowledge(step: Step, p: inputs.ActionBase) -> None:
    step.set("state", S.ACCEPTED)
    step.set("acknowledged_at", step.now.replace(microsecond=0))
    deadlines.timer_stop(step.case, ("acknowledge",), at=step.now)
    # clocks that count from the unit's acknowledgement (`from: acknowledge`) start now
    for code in deadlines.anchored_on(step.case, ("first_contact", "resolve"), "acknowledge", step.cfg):
        deadlines.timer_start(step.case, code, at=step.now, cfg=step.cfg)


@action("return", sources=(S.DISPATCHED, S.ACCEPTED), roles=HANDLERS, side=Side.UNIT)
def _do_return(step: Step, p: inputs.ReasonIn) -> None:
    step.set("state", S.RETURNED)
    step.note("return_reason", p.reason)
    step.note("returned_by_unit", step.case.unit.code if step.case.unit else None)
    deadlines.timer_cancel(step.case, ("acknowledge", "first_contact", "resolve"), at=step.now)
    deadlines.co_timers_cancel(step.case, at=step.now)
    deadlines.timer_start(step.case, "dispatch", at=step.now, cfg=step.cfg)


def _pending_extension(case: Case) -> Extension | None:
    """The extension request waiting for a decision (at most one: `_guard_request_extension`)."""
    return _read_once(case, "pending_extension", lambda: next(iter(kept.instances(
        ("workflow.pending_extension",), lambda values: Extension.objects.filter(
            case_id=values[0], status=ExtensionStatus.REQUESTED).order_by("id")[:1], [case.pk])), None))


def _clock_running(case: Case, code: str) -> bool:
    """Whether the case's own clock `code` runs (not a co-handling unit's): the guards of
    record_contact and request_extension ask it. In a `reading`, every running code is read once."""
    return code in _read_once(case, "running_clocks", lambda: deadlines.open_codes(case))


def _has_pending_extension(case: Case) -> bool:
    return _pending_extension(case) is not None


def _guard_request_extension(case: Case, cfg: PolicyConfig) -> str | None:
    if _has_pending_extension(case):
        return "An extension request is already waiting for a decision."
    if not _clock_running(case, cfg.extension_timer):
        return f"The case has no running {cfg.extension_timer} deadline to extend."
    return None


@action("request_extension", sources=(S.ACCEPTED, S.SUSPENDED), roles=HANDLERS, side=Side.UNIT,
        guard=_guard_request_extension)
def _do_request_extension(step: Step, p: inputs.ExtensionIn) -> None:
    """延期: the unit asks for more time on the policy's extension clock (resolve, or the case's
    end-to-end clock); the tier the extended deadline falls in names who decides (e.g. up to 30
    days the leader, up to 60 a senior manager)."""
    code = step.cfg.extension_timer
    tier, ceiling = deadlines.extension_tier(step.case, code, amount=p.amount, unit=p.unit, cfg=step.cfg)
    if tier is None and step.cfg.extension_tiers:
        limit = step.cfg.extension_max
        raise BadInput(
            f"The extension would pass the policy maximum ({limit[0]} {limit[1]} from the start, "
            f"i.e. {timezone.localtime(ceiling):%Y-%m-%d %H:%M})." if limit and ceiling else "Extension not allowed.",
            fields={"amount": "beyond the policy maximum"},
        )
    assert step.actor is not None  # an action always has an actor
    approver = tier.approver if tier else "leader"
    ext = Extension.objects.create(
        case=step.case, round=step.case.round, amount=p.amount, unit=p.unit, reason=p.reason,
        requested_by=step.actor, requested_at=step.now, timer=code, approver=approver,
    )
    step.note("extension", {"id": ext.pk, "amount": p.amount, "unit": p.unit, "reason": p.reason, "timer": code,
                            "approver": approver})


def _guard_pending_extension(case: Case, cfg: PolicyConfig) -> str | None:
    return None if _has_pending_extension(case) else "No extension request is waiting for a decision."


def _actor_extension_approver(user: User, case: Case, cfg: PolicyConfig) -> CaseError | None:
    ext = _pending_extension(case)
    if ext is not None and not holds(user, case, ext.approver, cfg):
        return Forbidden(f"This extension is decided by the {ext.approver} role.")
    return None


def _decide_extension(step: Step, status: str) -> Extension:
    ext = Extension.objects.select_for_update().get(case=step.case, status=ExtensionStatus.REQUESTED)
    ext.status, ext.decided_by, ext.decided_at = status, step.actor, step.now
    ext.save(update_fields=["status", "decided_by", "decided_at"])
    return ext


EXTENSION_DECIDED_IN = (S.ACCEPTED, S.SUSPENDED, S.RESULT_SUBMITTED, S.PLAN_APPROVAL)


@action("grant_extension", sources=EXTENSION_DECIDED_IN, roles=STAFF, side=Side.EITHER,
        guard=_guard_pending_extension, actor_guard=_actor_extension_approver)
def _do_grant_extension(step: Step, p: inputs.ActionBase) -> None:
    ext = _decide_extension(step, ExtensionStatus.GRANTED)
    fits, _ = deadlines.extension_fits(step.case, ext.timer, amount=ext.amount, unit=ext.unit, cfg=step.cfg)
    if not fits:
        raise InvalidTransition("The extension no longer fits within the policy maximum.")
    timer = deadlines.timer_extend(step.case, ext.timer, amount=ext.amount, unit=ext.unit, cfg=step.cfg)
    key = "resolve_due_at" if ext.timer == "resolve" else f"{ext.timer}_due_at"
    step.note("extension", {"id": ext.pk, "status": "granted", key: _plain(timer.due_at)})


@action("refuse_extension", sources=EXTENSION_DECIDED_IN, roles=STAFF, side=Side.EITHER,
        guard=_guard_pending_extension, actor_guard=_actor_extension_approver)
def _do_refuse_extension(step: Step, p: inputs.ActionBase) -> None:
    ext = _decide_extension(step, ExtensionStatus.REFUSED)
    step.note("extension", {"id": ext.pk, "status": "refused"})


@action("suspend", sources=(S.ACCEPTED,), roles=HANDLERS, side=Side.UNIT)
def _do_suspend(step: Step, p: inputs.ReasonIn) -> None:
    step.set("state", S.SUSPENDED)
    step.note("suspend_reason", p.reason)
    deadlines.timers_pause(step.case, at=step.now)


@action("resume", sources=(S.SUSPENDED,), roles=(*HANDLERS, Role.DISPATCHER), side=Side.EITHER)
def _do_resume(step: Step, p: inputs.ActionBase) -> None:
    step.set("state", S.ACCEPTED)
    deadlines.timers_resume(step.case, at=step.now, cfg=step.cfg)


def _guard_contact(case: Case, cfg: PolicyConfig) -> str | None:
    if not _clock_running(case, "first_contact"):
        return "First contact is already recorded."
    return None


@action("record_contact", sources=(S.DISPATCHED, S.ACCEPTED, S.SUSPENDED), roles=HANDLERS, side=Side.UNIT,
        guard=_guard_contact)
def _do_record_contact(step: Step, p: inputs.ContactIn) -> None:
    step.note("contact_notes", p.notes)
    deadlines.timer_stop(step.case, ("first_contact",), at=step.now)


@action("submit_result", sources=(S.ACCEPTED,), roles=HANDLERS, side=Side.UNIT)
def _do_submit_result(step: Step, p: inputs.SubmitResultIn) -> None:
    """反馈: the unit's result (its investigation report and the reply). The fields the policy
    requires (`forms.submit_result.required`) are checked before this runs."""
    for name in ("cause", "course", "responsible_person", "conclusion", "countermeasures", "reply"):
        step.set(name, getattr(p, name))
    if p.liability:
        step.set("liability", p.liability)
    step.set("result_at", step.now.replace(microsecond=0))
    deadlines.timer_stop(step.case, ("resolve", "first_contact", "acknowledge"), at=step.now)
    # The lead unit's result closes the round: co-handling units' clocks stop counting.
    deadlines.co_timers_cancel(step.case, at=step.now)
    step.set("reply_level", 0)
    if step.cfg.plan_approval(step.case.severity):
        step.set("state", S.PLAN_APPROVAL)
        _enter_chain(step, step.cfg.plan_chain)
    else:
        _enter_result_submitted(step)


def _enter_result_submitted(step: Step) -> None:
    """The result waits for the centre's review — after its 答复审核 chain, if the policy has one."""
    step.set("state", S.RESULT_SUBMITTED)
    step.set("approval_level", 0)
    chain = step.cfg.reply_chain(step.case.kind)
    step.set("awaiting", chain[0] if chain else "")
    deadlines.timer_start(step.case, "feedback", at=step.now, cfg=step.cfg)


@action("approve_plan", sources=(S.PLAN_APPROVAL,), roles=STAFF, side=Side.EITHER, actor_guard=_actor_at_level)
def _do_approve_plan(step: Step, p: inputs.ActionBase) -> None:
    """方案审批: the plan climbs the policy's plan approval chain (the leader by default)."""
    chain = step.cfg.plan_chain
    step.note("level", step.case.approval_level + 1)
    if step.case.approval_level + 1 < len(chain):
        step.set("approval_level", step.case.approval_level + 1)
        step.set("awaiting", chain[step.case.approval_level])
        return
    _enter_result_submitted(step)


def _guard_reply_done(case: Case, cfg: PolicyConfig) -> str | None:
    chain = cfg.reply_chain(case.kind)
    if case.reply_level < len(chain):
        return f"The reply waits for approval level {case.reply_level + 1} ({chain[case.reply_level]}) first."
    return None


@action("review", sources=(S.RESULT_SUBMITTED,), roles=(Role.DISPATCHER, Role.AGENT), side=Side.OWNER,
        guard=_guard_reply_done)
def _do_review(step: Step, p: inputs.ReviewIn) -> None:
    deadlines.timer_stop(step.case, ("feedback",), at=step.now)
    step.note("accept", p.accept)
    step.set("awaiting", "")
    if p.accept:
        if step.cfg.callback_needed(kind=step.case.kind, number=step.case.number):
            step.set("state", S.PENDING_CALLBACK)
            step.set("satisfaction", "")
            step.set("callback_attempts", 0)
            deadlines.timer_start(step.case, "callback", at=step.now, cfg=step.cfg)
        else:
            _finish(step, CloseReason.NO_CALLBACK)  # not in the callback sample (or kind) of the policy
    else:
        step.set("state", S.ACCEPTED)
        deadlines.timer_start(step.case, "resolve", at=step.now, cfg=step.cfg)


def _guard_reply_pending(case: Case, cfg: PolicyConfig) -> str | None:
    if case.reply_level >= len(cfg.reply_chain(case.kind)):
        return "The reply needs no (more) approval."
    return None


def _actor_reply_level(user: User, case: Case, cfg: PolicyConfig) -> CaseError | None:
    chain = cfg.reply_chain(case.kind)
    role = chain[case.reply_level] if case.reply_level < len(chain) else None
    if role is None or not holds(user, case, role, cfg):
        return Forbidden(f"Approval level {case.reply_level + 1} belongs to the {role} role.")
    return None


# 答复审核: the reply climbs the policy's approval chain (per kind) before the centre reviews it.
@action("approve_reply", sources=(S.RESULT_SUBMITTED,), roles=STAFF, side=Side.EITHER, guard=_guard_reply_pending,
        actor_guard=_actor_reply_level)
def _do_approve_reply(step: Step, p: inputs.ReviewIn) -> None:
    chain = step.cfg.reply_chain(step.case.kind)
    step.note("level", step.case.reply_level + 1)
    step.note("accept", p.accept)
    if p.accept:
        step.set("reply_level", step.case.reply_level + 1)
        step.set("awaiting", chain[step.case.reply_level] if step.case.reply_level < len(chain) else "")
        step.note("chain", chain)
    else:
        # Sent back down the chain: the unit redrafts its reply.
        step.set("reply_level", 0)
        step.set("awaiting", "")
        step.set("state", S.ACCEPTED)
        deadlines.timer_cancel(step.case, ("feedback",), at=step.now)
        deadlines.timer_start(step.case, "resolve", at=step.now, cfg=step.cfg)


def _guard_callback(case: Case, cfg: PolicyConfig) -> str | None:
    if case.satisfaction and case.satisfaction != Satisfaction.UNREACHABLE:
        return "The callback is already recorded."
    return None


@action("callback", sources=(S.PENDING_CALLBACK,), roles=(Role.AGENT, Role.DISPATCHER), side=Side.OWNER,
        guard=_guard_callback)
def _do_callback(step: Step, p: inputs.CallbackIn) -> None:
    step.note("notes", p.notes)
    if p.satisfaction == Satisfaction.UNREACHABLE:
        step.set("callback_attempts", step.case.callback_attempts + 1)
        step.set("satisfaction", Satisfaction.UNREACHABLE)
        if step.case.callback_attempts >= step.cfg.unreachable_attempts:
            _finish(step, CloseReason.UNREACHABLE)
        return
    step.set("satisfaction", p.satisfaction)
    step.set("callback_attempts", step.case.callback_attempts + 1)
    deadlines.timer_stop(step.case, ("callback",), at=step.now)
    if p.satisfaction in SATISFIED and step.cfg.satisfied_decision:
        # The leader decides whether another round is needed (tobacco 二(三) 审查确定是否需进入二次
        # 派单阶段): the case waits for `close` or `redispatch` on the `decision` clock.
        step.set("awaiting", step.cfg.satisfied_decision[0])
        deadlines.timer_start(step.case, "decision", at=step.now, cfg=step.cfg)
    elif p.satisfaction in SATISFIED and not step.cfg.close_requires_signoff:
        _finish(step, CloseReason.CALLBACK)
    elif p.satisfaction == Satisfaction.UNSATISFIED:
        # The case waits in pending_callback for the centre's decision: 二次派单 (redispatch,
        # escalate in a later round) or a reasoned close — on the policy's `decision` clock.
        deadlines.timer_start(step.case, "decision", at=step.now, cfg=step.cfg)
    # Satisfied under a sign-off policy: the case waits for `close`.


def _guard_close(case: Case, cfg: PolicyConfig) -> str | None:
    if cfg.callback_required and case.satisfaction in ("", Satisfaction.UNREACHABLE):
        return "The customer has not been called back yet."
    return None


DECIDE_AFTER_UNSATISFIED = (Role.DISPATCHER, Role.SUPERVISOR)
CLOSERS = (Role.DISPATCHER, Role.AGENT, Role.SUPERVISOR)


def _decision_roles(case: Case, cfg: PolicyConfig) -> tuple[str, ...] | None:
    """Who decides a case waiting after its callback: the centre after an unsatisfied callback,
    the policy's `satisfied_decision` roles after a satisfied one; None when no decision is due."""
    if case.state != S.PENDING_CALLBACK:
        return None
    if case.satisfaction == Satisfaction.UNSATISFIED:
        return DECIDE_AFTER_UNSATISFIED
    if case.satisfaction in SATISFIED and cfg.satisfied_decision:
        return tuple(cfg.satisfied_decision)
    return None


def _actor_close(user: User, case: Case, cfg: PolicyConfig) -> CaseError | None:
    """After an unsatisfied callback the centre decides (二次派单 or a reasoned close), not the
    agent who called back; after a satisfied one, the roles the policy names (the leader), if any."""
    roles = _decision_roles(case, cfg) or CLOSERS
    if not any(holds(user, case, role, cfg) for role in roles):
        if case.satisfaction == Satisfaction.UNSATISFIED:
            return Forbidden("After an unsatisfied callback the dispatcher or the supervisor decides: "
                             "二次派单 or a reasoned close.")
        return Forbidden(f"The {' or '.join(roles)} role decides whether the case is closed.")
    return None


@action("close", sources=(S.PENDING_CALLBACK,), roles=STAFF, side=Side.OWNER, guard=_guard_close,
        actor_guard=_actor_close)
def _do_close(step: Step, p: inputs.CloseIn) -> None:
    if p.recourse:
        step.note("recourse", p.recourse)
    _finish(step, CloseReason.SIGNOFF)


def _next_round(step: Step, p: inputs.DispatchIn, round_no: int) -> None:
    unit = _target_unit(step, p.unit)
    co_units = _co_targets(step, p.co_units, unit)
    step.set("round", round_no)
    step.set("supervised", True)
    step.set("satisfaction", "")
    step.set("callback_attempts", 0)
    deadlines.timer_stop(step.case, ("decision",), at=step.now)
    deadlines.timer_cancel(step.case, ("feedback", "callback"), at=step.now)
    _enter_dispatched(step, unit, p.instructions, co_units)


def _guard_redispatch(case: Case, cfg: PolicyConfig) -> str | None:
    if case.round >= 2:
        return "The case is already in round 2 or later; escalate it (三次派单) instead."
    if case.state == S.PENDING_CALLBACK and _decision_roles(case, cfg) is None:
        return "Only an unsatisfied callback (or a rejected result) leads to 二次派单."
    return None


def _actor_redispatch(user: User, case: Case, cfg: PolicyConfig) -> CaseError | None:
    roles = _decision_roles(case, cfg) or DECIDE_AFTER_UNSATISFIED
    if not any(holds(user, case, role, cfg) for role in roles):
        return Forbidden(f"二次派单 is decided by the {' or '.join(roles)} role.")
    return None


@action("redispatch", sources=(S.PENDING_CALLBACK, S.RESULT_SUBMITTED), roles=STAFF, side=Side.OWNER,
        guard=_guard_redispatch, actor_guard=_actor_redispatch)
def _do_redispatch(step: Step, p: inputs.DispatchIn) -> None:
    _next_round(step, p, 2)


def _guard_escalate(case: Case, cfg: PolicyConfig) -> str | None:
    if case.round >= cfg.max_round:
        return f"The case is already in round {case.round}, the last the policy allows."
    return None


@action("escalate",
        sources=(S.DISPATCHED, S.ACCEPTED, S.SUSPENDED, S.RETURNED, S.RESULT_SUBMITTED, S.PENDING_CALLBACK),
        roles=(Role.SUPERVISOR, Role.DISPATCHER, Role.LEADER), side=Side.OWNER, guard=_guard_escalate)
def _do_escalate(step: Step, p: inputs.DispatchIn) -> None:
    # 三次派单: whatever round the case was in, it goes to leadership as round 3
    # (or the policy's last round, if that is lower).
    step.set("escalated", True)
    _next_round(step, p, min(3, step.cfg.max_round))


@action("urge", sources=ANY_OPEN, roles=(Role.AGENT, Role.DISPATCHER, Role.SUPERVISOR, Role.LEADER),
        side=Side.OWNER)
def _do_urge(step: Step, p: inputs.UrgeIn) -> None:
    step.set("urge_count", step.case.urge_count + 1)
    step.note("note", p.note)


@action("merge", sources=(S.REGISTERED, S.PENDING_APPROVAL, S.RETURNED, S.DISPATCHED, S.ACCEPTED), roles=CENTRE,
        side=Side.OWNER)
def _do_merge(step: Step, p: inputs.MergeIn) -> None:
    target = _other_case(step, p.into, "into")
    if not target.is_open:
        raise BadInput("Cannot merge into a closed case.", fields={"into": "case is closed"})
    step.set_case("merged_into", target)
    CaseLink.objects.get_or_create(case=step.case, to=target, defaults={"kind": "duplicate"})
    _finish(step, CloseReason.MERGED)


@action("link", sources=tuple(State), roles=(Role.AGENT, Role.DISPATCHER, Role.SUPERVISOR), side=Side.OWNER)
def _do_link(step: Step, p: inputs.LinkIn) -> None:
    target = _other_case(step, p.to, "to")
    _, created = CaseLink.objects.get_or_create(case=step.case, to=target, defaults={"kind": "related"})
    if not created:
        raise InvalidTransition(f"The case is already linked to {target.number}.")
    step.note("linked_to", target.number)


def _guard_reopen(case: Case, cfg: PolicyConfig) -> str | None:
    return "A merged case cannot be reopened; reopen the case it was merged into." if case.merged_into_id else None


def _new_cycle(step: Step) -> None:
    """The case is handled again (reopened, or appealed): a new handling cycle with its own clocks,
    counted from now, in round 1; the earlier cycles' timers and co-handling rows stay as they were."""
    step.set("cycle", step.case.cycle + 1)
    step.set("reopened_at", step.now.replace(microsecond=0))
    step.set("round", 1)
    step.set("closed_at", None)
    step.set("close_reason", CloseReason.OPEN)
    step.set("satisfaction", "")
    step.set("callback_attempts", 0)
    step.set("reply_level", 0)
    step.set("dispatched_at", None)
    step.set("acknowledged_at", None)
    step.set("result_at", None)
    step.set("reopen_requested_at", None)  # a complainant's request to reopen (the portal) is answered
    CoHandling.objects.filter(case=step.case, active=True).update(active=False)
    step.case._co_units = []  # type: ignore[attr-defined]


@action("reopen", sources=(S.CLOSED, S.INVALID), roles=(Role.DISPATCHER, Role.SUPERVISOR), side=Side.OWNER,
        guard=_guard_reopen)
def _do_reopen(step: Step, p: inputs.ReasonIn) -> None:
    """重办: the case is registered again for a new handling cycle — its clocks count from now
    (issue 14.12: never the first handling's due dates; the met deadlines stay met)."""
    step.note("reason", p.reason)
    step.set("state", S.REGISTERED)
    step.set("validity", Validity.UNCHECKED)
    _new_cycle(step)
    for code in (deadlines.END_TO_END, "dispatch"):
        deadlines.timer_start(step.case, code, at=step.now, cfg=step.cfg)


DECIDED = (CloseReason.CALLBACK, CloseReason.SIGNOFF, CloseReason.NO_CALLBACK)


def _guard_appeal(case: Case, cfg: PolicyConfig) -> str | None:
    if case.kind not in cfg.appeal_kinds:
        return f"The policy allows an appeal (复审/核实) only for: {', '.join(cfg.appeal_kinds) or 'no kind'}."
    if case.appeal:
        return "The case has already been appealed; the decision is final."
    if case.close_reason not in DECIDED:
        return "Only a decided case can be appealed."
    return None


@action("appeal", sources=(S.CLOSED,), roles=(Role.AGENT, Role.DISPATCHER), side=Side.OWNER, guard=_guard_appeal)
def _do_appeal(step: Step, p: inputs.ReasonIn) -> None:
    """复审 / 核实: the complainant rejects the decision; the policy's reviewers (the GM, the
    upper-level branch) decide on their `appeal` clock: `approve` has the case handled again,
    `reject` upholds the decision for good."""
    step.note("reason", p.reason)
    step.set("appeal", True)
    step.set("state", S.PENDING_APPROVAL)
    step.set_unit("proposed_unit", step.case.unit)
    _new_cycle(step)
    _enter_chain(step, step.cfg.appeal_chain)
    deadlines.timer_start(step.case, "appeal", at=step.now, cfg=step.cfg)


def _guard_withdraw(case: Case, cfg: PolicyConfig) -> str | None:
    return None if cfg.withdrawal_allowed else "The policy does not let a complainant withdraw a case."


@action("withdraw", sources=ANY_OPEN, roles=(Role.AGENT, Role.DISPATCHER), side=Side.OWNER, guard=_guard_withdraw)
def _do_withdraw(step: Step, p: inputs.WithdrawIn) -> None:
    """撤回: the complainant withdraws the case. It closes as withdrawn as of the moment the
    request was received (`requested_at`, default now); its clocks stop then. A withdrawn case
    is neither invalid nor a return."""
    requested = (p.requested_at or step.now).replace(microsecond=0)
    if requested > step.now or requested < step.case.received_at:
        raise BadInput("requested_at must lie between the case's receipt and now.",
                       fields={"requested_at": "outside the case's life"})
    step.note("reason", p.reason)
    step.note("requested_at", requested)
    deadlines.timer_stop(step.case, None, at=requested, every_unit=True)
    _finish(step, CloseReason.WITHDRAWN, at=requested)


def _open_obligations(case: Case) -> list[Timer]:
    cfg = config_for(case.policy_id)
    codes = [o.code for o in cfg.obligations]
    if not codes:
        return []
    return list(Timer.objects.filter(case=case, code__in=codes, stopped_at__isnull=True))


def _actor_fulfil(user: User, case: Case, cfg: PolicyConfig) -> CaseError | None:
    timers = _open_obligations(case)
    if not timers:
        return InvalidTransition("The case owes no obligation.")
    if not any(holds(user, case, t.role, cfg) for t in timers):
        return Forbidden("Its obligations belong to the " + ", ".join(sorted({t.role for t in timers})) + " role.")
    return None


@action("fulfil", sources=tuple(State), roles=STAFF, side=Side.EITHER, actor_guard=_actor_fulfil)
def _do_fulfil(step: Step, p: inputs.FulfilIn) -> None:
    """An obligation of the policy is done (报备 filed, special report written): its clock stops,
    met or late."""
    timer = next((t for t in _open_obligations(step.case) if t.code == p.obligation), None)
    if timer is None:
        raise BadInput(f"The case owes no open obligation {p.obligation!r}.", fields={"obligation": "not owed"})
    assert step.actor is not None
    if not holds(step.actor, step.case, timer.role, step.cfg):
        raise Forbidden(f"The obligation {p.obligation} belongs to the {timer.role} role.")
    deadlines.timer_stop(step.case, (timer.code,), at=step.now)
    step.note("obligation", p.obligation)
    step.note("note", p.note)


COMPENSATION_IN = (S.ACCEPTED, S.RESULT_SUBMITTED, S.PENDING_CALLBACK, S.CLOSED)


def _guard_compensate(case: Case, cfg: PolicyConfig) -> str | None:
    if case.compensation_status == CompensationStatus.REQUESTED:
        return "A compensation already waits for approval."
    return None


@action("compensate", sources=COMPENSATION_IN, roles=(*HANDLERS, Role.DISPATCHER), side=Side.EITHER,
        guard=_guard_compensate)
def _do_compensate(step: Step, p: inputs.CompensateIn) -> None:
    step.set("compensation_amount", p.amount)
    step.set("compensation_form", p.form)
    limit = step.cfg.compensation_approval_above
    above = limit is not None and p.amount > limit
    step.set("compensation_status", CompensationStatus.REQUESTED if above else CompensationStatus.APPROVED)


@action("transfer_out", sources=(S.REGISTERED,), roles=(Role.AGENT, Role.DISPATCHER), side=Side.OWNER)
def _do_transfer_out(step: Step, p: inputs.TransferOutIn) -> None:
    step.set("transfer_authority", p.authority)
    step.note("note", p.note)
    _finish(step, CloseReason.TRANSFERRED)


# Joint cases: each co-handling unit acknowledges and contributes on its own.


def _co_row_for(user: User, case: Case) -> CoHandling | None:
    for co in co_handlings(case):
        if roles_over(user, co.unit) & set(HANDLERS):
            return co
    return None


def _my_co_handling(step: Step) -> CoHandling:
    assert step.actor is not None
    co = _co_row_for(step.actor, step.case)
    assert co is not None  # checked by the action's actor_guard
    return co


def _actor_co_acknowledge(user: User, case: Case, cfg: PolicyConfig) -> CaseError | None:
    co = _co_row_for(user, case)
    if co is None:
        return Forbidden("You are not a co-handling unit of this case.")
    return InvalidTransition(f"{co.unit.code} has already acknowledged.") if co.acknowledged_at else None


@action("co_acknowledge", sources=(S.DISPATCHED, S.ACCEPTED, S.SUSPENDED), roles=HANDLERS, side=Side.CO,
        actor_guard=_actor_co_acknowledge)
def _do_co_acknowledge(step: Step, p: inputs.ActionBase) -> None:
    co = _my_co_handling(step)
    co.acknowledged_at = step.now.replace(microsecond=0)
    co.save(update_fields=["acknowledged_at"])
    deadlines.timer_stop(step.case, ("acknowledge",), at=step.now, unit=co.unit)
    for code in deadlines.anchored_on(step.case, ("resolve",), "acknowledge", step.cfg, unit=co.unit):
        deadlines.timer_start(step.case, code, at=step.now, cfg=step.cfg, unit=co.unit)
    step.note("co_unit", co.unit.code)


def _actor_co_submit(user: User, case: Case, cfg: PolicyConfig) -> CaseError | None:
    co = _co_row_for(user, case)
    if co is None:
        return Forbidden("You are not a co-handling unit of this case.")
    if co.acknowledged_at is None:
        return InvalidTransition(f"{co.unit.code} must acknowledge first.")
    return InvalidTransition(f"{co.unit.code} has already submitted its result.") if co.submitted_at else None


@action("co_submit_result", sources=(S.DISPATCHED, S.ACCEPTED, S.SUSPENDED), roles=HANDLERS, side=Side.CO,
        actor_guard=_actor_co_submit)
def _do_co_submit_result(step: Step, p: inputs.CoResultIn) -> None:
    co = _my_co_handling(step)
    co.submitted_at, co.result = step.now, p.result
    co.save(update_fields=["submitted_at", "result"])
    deadlines.timer_stop(step.case, ("resolve",), at=step.now, unit=co.unit)
    step.note("co_unit", co.unit.code)
    step.note("co_result", p.result)


# 派单异议审核: the dispatcher disputes a return; the supervisor decides.


def _guard_dispute_return(case: Case, cfg: PolicyConfig) -> str | None:
    return "The return is already disputed." if case.return_disputed else None


@action("dispute_return", sources=(S.RETURNED,), roles=CENTRE, side=Side.OWNER, guard=_guard_dispute_return)
def _do_dispute_return(step: Step, p: inputs.ReasonIn) -> None:
    step.set("return_disputed", True)
    step.note("reason", p.reason)


def _guard_decide_return(case: Case, cfg: PolicyConfig) -> str | None:
    return None if case.return_disputed else "Nobody disputed this return."


@action("decide_return", sources=(S.RETURNED,), roles=(Role.SUPERVISOR,), side=Side.OWNER,
        guard=_guard_decide_return)
def _do_decide_return(step: Step, p: inputs.DecideReturnIn) -> None:
    step.set("return_disputed", False)
    step.note("uphold", p.uphold)
    if not p.uphold:
        # The return was not justified: the same unit must handle the case.
        assert step.case.unit is not None
        _enter_dispatched(step, step.case.unit, step.case.instructions)


# Compensation above the policy's limit waits for the leader (DESIGN §1).


def _guard_compensation_requested(case: Case, cfg: PolicyConfig) -> str | None:
    if case.compensation_status == CompensationStatus.REQUESTED:
        return None
    return "No compensation waits for approval."


@action("approve_compensation", sources=COMPENSATION_IN, roles=LEADER, side=Side.OWNER,
        guard=_guard_compensation_requested)
def _do_approve_compensation(step: Step, p: inputs.ActionBase) -> None:
    step.set("compensation_status", CompensationStatus.APPROVED)


@action("refuse_compensation", sources=COMPENSATION_IN, roles=LEADER, side=Side.OWNER,
        guard=_guard_compensation_requested)
def _do_refuse_compensation(step: Step, p: inputs.ActionBase) -> None:
    step.set("compensation_status", CompensationStatus.REFUSED)


# Set during handling (DESIGN §2): category, severity, class, liability.
@action("classify", sources=ANY_OPEN, roles=(Role.DISPATCHER, Role.LEADER, Role.SUPERVISOR), side=Side.OWNER)
def _do_classify(step: Step, p: inputs.ClassifyIn) -> None:
    from .models import Category

    if p.category is not None:
        category = Category.objects.filter(code=p.category, active=True).first() if p.category else None
        if p.category and category is None:
            raise BadInput(f"Unknown category {p.category!r}.", fields={"category": "unknown category code"})
        old = step.case.category.code if step.case.category_id and step.case.category else None
        if old != p.category:
            step.case.category = category
            step.dirty.add("category")
            step.changes["category"] = [old, p.category or None]
            if category is not None and category.case_class and p.case_class is None:
                step.set("case_class", category.case_class)
    for name in ("severity", "case_class", "customer_class", "liability", "respondent_person"):
        value = getattr(p, name)
        if value is not None:
            step.set(name, value)
    if p.respondent_unit is not None:
        step.set_unit("respondent_unit", _target_unit(step, p.respondent_unit, field_name="respondent_unit")
                      if p.respondent_unit else None)
    if not step.changes:
        raise InvalidTransition("Nothing to change.")


# --- formal notices (issue 12) ----------------------------------------------------------------------


def _notices_after(case: Case, action_name: str, *, actor: User | None, now: datetime) -> None:
    """A written notice the policy requires (the 12315 preset's letters: 受理/不予受理告知书 within 5
    working days, the 答复 within 45 days) is part of the decision it announces: issued with its
    number and sent to the complainant the way they chose, in the same transaction — a step the
    case cannot skip. One `notice` event per notice on the timeline. The caller holds the lock."""
    for kind in notices.notices_due(case, action_name, case.state):
        doc, created = notices.document_issue(case, kind, actor=actor, at=now)
        if not created:
            continue
        via = notices.notice_send(case, doc)
        with change(case, "notice", actor=actor, source="workflow", at=now, locked=True) as step:
            step.note("document", {"kind": kind, "number": doc.number, "via": via})


# --- the complainant's own steps (issue 12: the portal) -------------------------------------------
# The complainant is no user: these run without an actor, from the portal, each in one durable
# transaction with the row locked (like `perform`), and raise the same errors (409 for a state
# that does not allow it, 422 for bad input). `source` is "portal" on their events.

COMPLAINANT_SATISFACTION = (Satisfaction.VERY_SATISFIED, Satisfaction.SATISFIED, Satisfaction.NEUTRAL,
                            Satisfaction.UNSATISFIED)


def complainant_rate(case: Case, satisfaction: str, *, comment: str = "", ip: str | None = None) -> Case:
    """The complainant rates the handling (满意度评价). While the case waits for its callback (回访)
    this is the callback's answer — the same step as the centre's `callback` (an unsatisfied answer
    waits for the centre's decision on 二次派单); on a closed case not rated yet it records the
    satisfaction. Rating twice, or an open case not waiting for a callback → InvalidTransition."""
    if satisfaction not in COMPLAINANT_SATISFACTION:
        raise BadInput("satisfaction must be one of " + ", ".join(COMPLAINANT_SATISFACTION) + ".",
                       fields={"satisfaction": "unknown value"})
    if len(comment) > 2000:
        raise BadInput("The comment is too long.", fields={"comment": "at most 2000 characters"})
    with transaction.atomic(durable=True):
        locked = _lock(case)
        cfg = config_for(locked.policy_id)
        step = Step(case=locked, actor=None, now=timezone.now(), cfg=cfg)
        from_state = locked.state
        if locked.state == S.PENDING_CALLBACK and _guard_callback(locked, cfg) is None:
            _do_callback(step, inputs.CallbackIn(satisfaction=Satisfaction(satisfaction), notes=comment))
            _write(step, "callback", from_state=from_state, to_state=locked.state, comment=comment, source="portal",
                   ip=ip, bump=True)
            for event in notifications.events_for_action("callback", from_state, locked):
                notifications.notify_event(locked, event, dedupe=f"{event}:{locked.number}:v{locked.version}",
                                           note=comment)
            rules_apply(locked, trigger="change", now=step.now)
            obligations_apply(locked, now=step.now)
        elif (locked.state in FINAL_STATES and not locked.merged_into_id
              and locked.satisfaction in ("", Satisfaction.UNREACHABLE)):
            step.set("satisfaction", satisfaction)
            _write(step, "rate", from_state="", to_state="", comment=comment, source="portal", ip=ip, bump=True)
        elif locked.satisfaction and locked.satisfaction != Satisfaction.UNREACHABLE:
            raise InvalidTransition("The satisfaction is already recorded.", cause=Cause.ALREADY_RATED)
        else:
            raise InvalidTransition("The case is still being handled: rate it once it has been answered.",
                                    cause=Cause.NOT_YET_ANSWERED)
    return locked


def reopen_window_ends(case: Case) -> datetime | None:
    """Until when the complainant may ask to have a closed case handled again (`portal.reopen_days`
    after closing); None when they may not (open, merged, or the policy allows no request)."""
    days = config_for(case.policy_id).reopen_days
    if case.state not in FINAL_STATES or case.merged_into_id or not case.closed_at or days <= 0:
        return None
    return case.closed_at + timedelta(days=days)


def complainant_request_reopen(case: Case, reason: str, *, ip: str | None = None) -> Case:
    """重办申请: within the policy's window after closing, the complainant asks to have the case
    handled again; the centre decides (`reopen`, which clears the request). The dispatchers and
    supervisors over the registering unit are told. Asking again while a request waits, or after
    the window → InvalidTransition."""
    reason = reason.strip()
    if not reason or len(reason) > 2000:
        raise BadInput("Say why the case should be handled again (at most 2000 characters).",
                       fields={"reason": "1–2000 characters"})
    with transaction.atomic(durable=True):
        locked = _lock(case)
        ends = reopen_window_ends(locked)
        now = timezone.now()
        if locked.reopen_requested_at is not None:
            raise InvalidTransition("A request to reopen this case is already waiting for a decision.",
                                    cause=Cause.REOPEN_WAITING)
        if ends is None or now > ends:
            raise InvalidTransition("The case cannot be reopened from the portal (open, or past the period the "
                                    "policy allows after closing).", cause=Cause.REOPEN_NOT_ALLOWED)
        step = Step(case=locked, actor=None, now=now, cfg=config_for(locked.policy_id))
        step.set("reopen_requested_at", now.replace(microsecond=0))
        step.note("reason", reason)
        _write(step, "reopen_request", from_state="", to_state="", comment="", source="portal", ip=ip, bump=True)
        notifications.notify_event(locked, "case.reopen_requested", note=reason,
                                   dedupe=f"case.reopen_requested:{locked.number}:v{locked.version}")
    return locked


def complainant_add_information(case: Case, text: str, *, ip: str | None = None) -> Case:
    """补充材料: the complainant adds to a case that is still being handled; the text is on the
    timeline (`information`), and the centre and the handling unit are told. A closed case →
    InvalidTransition (ask to reopen it instead)."""
    text = text.strip()
    if not text or len(text) > 5000:
        raise BadInput("The information must be 1–5000 characters.", fields={"text": "1–5000 characters"})
    with transaction.atomic(durable=True):
        locked = _lock(case)
        if not locked.is_open:
            raise InvalidTransition("The case is closed; ask to have it reopened instead.", cause=Cause.CASE_CLOSED)
        with change(locked, "information", actor=None, source="portal", ip=ip, locked=True) as step:
            step.note("information", text)
        notifications.notify_event(locked, "case.information_added", note=text[:200],
                                   dedupe=f"case.information_added:{locked.number}:{secrets.token_hex(8)}")
    return locked


# --- personal data over its life (issue 11, DESIGN §8): corrections, anonymisation, re-sealing ------
# Changes of a case like the others (through `change`, one event each), except `reseal`, which
# rewrites ciphertext under the newest key without changing any value a reader sees (no event, no
# version: nothing anyone could overwrite changed; the key rotation is in the audit log).

# What each retention group of the policy (policies.config.RETENTION_GROUPS) erases; statistics
# (kind, category, units, dates, deadlines and whether they were met, satisfaction) are kept.
ANONYMISED = "已匿名化"
GROUP_FIELDS: dict[str, dict[str, Any]] = {
    "identity": {
        "complainant_name": "", "complainant_phone": "", "complainant_email": "", "complainant_address": "",
        "complainant_account": "", "complainant_id_number": "", "representatives": [],
    },
    "content": {
        "subject": ANONYMISED, "description": "", "demands": "", "reply": "", "cause": "", "course": "",
        "conclusion": "", "countermeasures": "", "instructions": "", "invalid_reason": "",
        "responsible_person": "", "respondent_person": "",
    },
    "attachments": {},
}


def correct_identity(case: Case, *, actor: User, values: dict[str, str], source: str = "privacy",
                     note: str = "") -> Case:
    """更正 (a data-subject request): set the complainant's identity fields named in `values`
    (keys of identity.SEALED but representatives). The timeline records which fields changed,
    never their values. Repeating it with the same values changes nothing."""
    unknown = set(values) - (set(identity.SEALED) - {"representatives"})
    if unknown:
        raise BadInput("Not identity fields: " + ", ".join(sorted(unknown)), fields=dict.fromkeys(unknown, "unknown"))
    with change(case, "correct_identity", actor=actor, source=source, comment=note) as step:
        for name, value in values.items():
            step.set(name, value)
    return step.case


def anonymise(case: Case, *, groups: Iterable[str], at: datetime, complete: bool, actor: User | None = None,
              source: str = "privacy", note: str = "") -> Case:
    """Erase the personal data of `groups` from a closed case (PIPL: its retention period is over,
    or the person asked for deletion): one `anonymise` event naming the groups, identity values
    never recorded. `complete` marks the case as anonymised (`anonymised_at`: nothing is left for
    the retention job). Attachments' files are deleted once the transaction commits."""
    wanted = [g for g in groups if g in GROUP_FIELDS]
    files: list[str] = []
    with change(case, "anonymise", actor=actor, source=source, at=at, comment=note) as step:
        if step.case.is_open:
            raise InvalidTransition("Only a closed case is anonymised.")
        for group in wanted:
            for name, empty in GROUP_FIELDS[group].items():
                if getattr(step.case, name) != empty:  # erased: the timeline says so, not what it was
                    setattr(step.case, name, empty)
                    step.dirty.add(name)
                    step.changes[name] = [REDACTED, ""]
            if group == "attachments":
                rows = list(step.case.attachments.all())
                files = [a.file.name for a in rows if a.file and a.file.name]
                if rows:
                    step.note("attachments_deleted", len(rows))
                    step.case.attachments.all().delete()
        step.note("anonymised", wanted)
        done = sorted(set(step.case.anonymised_groups) | set(wanted))
        if done != sorted(step.case.anonymised_groups):
            step.set("anonymised_groups", done)
        if complete and step.case.anonymised_at is None:
            step.set("anonymised_at", at)
    if files:
        from django.core.files.storage import default_storage

        def delete_files() -> None:
            for name in files:
                default_storage.delete(name)

        transaction.on_commit(delete_files)
    return step.case


def reseal(case_ids: Iterable[int]) -> int:
    """Re-seal the identity fields of these cases under the newest key (a key rotation) and
    recompute their keyed hashes: the values stay what they were. Returns the rows rewritten."""
    from huiyin.org import crypto

    fields = list(identity.SEALED)
    done = 0
    with transaction.atomic():
        for case in Case.objects.select_for_update().filter(pk__in=list(case_ids)).only("pk", *fields):
            raw = {name: case.__dict__.get(name) for name in fields}
            if all(not isinstance(v, Sealed) or crypto.is_current(v.token) for v in raw.values()):
                continue
            updates: dict[str, Any] = {}
            for name in fields:
                value = getattr(case, name)  # opened with whichever key sealed it; sealed anew by update()
                updates[name] = value
                if name in identity.HASHED:
                    updates[identity.hash_column(name)] = identity.column_hash(name, value)
            Case.objects.filter(pk=case.pk).update(**updates)
            done += 1
    return done
