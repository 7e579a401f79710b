"""What happened to a case, read from its timeline and its timers: the outcomes the reports count
and the case list filters by (`ListFilters.outcome`), one definition each.

Every outcome is a condition on a case (a `Q`), built from the case's events (`Event`: actions,
target states, recorded changes) and its timers (met / breached) — never from the fields that a
later step resets (`round`, `satisfaction`, `escalated` after a reopening …). The reports' per-case
summaries (`huiyin.reports.facts`) evaluate these same conditions, so a figure of a report and
the case list behind it (the drill-down) count the same cases. docs/indicators.md says what each
one means and which indicator uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from huiyin.policies.config import TIMER_CODES

from .models import CloseReason, Event, Satisfaction, State, Timer, TimerState

# A callback that reached the customer (未联系上 is an attempt, not an answer).
REACHED = (Satisfaction.VERY_SATISFIED, Satisfaction.SATISFIED, Satisfaction.NEUTRAL, Satisfaction.UNSATISFIED)
SATISFIED = (Satisfaction.VERY_SATISFIED, Satisfaction.SATISFIED, Satisfaction.NEUTRAL)
# A case concluded by the organisation: closed, except what was not ours to handle (merged into
# another case, transferred to the competent authority, withdrawn by the complainant).
NOT_HANDLED = (CloseReason.MERGED, CloseReason.TRANSFERRED, CloseReason.WITHDRAWN)
# The ways a case closes with the matter answered (a reasoned close after 不满意 is a sign-off whose
# last callback says 不满意; an appeal the reviewers rejected is not resolved).
RESOLVING = (CloseReason.CALLBACK, CloseReason.SIGNOFF, CloseReason.NO_CALLBACK, CloseReason.RESOLVED_ON_SPOT,
             CloseReason.UNREACHABLE)
# Another round of handling: 二次派单, 三次派单, a reopened case, an upheld appeal.
AGAIN = ("redispatch", "escalate", "reopen", "appeal")
# A timer whose stage is decided: done in time, or late (stopped late, or past due and still open).
DECIDED = (TimerState.MET, TimerState.BREACHED)


def event(**where: Any) -> Q:
    """The case has an event matching `where`."""
    return Q(Exists(Event.objects.filter(case=OuterRef("pk"), **where)))


def timer(**where: Any) -> Q:
    """The case has a stage timer of its own (not a co-handling unit's) matching `where`."""
    return Q(Exists(Timer.objects.filter(case=OuterRef("pk"), co_unit__isnull=True, **where)))


def last_callback_in(values: tuple[str, ...]) -> Q:
    """The latest callback that reached the customer recorded one of `values`."""
    later = Event.objects.filter(case=OuterRef("case"), action="callback", id__gt=OuterRef("id"),
                                 changes__satisfaction__1__in=list(REACHED))
    last = Event.objects.filter(case=OuterRef("pk"), action="callback", changes__satisfaction__1__in=list(values))
    return Q(Exists(last.exclude(Exists(later))))


def _concluded() -> Q:
    return Q(state=State.CLOSED) & ~Q(close_reason__in=list(NOT_HANDLED))


def _resolved() -> Q:
    return (_concluded() & Q(close_reason__in=list(RESOLVING))
            & ~last_callback_in((Satisfaction.UNSATISFIED,)))


def _again() -> Q:
    return event(action__in=list(AGAIN))


def _on_spot() -> Q:
    return event(action="resolve_on_spot")


def _late_resolve() -> Q:
    return timer(code="resolve", state=TimerState.BREACHED)


# name → the condition, in the order the reports present them.
OUTCOMES: dict[str, Callable[[], Q]] = {
    # the case was not valid (不予受理)
    "invalid": lambda: Q(state=State.INVALID),
    "valid": lambda: ~Q(state=State.INVALID),
    # due a response: a unit acknowledged it (签收), its acknowledgement is overdue, or it was
    # answered at intake; responded: acknowledged with every acknowledgement deadline met, or
    # answered at intake (响应率)
    "response_due": lambda: event(action="acknowledge") | timer(code="acknowledge", state=TimerState.BREACHED)
    | _on_spot(),
    "responded": lambda: (event(action="acknowledge") & ~timer(code="acknowledge", state=TimerState.BREACHED))
    | _on_spot(),
    # concluded by the organisation (办结), and resolved (解决): closed with the matter answered and
    # the customer's last word at a callback not 不满意
    "concluded": _concluded,
    "resolved": _resolved,
    # resolved the first time: no 二次/三次派单, reopening or appeal (一次解决)
    "first_time": lambda: _resolved() & ~_again(),
    # the customer was reached at a callback; satisfied: the last answer 非常满意/满意/一般
    "reached": lambda: event(action="callback", changes__satisfaction__1__in=list(REACHED)),
    "satisfied": lambda: last_callback_in(SATISFIED),
    # handled by a unit (a result submitted) and concluded: due a callback; called back: at least
    # one callback attempt recorded (回访率)
    "handled": lambda: _concluded() & event(action="submit_result"),
    "called_back": lambda: _concluded() & event(action="submit_result") & event(action="callback"),
    # a repeat complaint (重复投诉) of the same customer
    "repeat": lambda: Q(repeat_of__isnull=False),
    # ended at least once (closed or invalid); reopened after that (重办)
    "ended": lambda: event(to_state__in=[State.CLOSED, State.INVALID]),
    "reopened": lambda: event(action="reopen"),
    # sent to a unit; sent again: 二次派单 (second round), 三次派单 (third round), either
    "dispatched": lambda: event(to_state=State.DISPATCHED),
    "redispatched": lambda: event(action__in=["redispatch", "escalate"]),
    "second_round": lambda: event(action="redispatch"),
    "third_round": lambda: event(action="escalate"),
    # escalated (升级): 三次派单 to leadership, or a rule's escalation
    "escalated": lambda: event(changes__escalated__1=True),
    # how a concluded case was handled (the tobacco and quality reports' 处理情况): answered at
    # intake (当即处理), in one round within its deadline (期限内处理), in one round but late
    # (超期处理), or round after round (循环往复处理)
    "on_spot": lambda: _concluded() & _on_spot(),
    "within_deadline": lambda: _concluded() & ~_on_spot() & ~_again() & ~_late_resolve(),
    "overdue_handling": lambda: _concluded() & ~_on_spot() & ~_again() & _late_resolve(),
    "repeated_handling": lambda: _concluded() & ~_on_spot() & _again(),
    # a valid complaint (有效投诉, 经核查属实): concluded with the organisation found liable
    "liable": lambda: _concluded() & Q(liability="enterprise"),
}

HANDLING = ("on_spot", "within_deadline", "overdue_handling", "repeated_handling")


def timer_outcome(name: str) -> Q | None:
    """`decided:<timer>`, `on_time:<timer>`, `late:<timer>` for each stage timer: its stage was
    decided; decided with none of its timers breached (及时); with one breached (超期)."""
    kind, _sep, code = name.partition(":")
    if code not in TIMER_CODES or kind not in ("decided", "on_time", "late"):
        return None
    decided = timer(code=code, state__in=list(DECIDED))
    late = timer(code=code, state=TimerState.BREACHED)
    return {"decided": decided, "on_time": decided & ~late, "late": late}[kind]


def satisfaction_outcome(name: str) -> Q | None:
    """`satisfaction:<value>`: the last callback that reached the customer recorded `value`."""
    kind, _sep, value = name.partition(":")
    if kind != "satisfaction" or value not in REACHED:
        return None
    return last_callback_in((value,))


def outcome_q(name: str) -> Q | None:
    """The condition of outcome `name`, or None for a name that is not one."""
    if name in OUTCOMES:
        return OUTCOMES[name]()
    return timer_outcome(name) or satisfaction_outcome(name)


def is_outcome(name: str) -> bool:
    return isinstance(name, str) and len(name) <= 40 and outcome_q(name) is not None


LABELS: dict[str, Promise] = {
    "invalid": _("Invalid (not accepted)"),
    "valid": _("Valid"),
    "response_due": _("Due a response"),
    "responded": _("Responded in time"),
    "concluded": _("Concluded"),
    "resolved": _("Resolved"),
    "first_time": _("Resolved the first time"),
    "reached": _("Reached at a callback"),
    "satisfied": _("Satisfied at the last callback"),
    "handled": _("Handled by a unit and concluded"),
    "called_back": _("Called back"),
    "repeat": _("Repeat complaint"),
    "ended": _("Ended at least once"),
    "reopened": _("Reopened"),
    "dispatched": _("Dispatched to a unit"),
    "redispatched": _("Dispatched again (second or third round)"),
    "second_round": _("Second round (redispatched)"),
    "third_round": _("Third round (escalated to leadership)"),
    "escalated": _("Escalated"),
    "on_spot": _("Answered on the spot"),
    "within_deadline": _("Handled within the deadline"),
    "overdue_handling": _("Handled late"),
    "repeated_handling": _("Handled round after round"),
    "liable": _("Valid complaint, organisation liable"),
}
TIMER_LABELS: dict[str, Promise] = {
    "decided": _("%(timer)s deadline decided"),
    "on_time": _("%(timer)s deadline met"),
    "late": _("%(timer)s deadline breached"),
}


def outcome_label(name: str) -> str:
    """The outcome as a reader names it (a drill-down's badge on the case list)."""
    if name in LABELS:
        return str(LABELS[name])
    kind, _sep, rest = name.partition(":")
    if kind in TIMER_LABELS:
        return str(TIMER_LABELS[kind]) % {"timer": str(TIMER_NAMES.get(rest, rest))}
    if kind == "satisfaction":
        return str(_("Last callback: %(value)s")) % {"value": Satisfaction(rest).label}
    return name


TIMER_NAMES: dict[str, Promise] = {
    "dispatch": _("Dispatch"), "acknowledge": _("Acknowledgement"), "first_contact": _("First contact"),
    "resolve": _("Resolution"), "feedback": _("Feedback"), "callback": _("Callback"), "decision": _("Decision"),
    "end_to_end": _("End to end"), "appeal": _("Appeal"),
}
