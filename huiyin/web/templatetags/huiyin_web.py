"""Template helpers of the staff pages: labels for stored codes, remaining time, colours."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from huiyin.cases import selectors
from huiyin.org.access import grants
from huiyin.org.models import Role
from huiyin.policies.services import config_for
from huiyin.sla.calendar import DEFAULT_HOURS, BusinessHours, business_minutes_between

from .. import forms, labels

register = template.Library()


@register.filter
def label(code: Any, kind: str) -> Any:
    """{{ case.state|label:"state" }} → 已登记"""
    return labels.label(kind, code)


@register.simple_tag
def action_field(w: forms.Widget, form_id: str) -> str:
    """{% action_field w form_id %}: one input of an action form (web/forms.py `widget_html`)."""
    return forms.widget_html(w, form_id)


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


def working_span(minutes: int, per_day: int) -> str:
    """Working time as people count it: "20 个工作分钟", "3 个工作小时 20 分钟", "2 个工作日 3 小时"
    (a working day being the policy's business hours, e.g. 7.5 hours)."""
    if minutes < 60:
        return ngettext("%(m)d working minute", "%(m)d working minutes", minutes) % {"m": minutes}
    if minutes < per_day:
        hours, rest = divmod(minutes, 60)
        if not rest:
            return ngettext("%(h)d working hour", "%(h)d working hours", hours) % {"h": hours}
        return _("%(h)d working h %(m)d min") % {"h": hours, "m": rest}
    days, rest = divmod(minutes, per_day)
    hours = rest // 60
    if not hours:
        return ngettext("%(d)d working day", "%(d)d working days", days) % {"d": days}
    return _("%(d)d working d %(h)d h") % {"d": days, "h": hours}


WORKING_UNITS = {"business_hours", "working_days"}


def time_left(due: datetime | None, now: datetime, *, unit: str = "", hours: BusinessHours | None = None) -> str:
    """"剩余 20 个工作分钟" or "超期 2 个工作小时 5 分钟": a deadline counted in working time (business
    hours, working days) is shown in working time — the lunch break, nights, weekends and holidays
    do not count; one counted in natural time (minutes, hours, calendar days) in natural time."""
    if due is None:
        return ""
    if unit in WORKING_UNITS:
        hours = hours or DEFAULT_HOURS
        if due >= now:
            # rounded up: 19 min 58 s left reads "20 working minutes"
            minutes = business_minutes_between(now, due + timedelta(seconds=59), hours=hours)
            return _("%(span)s left") % {"span": working_span(minutes, hours.minutes_per_day)}
        minutes = business_minutes_between(due, now, hours=hours)
        if not minutes:
            return _("overdue")
        return _("overdue by %(span)s") % {"span": working_span(minutes, hours.minutes_per_day)}
    delta = int((due - now).total_seconds())
    if delta >= 0:
        return _("%(span)s left") % {"span": span(delta + 59)}
    return _("overdue by %(span)s") % {"span": span(delta)}


def _hours_of(case: Any) -> BusinessHours | None:
    policy_id = getattr(case, "policy_id", None)
    return config_for(policy_id).business_hours if policy_id else None


@register.filter
def duration(seconds: int | None) -> str:
    return "" if seconds is None else span(seconds)


@register.simple_tag
def remaining(due: datetime | None, now: datetime | None = None) -> str:
    """"3 h 20 min left" or "overdue by 2 d 1 h" (natural time)."""
    return time_left(due, now or timezone.now())


@register.simple_tag
def case_time_left(case: Any, now: datetime | None = None) -> str:
    """A list row's remaining time to its current deadline, in the deadline's own kind of time."""
    due = getattr(case, "next_due", None) or getattr(case, "next_due_at", None)
    timer = getattr(case, "next_timer", None)
    return time_left(due, now or timezone.now(), unit=timer.unit if timer else "", hours=_hours_of(case))


@register.simple_tag
def timer_time_left(timer: Any, case: Any, now: datetime | None = None) -> str:
    """One stage deadline's remaining time (the case page's deadlines)."""
    return time_left(timer.due_at, now or timezone.now(), unit=timer.unit, hours=_hours_of(case))


@register.filter
def urgency(case: Any, now: datetime | None = None) -> str:
    """"overdue" (red), "at_risk" (yellow) or "": the marking of a case in every list."""
    return selectors.urgency(case, now or timezone.now())


@register.filter
def timer_urgency(timer: Any, now: datetime | None = None) -> str:
    """The same marking for one running stage deadline."""
    now = now or timezone.now()
    if timer.stopped_at is not None or timer.state == "paused":
        return ""
    if timer.due_at < now:
        return "overdue"
    if timer.remind_at is not None and timer.remind_at <= now:
        return "at_risk"
    return ""


@register.filter
def waiting_for(case: Any) -> str:
    """The step an open case waits for (the API's `waiting_for`), e.g. "redispatch"."""
    return selectors.waiting_for(case) or ""


@register.filter
def waiting_label(case: Any) -> Any:
    """"等待二次派单（派单员、督办）": what the case waits for and who takes that step."""
    return labels.waiting_text(selectors.waiting_for(case) or "", selectors.waiting_roles(case))


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
    return labels.join(labels.label("role", r) for r in Role.values if r in roles)


@register.filter
def get(mapping: Any, key: Any) -> Any:
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""


@register.simple_tag(takes_context=True)
def unread_count(context: dict[str, Any]) -> int:
    """Unread in-app notifications of the signed-in user (the navbar badge). Counted once per
    request: the navbar shows it twice (the narrow and the wide layout)."""
    from huiyin.notify.selectors import unread_count as count

    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    cached: int | None = getattr(request, "_huiyin_unread", None)
    if cached is None:
        cached = count(user)
        request._huiyin_unread = cached  # type: ignore[union-attr]
    return cached


@register.simple_tag
def js_texts() -> dict[str, str]:
    """The few sentences app.js writes itself, in the reader's language."""
    return {
        "count": _("%(n)s / %(max)s characters"),
        "over": _("At most %(max)s characters: remove %(over)s."),
    }


@register.simple_tag
def colon() -> str:
    """The colon between a label and its value: "：" in Chinese, ": " in English."""
    return pgettext("label separator", ": ")
