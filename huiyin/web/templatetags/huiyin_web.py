"""Template helpers of the staff pages: labels for stored codes, remaining time, colours."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

from huiyin.org.access import grants
from huiyin.org.models import Role

from .. import labels

register = template.Library()


@register.filter
def label(code: Any, kind: str) -> Any:
    """{{ case.state|label:"state" }} → 已登记"""
    return labels.label(kind, code)


@register.filter
def state_colour(state: str) -> str:
    return labels.STATE_COLOURS.get(state, "secondary")


@register.filter
def severity_colour(severity: str) -> str:
    return labels.SEVERITY_COLOURS.get(severity, "secondary")


@register.filter
def iso_dt(value: str | None) -> datetime | None:
    """An ISO time from the API serialisers as a datetime (rendered in Beijing time)."""
    if not value:
        return None
    return datetime.fromisoformat(value)


def span(seconds: int) -> str:
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("%(d)d d %(h)d h") % {"d": days, "h": hours}
    if hours:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    return _("%(m)d min") % {"m": minutes}


@register.filter
def duration(seconds: int | None) -> str:
    return "" if seconds is None else span(seconds)


@register.simple_tag
def remaining(due: datetime | None, now: datetime | None = None) -> str:
    """"3 h 20 min left" or "overdue by 2 d 1 h"."""
    if due is None:
        return ""
    now = now or timezone.now()
    delta = int((due - now).total_seconds())
    if delta >= 0:
        return _("%(span)s left") % {"span": span(delta)}
    return _("overdue by %(span)s") % {"span": span(delta)}


@register.simple_tag(takes_context=True)
def user_roles(context: dict[str, Any]) -> set[str]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return set()
    return {g.role for g in grants(user)}


@register.simple_tag(takes_context=True)
def role_names(context: dict[str, Any]) -> str:
    roles = user_roles(context)
    return "、".join(str(labels.label("role", r)) for r in Role.values if r in roles)


@register.filter
def get(mapping: Any, key: Any) -> Any:
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""


UNIT_FIELDS = {"unit", "proposed_unit", "owner_unit", "returned_by_unit", "co_units"}


@register.simple_tag
def change_text(value: Any, field: str, unit_names: dict[str, str] | None = None) -> Any:
    """A timeline change's stored code as its label (states, kinds, units …); other values as they are."""
    if field in UNIT_FIELDS and unit_names is not None:
        if isinstance(value, list):
            return "、".join(str(unit_names.get(v, v)) for v in value) or "—"
        if isinstance(value, str):
            return unit_names.get(value, value)
    kind = {
        "state": "state", "kind": "kind", "channel": "channel", "severity": "severity",
        "satisfaction": "satisfaction", "liability": "liability", "validity": "validity",
        "close_reason": "close_reason", "from_state": "state", "to_state": "state",
        "time_unit_": "time_unit", "extension_status_": "extension_status",
    }.get(field)
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if kind:
        return labels.label(kind, value)
    if isinstance(value, list):
        return "、".join(str(v) for v in value) or "—"
    if isinstance(value, dict):
        parts = []
        for k, v in value.items():
            if k in ("id", "token", "sha256"):
                continue
            shown = change_text(v, {"unit": "time_unit_", "status": "extension_status_"}.get(k, str(k)), unit_names)
            parts.append(f"{labels.FIELDS.get(k, k)}: {shown}")
        return "；".join(parts)
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        try:
            return timezone.localtime(datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return value
    return value


@register.filter
def field_label(name: str) -> Any:
    return labels.FIELDS.get(name, name)


@register.filter
def action_label(name: str) -> Any:
    return labels.ACTIONS.get(name, name)


@register.simple_tag(takes_context=True)
def unread_count(context: dict[str, Any]) -> int:
    """Unread in-app notifications of the signed-in user (the navbar badge)."""
    from huiyin.notify.selectors import unread_count as count

    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return count(user)
