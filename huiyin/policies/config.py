"""Read access to a policy's configuration, with the defaults filled in.

The workflow asks questions ("does a complaint need the leader's approval before
dispatch?", "what is the resolve timer of an upstream case?") through this one
class, so a newcomer finds every configurable rule of the workflow here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from huiyin.sla.calendar import BusinessHours, TimeUnit

PRESETS_DIR = Path(__file__).parent / "presets"
TIMER_CODES = ("dispatch", "acknowledge", "first_contact", "resolve", "feedback", "callback")


@dataclass(frozen=True)
class TimerSpec:
    code: str
    amount: int
    unit: str
    basis: str


def load_preset_file(name: str) -> dict[str, Any]:
    path = PRESETS_DIR / f"{name}.yaml"
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: a preset is a mapping")
    return data


class PolicyConfig:
    def __init__(self, config: dict[str, Any]):
        self.raw = config

    @property
    def workflow(self) -> dict[str, Any]:
        return self.raw.get("workflow", {})

    def approval_before_dispatch(self, kind: str) -> bool:
        return kind in self.workflow.get("approval_before_dispatch", [])

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

    def timer(self, code: str, *, kind: str, channel: str) -> TimerSpec | None:
        """The timer `code` for a case of this kind and channel, or None if the policy has none.

        A kind-specific limit wins over a channel-specific one, which wins over the default.
        """
        spec = self.raw.get("timers", {}).get(code)
        if not spec:
            return None
        chosen = spec.get("kinds", {}).get(kind) or spec.get("channels", {}).get(channel) or spec.get("default")
        if not chosen:
            return None
        return TimerSpec(code, int(chosen["amount"]), TimeUnit(chosen["unit"]).value, spec.get("basis", ""))
