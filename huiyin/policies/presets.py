"""Presets: the bundles of categories, timers, workflow steps, rules and notification routes
that an organisation loads (DESIGN §9), shipped as YAML files in `policies/presets/`.

`preset_check(text)` refuses a file with an error naming the line and the reason — a wrong
value, and an unknown key anywhere (a `form:` typed for `from:` inside a timer is refused, not
ignored); `policy_load_preset` stores nothing unless the whole file is right.

What a file may contain is declared once, in `SCHEMA` below; docs/policies.md documents every
key of it (a test reads the schema's keys and fails on one the docs do not list).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from huiyin.sla.calendar import BusinessHours, TimeUnit

from .config import (
    ANCHORS,
    BUILTIN_ROLES,
    NOTICE_DOCUMENTS,
    OBLIGATION_ANCHORS,
    RECORD_FORM_FIELDS,
    RETENTION_GROUPS,
    TIMER_ANCHORS,
    TIMER_CODES,
)
from .rules import RuleError, _check_condition, parse_rules

PRESETS_DIR = Path(__file__).parent / "presets"
NAMES = ("tobacco", "12315", "quality", "insurance", "crm", "power", "telecom", "manufacturer", "property",
         "fire", "retail")
KINDS = ("complaint", "consultation", "suggestion", "report", "praise", "employee_complaint")
CHANNELS = ("phone", "web", "email", "letter", "fax", "walk_in", "sms", "wechat", "api", "upstream", "regulator")
SEVERITIES = ("general", "difficult", "major")
FLAGS = ("media", "lawsuit", "regulator", "injury", "extreme")
# The layouts of the reports huiyin.reports builds (docs/reports.md): the analysis report (its
# sections chosen by `by`), the regulator's statistics, a bulletin ranking units, the volume
# ratios, a major case's special report.
REPORT_LAYOUTS = ("analysis", "statistics", "regulator", "bulletin", "volume", "major")
ROLES = BUILTIN_ROLES
EVENTS = ("case.created", "case.dispatched", "case.acknowledged", "case.reminder", "case.breached",
          "case.escalated", "case.urged", "case.result_submitted", "case.callback_due", "case.extension_requested",
          "case.approval_needed", "case.major_opened", "case.closed", "case.reopen_requested",
          "case.information_added")
# The fields a policy may require on a form (`forms.<form>.required`): intake's fields as the
# intake body names them, and each action's input fields (`comment` — 阅办意见, 审核意见 — on any
# action). cases.tests checks that these are the fields cases.inputs accepts.
FORM_FIELDS: dict[str, tuple[str, ...]] = {
    "registration": ("subject", "description", "demands", "product", "occurred_at", "amount", "category", "region",
                     "received_at", "upstream_ref", "upstream_due_at", "complainant.name", "complainant.phone",
                     "complainant.email", "complainant.address", "complainant.account", "complainant.id_number",
                     "complainant.customer_class", "respondent_unit", "respondent_person", "representatives"),
    "submit_result": ("cause", "course", "responsible_person", "conclusion", "countermeasures", "reply", "liability",
                      "comment"),
    "resolve_on_spot": ("reply", "comment"),
    "mark_invalid": ("explanation", "comment"),
    "dispatch": ("instructions", "co_units", "comment"),
    "approve": ("unit", "comment"),
    "acknowledge": ("comment",),
    "reject": ("comment",),
    "approve_plan": ("comment",),
    "approve_reply": ("comment",),
    "review": ("comment",),
    "record_contact": ("notes", "comment"),
    "callback": ("notes", "comment"),
    "close": ("recourse", "comment"),
    "return": ("comment",),
    "co_submit_result": ("comment",),
    "grant_extension": ("comment",),
    "refuse_extension": ("comment",),
    "withdraw": ("comment",),
}
SLUG = re.compile(r"^[a-z][a-z0-9_]{0,19}$")


@dataclass
class PresetError(ValueError):
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


# libyaml's scanner and parser when PyYAML was built with it (its wheels are): the same Python
# resolver and constructor, so the same data, parsed ~5× faster (a preset was parsed in pure
# Python twice, for its data and for its lines: a tenth of the policy tests' time).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse(text: str) -> tuple[Any, yaml.Node | None]:
    """The document's data and its node tree (for the lines), from one parse."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        return (loader.construct_document(node) if node is not None else None), node
    finally:
        loader.dispose()


ALIASES_REFUSED = ("YAML anchors and aliases (&name, *name, <<: *name) are not allowed in a preset: "
                   "write each value out")


def _compose_lines(node: yaml.Node | None) -> dict[str, int]:
    """The line of every key and sequence item of the document, keyed by its path.

    A preset may not use YAML's anchors and aliases (PresetError): none of ours does, and an
    alias makes the composer hand back the same node again, so a few lines of aliases of aliases
    (`b: [*a, *a]`, `c: [*b, *b]`, …) would be walked here, checked and stored as JSON
    exponentially often, and an alias inside its own anchor without end."""
    lines: dict[str, int] = {}
    seen: set[int] = set()

    def walk(n: yaml.Node, path: str) -> None:
        if id(n) in seen:  # the composer gives an alias the anchored node itself
            raise PresetError(_line_of(lines, path), ALIASES_REFUSED)  # the alias's key or item
        seen.add(id(n))  # every node of the tree stays alive meanwhile: an id is never reused
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
        return _checked(text)
    except RecursionError:  # thousands of brackets deep
        raise PresetError(1, "nested too deeply") from None


def _checked(text: str) -> dict[str, Any]:
    try:
        data, node = _parse(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PresetError(mark.line + 1 if mark else 1, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    lines = _compose_lines(node)
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


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


# --- the schema: one node per kind of value -----------------------------------------------------

@dataclass
class Ctx:
    """What a check may need to know of the whole file: the roles it names."""

    roles: tuple[str, ...] = ROLES
    timer: str = ""  # the timer code whose variants are being checked (for `from:`)


class Node(ABC):
    doc_keys: tuple[str, ...] = ()  # the keys this node declares (docs/policies.md lists them)

    @abstractmethod
    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        """Raise _Bad(path, reason) when `value` is not what this node accepts."""

    def children(self) -> Iterator[Node]:
        return iter(())


@dataclass
class Any_(Node):
    """Free text or a number (notes, bases, names)."""

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        if isinstance(value, (dict, list)):
            raise _Bad(path, "must be a plain value (text or a number)")


@dataclass
class Str(Node):
    max_length: int = 2000

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        if not isinstance(value, str) or len(value) > self.max_length:
            raise _Bad(path, f"must be text of at most {self.max_length} characters")


@dataclass
class Bool(Node):
    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        if not isinstance(value, bool):
            raise _Bad(path, "must be true or false")


@dataclass
class Num(Node):
    low: float | None = None
    high: float | None = None
    whole: bool = False
    low_open: bool = False
    high_open: bool = False

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        if isinstance(value, bool) or not isinstance(value, int if self.whole else (int, float)):
            raise _Bad(path, "must be a whole number" if self.whole else "must be a number")
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            raise _Bad(path, f"must be {'above' if self.low_open else 'at least'} {self.low:g}")
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            raise _Bad(path, f"must be {'below' if self.high_open else 'at most'} {self.high:g}")


@dataclass
class OneOf(Node):
    values: tuple[str, ...] | Callable[[Ctx], tuple[str, ...]]

    def allowed(self, ctx: Ctx) -> tuple[str, ...]:
        return self.values(ctx) if callable(self.values) else self.values

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        allowed = self.allowed(ctx)
        if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value) not in allowed:
            raise _Bad(path, f"unknown value {value!r}; allowed: {', '.join(allowed)}")


@dataclass
class Seq(Node):
    item: Node
    non_empty: bool = False
    unique: bool = False

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        if not isinstance(value, list):
            raise _Bad(path, "must be a list")
        if self.non_empty and not value:
            raise _Bad(path, "must not be empty")
        for i, item in enumerate(value):
            self.item.check(item, f"{path}[{i}]", ctx)
        if self.unique and len(set(map(str, value))) != len(value):
            raise _Bad(path, "lists a value twice")

    def children(self) -> Iterator[Node]:
        yield self.item


@dataclass
class Map(Node):
    """A mapping with known keys; any other key is refused with its line."""

    fields: dict[str, Node]
    required: tuple[str, ...] = ()
    check_more: Callable[[dict[str, Any], str, Ctx], None] | None = None

    @property
    def doc_keys(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self.fields)

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        if not isinstance(value, dict):
            raise _Bad(path, f"must be a mapping of {', '.join(self.fields)}")
        unknown = sorted(str(k) for k in value if str(k) not in self.fields)
        if unknown:
            key = unknown[0]
            hint = " (YAML reads a bare `on` as true)" if key == "True" else ""
            raise _Bad(_join(path, key), f"unknown key {key!r}{hint}; allowed here: {', '.join(self.fields)}")
        for key in self.required:
            if key not in value:
                raise _Bad(path, f"{key} is required")
        for key, item in value.items():
            self.fields[str(key)].check(item, _join(path, key), ctx)
        if self.check_more is not None:
            self.check_more(value, path, ctx)

    def children(self) -> Iterator[Node]:
        yield from self.fields.values()


@dataclass
class MapOf(Node):
    """A mapping whose keys are names from a set (timer codes, kinds …), each with a value."""

    keys: OneOf | Callable[[Any, str, Ctx], None]
    value: Node
    value_ctx: Callable[[str, Ctx], Ctx] | None = None

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        if not isinstance(value, dict):
            raise _Bad(path, "must be a mapping")
        for key, item in value.items():
            p = _join(path, key)
            if isinstance(self.keys, OneOf):
                self.keys.check(key, p, ctx)
            else:
                self.keys(key, p, ctx)
            self.value.check(item, p, self.value_ctx(str(key), ctx) if self.value_ctx else ctx)

    def children(self) -> Iterator[Node]:
        yield self.value


@dataclass
class Either(Node):
    """One of several shapes, told apart by the value's type (a list or a mapping)."""

    as_list: Node
    as_map: Node

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        (self.as_list if isinstance(value, list) else self.as_map).check(value, path, ctx)

    def children(self) -> Iterator[Node]:
        yield self.as_list
        yield self.as_map


@dataclass
class Custom(Node):
    fn: Callable[[Any, str, Ctx], None]
    keys: tuple[str, ...] = ()

    @property
    def doc_keys(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.keys

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        self.fn(value, path, ctx)


@dataclass
class Recursive(Node):
    """A node that contains itself (the category tree's children)."""

    target: list[Node] = field(default_factory=list)

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        self.target[0].check(value, path, ctx)


# --- the building blocks ----------------------------------------------------------------------

TEXT = Str()
BASIS = Str(max_length=300)
ROLE = OneOf(lambda ctx: ctx.roles)
ROLE_LIST = Seq(ROLE, unique=True)
KIND_LIST = Seq(OneOf(KINDS), unique=True)
SEVERITY_LIST = Seq(OneOf(SEVERITIES), unique=True)
CHANNEL_LIST = Seq(OneOf(CHANNELS), unique=True)
UNITS = tuple(TimeUnit.values)


def _anchor_allowed(ctx: Ctx) -> tuple[str, ...]:
    return TIMER_ANCHORS.get(ctx.timer, ANCHORS)


class Amount(Map):
    """An amount of time: {amount: whole number ≥ 0, unit: …} (and its other keys)."""

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        if isinstance(value, dict) and (not isinstance(value.get("amount"), int) or isinstance(value.get("amount"), bool)
                                        or value["amount"] < 0):
            raise _Bad(_join(path, "amount") if "amount" in value else path,
                       "needs {amount: whole number ≥ 0, unit: ...}")
        if isinstance(value, dict) and value.get("unit") not in UNITS:
            raise _Bad(_join(path, "unit") if "unit" in value else path, f"unit must be one of {', '.join(UNITS)}")
        super().check(value, path, ctx)


AMOUNT = Amount({"amount": Num(low=0, whole=True), "unit": OneOf(UNITS), "basis": BASIS}, required=("amount", "unit"))
CLOCK = Amount({"amount": Num(low=0, whole=True), "unit": OneOf(UNITS), "from": OneOf(_anchor_allowed)},
               required=("amount", "unit"))


def _check_business_hours(value: Any, path: str, ctx: Ctx) -> None:
    try:
        BusinessHours.parse(value)
    except (ValueError, TypeError) as exc:
        raise _Bad(path, str(exc)) from None


def _check_rules(value: Any, path: str, ctx: Ctx) -> None:
    rules = parse_rules(value)
    for i, rule in enumerate(rules):
        for j, effect in enumerate(rule.then):
            if "notify" in effect:
                ROLE_LIST.check(effect["notify"]["roles"], f"rules[{i}].then[{j}].notify.roles", ctx)
                OneOf(EVENTS).check(effect["notify"].get("event", "case.reminder"), f"rules[{i}].then[{j}].notify.event",
                                    ctx)


def _check_condition_node(value: Any, path: str, ctx: Ctx) -> None:
    _check_condition(value, path)


def _check_round(key: Any, path: str, ctx: Ctx) -> None:
    if str(key) not in ("1", "2", "3"):
        raise _Bad(path, "rounds are 1, 2 or 3 (二次派单 is round 2, 三次派单 round 3)")


def _check_timer_code(key: Any, path: str, ctx: Ctx) -> None:
    if key not in TIMER_CODES:
        raise _Bad(path, f"unknown timer {key!r}; timers: {', '.join(TIMER_CODES)}")


def _timer_ctx(code: str, ctx: Ctx) -> Ctx:
    return Ctx(roles=ctx.roles, timer=code)


TIMER = Map({
    "default": CLOCK,
    "kinds": MapOf(OneOf(KINDS), CLOCK),
    "severities": MapOf(OneOf(SEVERITIES), CLOCK),
    "channels": MapOf(OneOf(CHANNELS), CLOCK),
    "rounds": MapOf(_check_round, CLOCK),
    "co_units": CLOCK,
    "from": OneOf(_anchor_allowed),
    "basis": BASIS,
}, required=("default",))


def _check_slug(key: Any, path: str, ctx: Ctx) -> None:
    if not isinstance(key, str) or not SLUG.match(key):
        raise _Bad(path, "a code is lower-case letters, digits and _ (at most 20), starting with a letter")


def _check_policy_role_code(key: Any, path: str, ctx: Ctx) -> None:
    _check_slug(key, path, ctx)
    if key in BUILTIN_ROLES:
        raise _Bad(path, f"{key!r} is a built-in role; a policy role needs a name of its own")


def _check_obligations(value: list[Any], path: str, ctx: Ctx) -> None:
    seen: set[str] = set()
    for i, item in enumerate(value):
        code = item["code"]
        _check_slug(code, f"{path}[{i}].code", ctx)
        if code in TIMER_CODES or code in seen:
            raise _Bad(f"{path}[{i}].code", f"the code {code!r} is a timer's or another obligation's")
        seen.add(code)


OBLIGATION = Map({
    "code": Str(max_length=20), "name": Str(max_length=100), "when": Custom(_check_condition_node),
    "from": OneOf(OBLIGATION_ANCHORS), "due": AMOUNT, "role": ROLE, "basis": BASIS,
}, required=("code", "name", "due"))

def _check_obligation_list(value: Any, path: str, ctx: Ctx) -> None:
    Seq(OBLIGATION).check(value, path, ctx)
    _check_obligations(value, path, ctx)


CATEGORY = Recursive()
CATEGORY.target.append(Map({
    "code": Str(max_length=64), "name": Str(max_length=100), "class": OneOf(("A", "B", "C")),
    "compensation": Str(max_length=200), "share": Num(low=0, high=1), "children": Seq(CATEGORY),
}, required=("code", "name")))


def _check_categories(value: Any, path: str, ctx: Ctx) -> None:
    Seq(CATEGORY).check(value, path, ctx)
    seen: set[str] = set()

    def walk(items: list[dict[str, Any]], p: str) -> None:
        for i, item in enumerate(items):
            if not re.fullmatch(r"[-a-zA-Z0-9_]{1,64}", item["code"]):
                raise _Bad(f"{p}[{i}].code", "a category code is letters, digits, - and _")
            if item["code"] in seen:
                raise _Bad(f"{p}[{i}].code", f"duplicate category code {item['code']!r}")
            seen.add(item["code"])
            walk(item.get("children", []), f"{p}[{i}].children")

    walk(value, path)


def _check_forms(value: Any, path: str, ctx: Ctx) -> None:
    if not isinstance(value, dict):
        raise _Bad(path, "must be a mapping of forms (registration, submit_result …)")
    for form, spec in value.items():
        p = _join(path, form)
        OneOf(tuple(FORM_FIELDS)).check(form, p, ctx)
        Map({"required": Seq(OneOf(FORM_FIELDS[form]), unique=True), "basis": BASIS}).check(spec, p, ctx)


def _check_extension(value: dict[str, Any], path: str, ctx: Ctx) -> None:
    tiers = value.get("tiers", [])
    units = {t["max"]["unit"] for t in tiers}
    if len(units) > 1:
        raise _Bad(f"{path}.tiers", "every tier counts in the same unit (e.g. calendar_days)")
    amounts = [t["max"]["amount"] for t in tiers]
    if amounts != sorted(amounts) or len(set(amounts)) != len(amounts):
        raise _Bad(f"{path}.tiers", "tiers go from the shortest limit to the longest")


def _check_approval_before_dispatch(value: dict[str, Any], path: str, ctx: Ctx) -> None:
    for kind in (value.get("chains") or {}):
        if not value.get("chains", {}).get(kind):
            raise _Bad(f"{path}.chains.{kind}", "a chain names at least one role")


ROUTE_OVER = ("owner", "unit", "registrar", "awaiting")
# The personal transports a route may choose; the in-app inbox is always written.
ROUTE_TRANSPORTS = ("email", "sms")
ROUTE_WHEN = Map({
    "severities": SEVERITY_LIST, "kinds": KIND_LIST, "channels": CHANNEL_LIST,
    "flags": Seq(Str(max_length=40), unique=True), "hours": OneOf(("in", "out")),
})
ROUTE = Map({"roles": ROLE_LIST, "over": OneOf(ROUTE_OVER), "when": ROUTE_WHEN,
             "transport": Seq(OneOf(ROUTE_TRANSPORTS), unique=True), "duty": Bool(), "basis": BASIS})

SCHEMA = Map({
    "name": Str(max_length=50),
    "title": Str(max_length=200),
    "seed": Str(max_length=200),
    "note": TEXT,
    "region": Str(max_length=100),
    "roles": MapOf(_check_policy_role_code, Map({"name": Str(max_length=50), "role": OneOf(BUILTIN_ROLES),
                                                 "unit": Str(max_length=64), "basis": BASIS}, required=("name", "role"))),
    "categories": Custom(_check_categories, keys=("code", "name", "class", "compensation", "share", "children")),
    "severities": MapOf(OneOf(SEVERITIES), Map({"name": Str(max_length=50), "basis": BASIS})),
    "invalid_reasons": Seq(Str(max_length=200)),
    "business_hours": Custom(_check_business_hours),
    "workflow": Map({
        "approval_before_dispatch": Either(
            KIND_LIST,
            Map({"kinds": KIND_LIST, "severities": SEVERITY_LIST, "channels": CHANNEL_LIST, "chain": ROLE_LIST,
                 "chains": MapOf(OneOf(KINDS), ROLE_LIST), "basis": BASIS},
                check_more=_check_approval_before_dispatch),
        ),
        "plan_approval_severities": SEVERITY_LIST,
        "plan_approval_chain": Seq(ROLE, non_empty=True),
        "reply_approval": Either(ROLE_LIST, Map({"default": ROLE_LIST, "kinds": MapOf(OneOf(KINDS), ROLE_LIST)})),
        "close_requires_signoff": Bool(),
        "satisfied_decision": ROLE_LIST,
        "callback_required": Bool(),
        "callback_on_spot": Bool(),
        # false: a case the policy calls back may be registered without a way to reach the
        # complainant (PolicyConfig.contact_required; default: required)
        "contact_required": Bool(),
        "unreachable_attempts": Num(low=1, whole=True),
        "max_round": Num(low=1, high=3, whole=True),
        "appeal": Map({"kinds": KIND_LIST, "reviewers": Seq(ROLE, non_empty=True), "basis": BASIS}),
        "withdrawal": Bool(),
    }),
    "extension_max": AMOUNT,
    "extension": Map({
        "timer": OneOf(("resolve", "end_to_end")),
        "tiers": Seq(Map({"max": AMOUNT, "approver": ROLE, "basis": BASIS}, required=("max", "approver")),
                     non_empty=True),
        "basis": BASIS,
    }, check_more=_check_extension),
    "reminder_share": Num(low=0, high=1, low_open=True, high_open=True),
    "timers": MapOf(_check_timer_code, TIMER, value_ctx=_timer_ctx),
    "obligations": Custom(_check_obligation_list, keys=tuple(OBLIGATION.fields)),
    "callback": Map({"kinds": KIND_LIST, "sample": Num(low=0, high=1, low_open=True), "basis": BASIS}),
    "compensation": Map({"approval_above": Num(low=0), "basis": BASIS}),
    "repeat": Map({"within_days": Num(low=1, whole=True), "open_contact": OneOf(("new", "urge")), "basis": BASIS}),
    "forms": Custom(_check_forms, keys=("required",)),
    "notifications": Map({"routes": MapOf(OneOf(EVENTS), Seq(ROUTE))}),
    "portal": Map({"kinds": KIND_LIST, "reopen_days": Num(low=0, whole=True), "basis": BASIS}),
    "documents": Map({
        "record_form": Map({"title": Str(max_length=100), "kinds": MapOf(OneOf(KINDS), Str(max_length=100)),
                            "fields": Seq(OneOf(RECORD_FORM_FIELDS), unique=True), "basis": BASIS}),
        "notices": Seq(Map({"document": OneOf(NOTICE_DOCUMENTS), "channels": CHANNEL_LIST, "kinds": KIND_LIST,
                            "basis": BASIS}, required=("document",))),
    }),
    "privacy": Map({
        "notice_version": Str(max_length=50),
        "export": Map({"approval": ROLE_LIST, "basis": BASIS}),
        "retention": Map({group: Map({"days": Num(low=1, whole=True), "purpose": Str(max_length=300),
                                      "basis": BASIS}) for group in RETENTION_GROUPS}),
        "requests": Map({"amount": Num(low=1, whole=True), "unit": OneOf(("calendar_days", "working_days")),
                         "basis": BASIS}),
        "basis": BASIS,
    }),
    "rules": Custom(_check_rules),
    "reports": Seq(Map({
        "code": Str(max_length=64), "name": Str(max_length=200), "period": Either(Seq(Str()), Str()),
        "by": Seq(Str()), "for": Seq(Str()), "due": Map({"amount": Num(low=0), "unit": OneOf(UNITS),
                                                           "after": OneOf(("closed",))}),
        "due_day": Num(low=1, high=31, whole=True), "to": Str(), "basis": BASIS,
        # read by huiyin.reports: the report's layout, who receives it, a bulletin's indicators
        "layout": OneOf(REPORT_LAYOUTS), "roles": ROLE_LIST, "indicators": Seq(Str()),
    }, required=("code", "name"))),
    "penalties": Seq(Map({
        "code": Str(max_length=64), "fine": Either(Seq(Num(low=0)), Num(low=0)), "media_fine": Seq(Num(low=0)),
        "points": Either(Seq(Any_()), Any_()), "action": Str(), "who": Seq(Str()), "threshold": Num(low=1, whole=True),
        "period": Str(), "tags": Seq(Str()), "severities": SEVERITY_LIST, "reward": Bool(), "basis": BASIS,
        # read by huiyin.reports: a further condition, one entry per case or per late stage, the
        # kinds it applies to, or recorded by a person only (隐瞒, 打击报复 …)
        "when": Custom(_check_condition_node), "per": OneOf(("case", "late_stage")), "kinds": KIND_LIST,
        "manual": Bool(),
    }, required=("code",))),
    # 预警 (huiyin.reports): a category, unit or region above its usual level (robust z-score over a
    # rolling baseline), group complaints forming, cases at risk of going to regulators or the media
    "warnings": Map({
        "baseline_weeks": Num(low=3, high=52, whole=True), "window_days": Num(low=1, high=31, whole=True),
        "min_cases": Num(low=1, whole=True), "levels": Map({"yellow": Num(low=0), "orange": Num(low=0),
                                                             "red": Num(low=0)}),
        "by": Seq(OneOf(("category", "unit", "region"))),
        "group": Map({"cases": Num(low=2, whole=True), "hours": Num(low=1, whole=True), "basis": BASIS}),
        "risk": Map({"flags": Seq(OneOf(FLAGS)), "keywords": Seq(Str(max_length=50)),
                     "urges": Num(low=1, whole=True), "basis": BASIS}),
        "notify": ROLE_LIST, "basis": BASIS,
    }),
    # 质检 (huiyin.reports): the checklist a supervisor scores a closed case against
    "quality": Map({
        "checklist": Seq(Map({"code": Str(max_length=40), "name": Str(max_length=100),
                              "points": Num(low=1, whole=True), "basis": BASIS}, required=("code", "name", "points")),
                         non_empty=True),
        "sample": Num(low=0, high=1, low_open=True), "basis": BASIS,
    }),
}, required=("name",))


def schema_keys(node: Node = SCHEMA) -> set[str]:
    """Every key the loader accepts anywhere in a preset (docs/policies.md lists each one)."""
    keys = set(node.doc_keys)
    for child in node.children():
        if isinstance(child, Recursive):
            continue
        keys |= schema_keys(child)
    if isinstance(node, Map) and "categories" in node.fields:
        keys |= schema_keys(CATEGORY.target[0])
    return keys


def _check(data: Any) -> None:
    if not isinstance(data, dict):
        raise _Bad("", "a preset is a mapping")
    if not isinstance(data.get("name"), str) or not data["name"]:
        raise _Bad("name", "name is required")
    policy_roles = data.get("roles") or {}
    ctx = Ctx(roles=ROLES + tuple(str(k) for k in policy_roles) if isinstance(policy_roles, dict) else ROLES)
    SCHEMA.check(data, "", ctx)


def preset_text(name: str) -> str:
    if name not in NAMES and not (PRESETS_DIR / f"{name}.yaml").exists():
        raise FileNotFoundError(f"No preset named {name!r}; presets: {', '.join(available())}")
    return (PRESETS_DIR / f"{name}.yaml").read_text(encoding="utf-8")


def available() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
