"""The rules engine (DESIGN §5): conditions over a case's facts → effects.

Pure: this module parses rules from a policy's data and evaluates them against plain
facts, with counting and history questions answered by callbacks the caller supplies.
Applying effects to a case (and writing them on its timeline) is `cases.grading`.

A rule, as written in a preset file::

    - name: 重大金额
      triggers: [intake, change]    # when it is evaluated: intake, change, schedule (default: all)
      when:                         # a condition (below)
        field: amount
        gte: 30000
      then:                         # effects, applied once per case
        - set_severity: major
        - notify: {roles: [leader], event: case.major_opened}

Conditions:
- `{all: [...]}`, `{any: [...]}`, `{not: {...}}`
- `{field: NAME, OP: VALUE}` with OP one of eq, ne, in, not_in, gte, gt, lte, lt,
  contains_any (keywords, for `text`), under (category code or any descendant);
  fields: kind, channel, state, severity, class, amount, people_count, category,
  customer_class, satisfaction, round, urge_count, text, region, unit, owner_unit, tags,
  and what handling found: liability, conclusion, result (the text of the investigation report
  and reply), validity, close_reason, respondent_unit, respondent_person, representatives (how many),
  cycle, product
- `{flag: media}` (a risk flag is set), `{tag: group}`
- `{age: {gte: 30, unit: calendar_days | working_days | hours}}` — since received
- `{timer: {code: first_contact, state: breached}}` — a stage deadline of the current round
- `{count: {same: [category, region], window_hours: 24, gte: 3, kinds: [complaint], channels: [regulator]}}` —
  cases (this one included) sharing those fields, received within the window around this one;
  `window: same_day | same_week | same_month` instead counts in the calendar day, week (Monday
  to Sunday) or month of this case's receipt; `valid_only: true` leaves out cases marked invalid;
  `same: [text]` counts the cases worded like this one (subject and description, the similarity of
  similar open cases, huiyin/text/similar.py): 群体投诉 from callers who name it differently
- `{repeat: {within_days: 30}}` — the same customer (phone, account or ID number) had a
  case closed within that many days before this one was received
- `{share: {of: unit, window_hours: 720, gte: 0.5}}` — distinct customers (by phone or account)
  with cases at the handling unit (`unit`) or the registering one (`owner_unit`) within the window,
  as a share of that unit's customer count (false when the unit's count is not set)

Effects: `set_severity` (only ever raises: general < difficult < major), `set_class`,
`add_tag`, `require_approval` (leader 批示 before dispatch), `notify: {roles, event}`,
`escalate` (flag, tag and tell the supervisors and leaders), `mark_repeat` (link to the
customer's latest closed case as `repeat_of`), `recuse` (回避: the case may not be dispatched
to its complained-about unit, nor acted on by the complained-about person).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

TRIGGERS = ("intake", "change", "schedule")
FIELDS = {
    "kind", "channel", "state", "severity", "class", "amount", "people_count", "category", "customer_class",
    "satisfaction", "round", "urge_count", "text", "region", "unit", "owner_unit", "tags",
    "liability", "conclusion", "result", "validity", "close_reason", "respondent_unit", "respondent_person",
    "representatives", "cycle", "product",
}
OPS = {"eq", "ne", "in", "not_in", "gte", "gt", "lte", "lt", "contains_any", "under"}
SAME_KEYS = {"category", "region", "unit", "owner_unit", "kind", "phone", "account", "subject", "product",
             "text"}  # text: similar wording (the text app's similarity; no text app: only this case)
SEVERITY_ORDER = {"general": 0, "difficult": 1, "major": 2}
EFFECTS = {"set_severity", "set_class", "add_tag", "require_approval", "notify", "escalate", "mark_repeat", "recuse"}
AGE_UNITS = {"calendar_days", "working_days", "hours"}
# Calendar-aligned count windows and the span each covers at most (for the scheduler's narrowing).
WINDOWS = {"same_day": 24, "same_week": 7 * 24, "same_month": 31 * 24}
# The keys each condition and effect takes (anything else is refused).
CONDITION_KEYS = {
    "age": {"gte", "unit"},
    "timer": {"code", "state"},
    "count": {"same", "window_hours", "window", "gte", "kinds", "channels", "valid_only"},
    "repeat": {"within_days"},
    "share": {"of", "window_hours", "gte"},
}
RULE_KEYS = {"name", "when", "then", "triggers", "note", "basis"}


class RuleError(ValueError):
    """A rule that cannot be understood; `path` says where (e.g. rules[3].when.any[1])."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Rule:
    name: str
    when: Mapping[str, Any]
    then: tuple[Mapping[str, Any], ...]
    on: frozenset[str] = frozenset(TRIGGERS)

    @property
    def needs(self) -> frozenset[str]:
        """Condition kinds used ("age", "timer", "count", "repeat", "field"), for the scheduler."""
        return frozenset(_kinds(self.when))


def _kinds(cond: Mapping[str, Any]) -> set[str]:
    if "all" in cond or "any" in cond:
        out: set[str] = set()
        for c in cond.get("all", cond.get("any", [])):
            out |= _kinds(c)
        return out
    if "not" in cond:
        return _kinds(cond["not"])
    return {next(k for k in ("age", "timer", "count", "repeat", "share", "flag", "tag", "field") if k in cond)}


def parse_rules(raw: Any, *, path: str = "rules") -> list[Rule]:
    """Check and parse a policy's `rules` list; RuleError names the first problem."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RuleError(path, "must be a list of rules")
    rules, names = [], set()
    for i, item in enumerate(raw):
        p = f"{path}[{i}]"
        if not isinstance(item, dict):
            raise RuleError(p, "a rule is a mapping with name, when, then")
        unknown = set(item) - RULE_KEYS
        if unknown:
            hint = " (YAML reads a bare `on` as true: the key is `triggers`)" if True in unknown else ""
            raise RuleError(f"{p}.{min(map(str, unknown))}",
                            f"unknown keys: {', '.join(sorted(map(str, unknown)))}{hint}")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise RuleError(p, "name is required")
        if name in names:
            raise RuleError(p, f"duplicate rule name {name!r}")
        names.add(name)
        if "when" not in item:
            raise RuleError(p, "when is required")
        _check_condition(item["when"], f"{p}.when")
        then = item.get("then")
        if not isinstance(then, list) or not then:
            raise RuleError(f"{p}.then", "must be a non-empty list of effects")
        for j, eff in enumerate(then):
            _check_effect(eff, f"{p}.then[{j}]")
        on = item.get("triggers", list(TRIGGERS))
        if isinstance(on, str):
            on = [on]
        if not isinstance(on, list) or not on or not set(on) <= set(TRIGGERS):
            raise RuleError(f"{p}.triggers", f"must be some of {', '.join(TRIGGERS)}")
        rules.append(Rule(name=name, when=_normalised(item["when"]), then=tuple(then), on=frozenset(on)))
    return rules


def _normalised(cond: Mapping[str, Any]) -> Mapping[str, Any]:
    """The condition with every calendar-aligned count given the span it covers at most as
    `window_hours` too (what the scheduler narrows its candidates with)."""
    if "all" in cond or "any" in cond:
        key = "all" if "all" in cond else "any"
        return {key: [_normalised(c) for c in cond[key]]}
    if "not" in cond:
        return {"not": _normalised(cond["not"])}
    if "count" in cond and "window" in cond["count"]:
        return {"count": {**cond["count"], "window_hours": WINDOWS[cond["count"]["window"]]}}
    return cond


def _only_keys(spec: Mapping[str, Any], allowed: set[str], p: str) -> None:
    unknown = set(map(str, spec)) - allowed
    if unknown:
        key = min(unknown)
        raise RuleError(f"{p}.{key}", f"unknown key {key!r}; allowed: {', '.join(sorted(allowed))}")


def _check_condition(cond: Any, p: str) -> None:
    if not isinstance(cond, dict) or not cond:
        raise RuleError(p, "a condition is a non-empty mapping")
    if "all" in cond or "any" in cond:
        key = "all" if "all" in cond else "any"
        if len(cond) != 1 or not isinstance(cond[key], list) or not cond[key]:
            raise RuleError(p, f"{key} takes a non-empty list of conditions and nothing else")
        for i, c in enumerate(cond[key]):
            _check_condition(c, f"{p}.{key}[{i}]")
    elif "not" in cond:
        if len(cond) != 1:
            raise RuleError(p, "not takes one condition and nothing else")
        _check_condition(cond["not"], f"{p}.not")
    elif "field" in cond:
        if cond["field"] not in FIELDS:
            raise RuleError(p, f"unknown field {cond['field']!r}; fields: {', '.join(sorted(FIELDS))}")
        ops = set(cond) - {"field"}
        if len(ops) != 1 or not ops <= OPS:
            raise RuleError(p, f"a field condition takes exactly one operator of {', '.join(sorted(OPS))}")
        op = ops.pop()
        value = cond[op]
        if op in ("in", "not_in", "contains_any") and not isinstance(value, list):
            raise RuleError(p, f"{op} takes a list")
        if op in ("gte", "gt", "lte", "lt"):
            try:
                Decimal(str(value))
            except InvalidOperation:
                raise RuleError(p, f"{op} takes a number") from None
    elif "flag" in cond or "tag" in cond:
        if len(cond) != 1 or not isinstance(next(iter(cond.values())), str):
            raise RuleError(p, "flag/tag takes one name")
    elif len(cond) != 1:
        raise RuleError(p, f"a condition has one key; found {', '.join(sorted(map(str, cond)))}")
    elif "age" in cond:
        spec = cond["age"]
        if isinstance(spec, dict):
            _only_keys(spec, CONDITION_KEYS["age"], f"{p}.age")
        if not isinstance(spec, dict) or not isinstance(spec.get("gte"), (int, float)) or spec.get(
            "unit", "calendar_days"
        ) not in AGE_UNITS:
            raise RuleError(p, f"age takes {{gte: number, unit: {'|'.join(sorted(AGE_UNITS))}}}")
    elif "timer" in cond:
        spec = cond["timer"]
        if isinstance(spec, dict):
            _only_keys(spec, CONDITION_KEYS["timer"], f"{p}.timer")
        if not isinstance(spec, dict) or not isinstance(spec.get("code"), str) or spec.get("state") not in (
            "running", "paused", "met", "breached", "cancelled"
        ):
            raise RuleError(p, "timer takes {code: <timer code>, state: running|paused|met|breached|cancelled}")
    elif "count" in cond:
        spec = cond["count"]
        if not isinstance(spec, dict):
            raise RuleError(p, "count takes a mapping")
        same = spec.get("same", [])
        if not isinstance(same, list) or not set(same) <= SAME_KEYS:
            raise RuleError(p, f"count.same takes some of {', '.join(sorted(SAME_KEYS))}")
        _only_keys(spec, CONDITION_KEYS["count"], f"{p}.count")
        if ("window" in spec) == ("window_hours" in spec):
            raise RuleError(p, "count takes window_hours (a sliding window) or window (same_day, same_week, "
                               "same_month), one of them")
        if "window" in spec and str(spec["window"]) not in WINDOWS:
            raise RuleError(f"{p}.count.window", f"window is one of {', '.join(WINDOWS)}")
        if "window_hours" in spec and (not isinstance(spec["window_hours"], (int, float)) or spec["window_hours"] <= 0):
            raise RuleError(p, "count.window_hours must be a positive number")
        if not isinstance(spec.get("valid_only", False), bool):
            raise RuleError(p, "count.valid_only is true or false")
        for key in ("kinds", "channels"):
            if not isinstance(spec.get(key, []), list):
                raise RuleError(f"{p}.count.{key}", f"{key} takes a list")
        if not isinstance(spec.get("gte"), int) or spec["gte"] < 1:
            raise RuleError(p, "count.gte must be a positive whole number")
    elif "repeat" in cond:
        spec = cond["repeat"]
        if isinstance(spec, dict):
            _only_keys(spec, CONDITION_KEYS["repeat"], f"{p}.repeat")
        if not isinstance(spec, dict) or not isinstance(spec.get("within_days"), int):
            raise RuleError(p, "repeat takes {within_days: whole number}")
    elif "share" in cond:
        spec = cond["share"]
        if isinstance(spec, dict):
            _only_keys(spec, CONDITION_KEYS["share"], f"{p}.share")
        if (not isinstance(spec, dict) or spec.get("of", "unit") not in ("unit", "owner_unit")
                or not isinstance(spec.get("window_hours"), (int, float)) or spec["window_hours"] <= 0
                or not isinstance(spec.get("gte"), (int, float)) or not 0 < spec["gte"] <= 1):
            raise RuleError(p, "share takes {of: unit|owner_unit, window_hours: hours, gte: a share from 0 to 1}")
    else:
        raise RuleError(p, f"unknown condition {', '.join(sorted(cond))}")


def _check_effect(eff: Any, p: str) -> None:
    if not isinstance(eff, dict) or len(eff) != 1:
        raise RuleError(p, "an effect is a mapping with one key")
    key, value = next(iter(eff.items()))
    if key not in EFFECTS:
        raise RuleError(p, f"unknown effect {key!r}; effects: {', '.join(sorted(EFFECTS))}")
    if key == "set_severity" and value not in SEVERITY_ORDER:
        raise RuleError(p, "set_severity takes general, difficult or major")
    if key in ("set_class", "add_tag") and (not isinstance(value, str) or not value or len(value) > 40):
        raise RuleError(p, f"{key} takes a short name")
    if key == "notify":
        if not isinstance(value, dict) or not isinstance(value.get("roles"), list):
            raise RuleError(p, "notify takes {roles: [...], event: case.…}")
        _only_keys(value, {"roles", "event"}, f"{p}.notify")
    if key in ("require_approval", "escalate", "recuse") and not isinstance(value, bool):
        raise RuleError(p, f"{key} takes true or false")
    if key == "mark_repeat" and not isinstance(value, (bool, int)):
        raise RuleError(p, "mark_repeat takes true or a number of days")


@dataclass
class Facts:
    """What a rule may look at. Callbacks answer questions that need the database."""

    values: dict[str, Any]
    flags: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)
    category_path: list[str] = field(default_factory=list)  # the category and its ancestors
    age: Callable[[str], float] = lambda unit: 0.0
    timer_states: Callable[[], dict[str, str]] = dict  # called only when a rule asks
    count: Callable[[Mapping[str, Any]], int] = lambda spec: 1  # the count spec → how many cases
    repeat: Callable[[int], bool] = lambda days: False
    share: Callable[[str, float], float | None] = lambda of, hours: None


def matches(cond: Mapping[str, Any], facts: Facts) -> bool:
    if "all" in cond:
        return all(matches(c, facts) for c in cond["all"])
    if "any" in cond:
        return any(matches(c, facts) for c in cond["any"])
    if "not" in cond:
        return not matches(cond["not"], facts)
    if "field" in cond:
        return _field(cond, facts)
    if "flag" in cond:
        return cond["flag"] in facts.flags
    if "tag" in cond:
        return cond["tag"] in facts.tags
    if "age" in cond:
        return facts.age(cond["age"].get("unit", "calendar_days")) >= cond["age"]["gte"]
    if "timer" in cond:
        return facts.timer_states().get(cond["timer"]["code"]) == cond["timer"]["state"]
    if "count" in cond:
        return facts.count(cond["count"]) >= cond["count"]["gte"]
    if "repeat" in cond:
        return facts.repeat(int(cond["repeat"]["within_days"]))
    if "share" in cond:
        spec = cond["share"]
        value = facts.share(spec.get("of", "unit"), float(spec["window_hours"]))
        return value is not None and value >= float(spec["gte"])
    return False


def _num(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _field(cond: Mapping[str, Any], facts: Facts) -> bool:
    name = cond["field"]
    op = next(k for k in cond if k != "field")
    expected = cond[op]
    actual = facts.values.get(name)
    if name == "tags":
        actual = facts.tags
    if op == "under":
        return str(expected) in facts.category_path
    if op == "contains_any":
        text = str(actual or "")
        return any(str(word) in text for word in expected)
    if op in ("gte", "gt", "lte", "lt"):
        a, b = _num(actual), _num(expected)
        if a is None or b is None:
            return False
        return {"gte": a >= b, "gt": a > b, "lte": a <= b, "lt": a < b}[op]
    if name == "tags":
        return {"eq": expected in facts.tags, "ne": expected not in facts.tags,
                "in": bool(facts.tags & set(expected)), "not_in": not facts.tags & set(expected)}[op]
    if op == "eq":
        return actual == expected
    if op == "ne":
        return actual != expected
    if op == "in":
        return actual in expected
    if op == "not_in":
        return actual not in expected
    return False


def raises_severity(current: str, new: str) -> bool:
    return SEVERITY_ORDER.get(new, 0) > SEVERITY_ORDER.get(current, 0)
