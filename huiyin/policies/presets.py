"""Presets: the bundles of categories, timers, workflow steps, rules and notification routes
that an organisation loads (DESIGN §9), shipped as YAML files in `policies/presets/`.

`preset_check(text)` refuses a file with an error naming the line and the reason;
`policy_load_preset` stores nothing unless the whole file is right.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from huiyin.sla.calendar import BusinessHours, TimeUnit

from .config import TIMER_CODES
from .rules import RuleError, parse_rules

PRESETS_DIR = Path(__file__).parent / "presets"
NAMES = ("tobacco", "12315", "quality", "insurance", "crm", "power", "telecom", "manufacturer", "property",
         "fire", "retail")
KINDS = ("complaint", "consultation", "suggestion", "report", "praise", "employee_complaint")
CHANNELS = ("phone", "web", "email", "letter", "fax", "walk_in", "sms", "wechat", "api", "upstream", "regulator")
ROLES = ("agent", "dispatcher", "handler", "first_responsible", "leader", "supervisor", "auditor", "admin")
EVENTS = ("case.created", "case.dispatched", "case.acknowledged", "case.reminder", "case.breached",
          "case.escalated", "case.urged", "case.result_submitted", "case.callback_due", "case.extension_requested",
          "case.approval_needed", "case.major_opened", "case.closed")
TOP_KEYS = {"name", "title", "seed", "business_hours", "workflow", "extension_max", "reminder_share", "timers",
            "rules", "categories", "repeat", "callback", "notifications", "severities", "invalid_reasons",
            "penalties", "reports", "forms", "note", "compensation"}


@dataclass
class PresetError(ValueError):
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class _LineLoader(yaml.SafeLoader):
    """Remembers the line of every mapping and sequence item, keyed by its path."""


def _compose_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    node = yaml.compose(text, Loader=yaml.SafeLoader)

    def walk(n: yaml.Node, path: str) -> None:
        lines.setdefault(path, n.start_mark.line + 1)  # a key's own line wins over its value's
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                key = str(k.value)
                lines[f"{path}.{key}" if path else key] = k.start_mark.line + 1
                walk(v, f"{path}.{key}" if path else key)
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                walk(v, f"{path}[{i}]")

    if node is not None:
        walk(node, "")
    return lines


def _line_of(lines: dict[str, int], path: str) -> int:
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return 1


def preset_check(text: str) -> dict[str, Any]:
    """Parse and check a preset; return its data or raise PresetError(line, reason)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PresetError(mark.line + 1 if mark else 1, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    lines = _compose_lines(text)
    try:
        _check(data)
    except _Bad as bad:
        raise PresetError(_line_of(lines, bad.path), bad.reason) from None
    except RuleError as exc:
        raise PresetError(_line_of(lines, exc.path), exc.message) from None
    return data


class _Bad(Exception):
    def __init__(self, path: str, reason: str):
        self.path, self.reason = path, reason


def _check(data: Any) -> None:
    if not isinstance(data, dict):
        raise _Bad("", "a preset is a mapping")
    unknown = set(map(str, data)) - TOP_KEYS
    if unknown:
        key = min(unknown)
        raise _Bad(key, f"unknown key {key!r}")
    if not isinstance(data.get("name"), str) or not data["name"]:
        raise _Bad("name", "name is required")
    if "business_hours" in data:
        try:
            BusinessHours.parse(data["business_hours"])
        except (ValueError, TypeError) as exc:
            raise _Bad("business_hours", str(exc)) from None
    wf = data.get("workflow", {})
    if not isinstance(wf, dict):
        raise _Bad("workflow", "must be a mapping")
    abd = wf.get("approval_before_dispatch", [])
    if isinstance(abd, list):
        _subset(abd, KINDS, "workflow.approval_before_dispatch")
    elif isinstance(abd, dict):
        _subset(abd.get("kinds", []), KINDS, "workflow.approval_before_dispatch.kinds")
        _subset(abd.get("severities", []), ("general", "difficult", "major"), "workflow.approval_before_dispatch.severities")
        _subset(abd.get("channels", []), CHANNELS, "workflow.approval_before_dispatch.channels")
    else:
        raise _Bad("workflow.approval_before_dispatch", "a list of kinds or {kinds, severities, channels}")
    _subset(wf.get("plan_approval_severities", []), ("general", "difficult", "major"), "workflow.plan_approval_severities")
    _subset(wf.get("reply_approval", []), ROLES, "workflow.reply_approval")
    for key in ("unreachable_attempts", "max_round"):
        if key in wf and (not isinstance(wf[key], int) or wf[key] < 1):
            raise _Bad(f"workflow.{key}", "must be a positive whole number")
    if "extension_max" in data:
        _amount(data["extension_max"], "extension_max")
    share = data.get("reminder_share", 0.75)
    if not isinstance(share, (int, float)) or not 0 < share < 1:
        raise _Bad("reminder_share", "must be a number between 0 and 1")
    timers = data.get("timers", {})
    if not isinstance(timers, dict):
        raise _Bad("timers", "must be a mapping of timer codes")
    for code, spec in timers.items():
        p = f"timers.{code}"
        if code not in TIMER_CODES:
            raise _Bad(p, f"unknown timer {code!r}; timers: {', '.join(TIMER_CODES)}")
        if not isinstance(spec, dict) or "default" not in spec:
            raise _Bad(p, "a timer needs a default {amount, unit}")
        _amount(spec["default"], f"{p}.default")
        for kind, sub in (spec.get("kinds") or {}).items():
            _subset([kind], KINDS, f"{p}.kinds")
            _amount(sub, f"{p}.kinds.{kind}")
        for channel, sub in (spec.get("channels") or {}).items():
            _subset([channel], CHANNELS, f"{p}.channels")
            _amount(sub, f"{p}.channels.{channel}")
        for severity, sub in (spec.get("severities") or {}).items():
            _subset([severity], ("general", "difficult", "major"), f"{p}.severities")
            _amount(sub, f"{p}.severities.{severity}")
        if spec.get("from", "stage") not in ("stage", "receipt"):
            raise _Bad(f"{p}.from", "from is stage (the default) or receipt")
    parse_rules(data.get("rules"))
    _categories(data.get("categories", []), "categories", set())
    routes = (data.get("notifications") or {}).get("routes", {})
    for event, items in routes.items():
        _subset([event], EVENTS, "notifications.routes")
        if not isinstance(items, list):
            raise _Bad(f"notifications.routes.{event}", "a list of {roles, over}")
        for i, route in enumerate(items):
            rp = f"notifications.routes.{event}[{i}]"
            if not isinstance(route, dict) or route.get("over", "owner") not in ("owner", "unit", "registrar"):
                raise _Bad(rp, "a route is {roles: [...], over: owner|unit|registrar}")
            _subset(route.get("roles", []), ROLES, f"{rp}.roles")
    cb = data.get("callback")
    if cb is not None:
        if not isinstance(cb, dict):
            raise _Bad("callback", "must be {kinds, sample}")
        _subset(cb.get("kinds", KINDS), KINDS, "callback.kinds")
        if not isinstance(cb.get("sample", 1.0), (int, float)) or not 0 < cb.get("sample", 1.0) <= 1:
            raise _Bad("callback.sample", "must be a share between 0 and 1")
    comp = data.get("compensation")
    if comp is not None and (not isinstance(comp, dict) or not isinstance(comp.get("approval_above", 0), (int, float))):
        raise _Bad("compensation", "compensation takes {approval_above: amount}")
    rep = data.get("repeat", {})
    if rep and (rep.get("open_contact", "new") not in ("new", "urge") or not isinstance(rep.get("within_days", 30), int)):
        raise _Bad("repeat", "repeat takes {within_days: days, open_contact: new|urge}")


def _subset(values: Any, allowed: tuple[str, ...], path: str) -> None:
    if not isinstance(values, list):
        raise _Bad(path, "must be a list")
    for v in values:
        if v not in allowed:
            raise _Bad(path, f"unknown value {v!r}; allowed: {', '.join(allowed)}")


def _amount(spec: Any, path: str) -> None:
    if not isinstance(spec, dict) or not isinstance(spec.get("amount"), int) or spec["amount"] < 0:
        raise _Bad(path, "needs {amount: whole number ≥ 0, unit: ...}")
    if spec.get("unit") not in TimeUnit.values:
        raise _Bad(f"{path}.unit" if "unit" in spec else path, f"unit must be one of {', '.join(TimeUnit.values)}")


def _categories(items: Any, path: str, seen: set[str]) -> None:
    if not isinstance(items, list):
        raise _Bad(path, "must be a list of {code, name, children}")
    for i, item in enumerate(items):
        p = f"{path}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("code"), str) or not isinstance(item.get("name"), str):
            raise _Bad(p, "a category needs a code and a name")
        if item["code"] in seen:
            raise _Bad(f"{p}.code", f"duplicate category code {item['code']!r}")
        seen.add(item["code"])
        _categories(item.get("children", []), f"{p}.children", seen)


def preset_text(name: str) -> str:
    if name not in NAMES and not (PRESETS_DIR / f"{name}.yaml").exists():
        raise FileNotFoundError(f"No preset named {name!r}; presets: {', '.join(available())}")
    return (PRESETS_DIR / f"{name}.yaml").read_text(encoding="utf-8")


def available() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
