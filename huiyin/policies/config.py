"""Read access to a policy's configuration, with the defaults filled in.

The workflow asks questions ("does a complaint need the leader's approval before
dispatch?", "what is the resolve timer of an upstream case?") through this one
class, so a newcomer finds every configurable rule of the workflow here.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any

from huiyin.sla.calendar import BusinessHours, TimeUnit

from .rules import Rule, parse_rules

# The stage timers a policy may set. `decision`: after an unsatisfied callback, the time the centre
# (督办/派单员) has to decide on 二次派单 or a reasoned close.
TIMER_CODES = ("dispatch", "acknowledge", "first_contact", "resolve", "feedback", "callback", "decision")


@dataclass(frozen=True)
class TimerSpec:
    code: str
    amount: int
    unit: str
    basis: str
    from_receipt: bool = False


class PolicyConfig:
    def __init__(self, config: dict[str, Any]):
        self.raw = config

    @property
    def workflow(self) -> dict[str, Any]:
        return self.raw.get("workflow", {})

    def approval_before_dispatch(self, kind: str, *, severity: str = "", channel: str = "") -> bool:
        """Leader 批示 before dispatch: a list of kinds, or {kinds, severities, channels}
        (any one matching is enough)."""
        spec = self.workflow.get("approval_before_dispatch", [])
        if isinstance(spec, list):
            return kind in spec
        return (
            kind in spec.get("kinds", []) or severity in spec.get("severities", []) or channel in spec.get("channels", [])
        )

    def callback_needed(self, *, kind: str, number: str) -> bool:
        """Whether this case is called back: `callback: {kinds: [...], sample: 0.3}` — every
        case of the listed kinds (all kinds when omitted), or a stable sample of them."""
        spec = self.raw.get("callback")
        if spec is None:
            return self.callback_required
        kinds = spec.get("kinds")
        if kinds is not None and kind not in kinds:
            return False
        share = float(spec.get("sample", 1.0))
        if share >= 1.0:
            return True
        import hashlib

        bucket = int(hashlib.sha256(number.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return bucket < share

    @property
    def reply_approval_chain(self) -> list[str]:
        """答复审核: the roles that must approve the reply, in order, before the centre reviews it."""
        return list(self.workflow.get("reply_approval", []))

    @property
    def open_contact(self) -> str:
        """A new contact from a customer whose case of the same kind is open: `urge` the open
        case instead of registering a new one, or register `new` (the default)."""
        return str(self.raw.get("repeat", {}).get("open_contact", "new"))

    @property
    def compensation_approval_above(self) -> Decimal | None:
        """Compensation above this amount waits for the leader's approval (DESIGN §1)."""
        value = (self.raw.get("compensation") or {}).get("approval_above")
        return Decimal(str(value)) if value is not None else None

    @property
    def repeat_days(self) -> int:
        return int(self.raw.get("repeat", {}).get("within_days", 30))

    @cached_property
    def rules(self) -> list[Rule]:
        return parse_rules(self.raw.get("rules"))

    def plan_approval(self, severity: str) -> bool:
        return severity in self.workflow.get("plan_approval_severities", [])

    @property
    def close_requires_signoff(self) -> bool:
        return bool(self.workflow.get("close_requires_signoff", False))

    @property
    def callback_required(self) -> bool:
        return bool(self.workflow.get("callback_required", True))

    @property
    def unreachable_attempts(self) -> int:
        return int(self.workflow.get("unreachable_attempts", 3))

    @property
    def max_round(self) -> int:
        return int(self.workflow.get("max_round", 3))

    @cached_property
    def business_hours(self) -> BusinessHours:
        periods = self.raw.get("business_hours")
        return BusinessHours.parse(periods) if periods else BusinessHours.parse(
            [["08:30", "12:00"], ["13:30", "17:30"]]
        )

    @property
    def reminder_share(self) -> float:
        return float(self.raw.get("reminder_share", 0.75))

    @property
    def extension_max(self) -> tuple[int, str] | None:
        spec = self.raw.get("extension_max")
        if not spec:
            return None
        return int(spec["amount"]), TimeUnit(spec["unit"]).value

    def timer(self, code: str, *, kind: str, channel: str, severity: str = "general") -> TimerSpec | None:
        """The timer `code` for a case of this kind, severity and channel, or None if the policy
        has none. The most specific wins: kind, then severity, then channel, then the default.
        `from: receipt` counts the time from the case's receipt instead of the stage's start."""
        spec = self.raw.get("timers", {}).get(code)
        if not spec:
            return None
        chosen = (
            (spec.get("kinds") or {}).get(kind)
            or (spec.get("severities") or {}).get(severity)
            or (spec.get("channels") or {}).get(channel)
            or spec.get("default")
        )
        if not chosen:
            return None
        return TimerSpec(code, int(chosen["amount"]), TimeUnit(chosen["unit"]).value, spec.get("basis", ""),
                         from_receipt=spec.get("from") == "receipt")
