"""The case timeline as people read it: the stored codes of each event (actions, fields, states,
units, roles, satisfaction values, sources, policy versions) rendered as their labels, in the
reader's language. The events themselves keep codes (the API shows them as they are)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from huiyin.cases.models import Event
from huiyin.policies.models import Policy

from . import labels

UNIT_FIELDS = {"unit", "proposed_unit", "owner_unit", "returned_by_unit", "co_units", "proposed_co_units", "co_unit"}
ROLE_FIELDS = {"notify", "chain", "awaiting"}
# field → the label table of its stored codes
CODE_FIELDS = {
    "state": "state", "from_state": "state", "to_state": "state", "kind": "kind", "channel": "channel",
    "severity": "severity", "satisfaction": "satisfaction", "liability": "liability", "validity": "validity",
    "close_reason": "close_reason", "timer": "timer", "invalid_code": "invalid_reason",
    "compensation_status": "compensation_status", "tags": "tag", "flags": "flag", "customer_class": "",
}
# keys inside a recorded dict (an extension, an attachment) → the table of their codes
DICT_KEYS = {"unit": "time_unit", "status": "extension_status", "timer": "timer", "approver": "role"}
HIDDEN_KEYS = {"id", "token", "sha256"}


@dataclass
class Change:
    field: str
    label: Any
    old: str
    new: str


@dataclass
class Entry:
    event: Event
    action: Any
    states: tuple[Any, Any] | None
    actor: str
    source: Any
    changes: list[Change] = field(default_factory=list)

    @property
    def changes_text(self) -> str:
        """"承办单位：县局A；拟派单位：县局A → —"."""
        return labels.statements(
            labels.pair(c.label, pgettext("old and new value", "%(old)s → %(new)s") % {"old": c.old, "new": c.new}
                        if c.old else c.new)
            for c in self.changes
        )

    @property
    def text(self) -> str:
        """Who did what, with the state it moved and what changed: one sentence of a conflict notice."""
        what = str(self.action)
        if self.states:
            what = pgettext("action and states", "%(action)s (%(from)s → %(to)s)") % {
                "action": self.action, "from": self.states[0], "to": self.states[1]}
        text = labels.pair(self.actor, what)
        return labels.pair(text, self.changes_text) if self.changes else text


def policy_titles(events: Iterable[Event]) -> dict[str, str]:
    """"tobacco@1" → the policy's own title, for the events that name a policy version."""
    wanted: set[tuple[str, int]] = set()
    for e in events:
        value = (e.changes or {}).get("policy", [None, None])[1]
        if isinstance(value, str) and "@" in value:
            name, _sep, number = value.rpartition("@")
            if number.isdigit():
                wanted.add((name, int(number)))
    out: dict[str, str] = {}
    for name, version in wanted:
        p = Policy.objects.filter(name=name, version=version).only("name", "version", "title").first()
        if p is not None:
            out[f"{name}@{version}"] = _("%(title)s, version %(n)d") % {"title": p.title or p.name, "n": version}
    return out


def value_text(value: Any, name: str, *, unit_names: dict[str, str], policies: dict[str, str] | None = None) -> str:
    """One recorded value of field `name` as its label."""
    if value is None or value == "" or value == []:
        return "—"
    if name in UNIT_FIELDS:
        if isinstance(value, list):
            return labels.join(unit_names.get(v, v) for v in value)
        return str(unit_names.get(value, value))
    if name in ROLE_FIELDS and isinstance(value, list):
        return labels.join(labels.label("role", v) for v in value)
    if name in ROLE_FIELDS and isinstance(value, str):  # "awaiting": the role whose approval the case waits for
        return str(labels.label("role", value))
    if name == "policy" and isinstance(value, str):
        return (policies or {}).get(value, value)
    if name in ("accept", "uphold") and isinstance(value, bool):
        return str(dict(labels.BOOL_CHOICES[name])["true" if value else "false"])
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    table = CODE_FIELDS.get(name)
    if table:
        if isinstance(value, list):
            return labels.join(labels.label(table, v) for v in value)
        return str(labels.label(table, value))
    if isinstance(value, list):
        return labels.join(value)
    if isinstance(value, dict):
        parts = []
        for k, v in value.items():
            if k in HIDDEN_KEYS:
                continue
            shown = value_text(v, k, unit_names=unit_names) if k not in DICT_KEYS else str(labels.label(DICT_KEYS[k], v))
            parts.append(labels.pair(labels.FIELDS.get(k, k), shown))
        return labels.statements(parts)
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        try:
            return timezone.localtime(datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return value
    return str(value)


def changes_of(event: Event, *, unit_names: dict[str, str], policies: dict[str, str] | None = None) -> list[Change]:
    out = []
    for name, pair in (event.changes or {}).items():
        if name in ("state", "version"):
            continue
        old, new = (pair + [None, None])[:2] if isinstance(pair, list) else (None, pair)
        if old in (None, "", []) and new in (None, "", []):
            continue  # an empty note says nothing
        out.append(Change(
            field=name, label=labels.FIELDS.get(name, name),
            old="" if old is None or old == "" else value_text(old, name, unit_names=unit_names, policies=policies),
            new=value_text(new, name, unit_names=unit_names, policies=policies),
        ))
    return out


def entries(events: list[Event], *, unit_names: dict[str, str]) -> list[Entry]:
    """The events of a case (actors selected), as the timeline shows them."""
    policies = policy_titles(events)
    out = []
    for e in events:
        moved = bool(e.from_state and e.to_state and e.from_state != e.to_state)
        out.append(Entry(
            event=e,
            action=labels.ACTIONS.get(e.action, e.action),
            states=(labels.label("state", e.from_state), labels.label("state", e.to_state)) if moved else None,
            actor=str(e.actor) if e.actor else str(_("system")),
            source=labels.SOURCES.get(e.source, e.source) if e.source else "",
            changes=changes_of(e, unit_names=unit_names, policies=policies),
        ))
    return out
