from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def when(value: str | None, what: str = "minute") -> str:
    """An ISO time of the tracking view as the portal shows it: 2026年2月13日 09:30 (or the day alone)."""
    if not value:
        return ""
    try:
        moment = timezone.localtime(datetime.fromisoformat(value))
    except (TypeError, ValueError):
        return ""
    day = f"{moment.year}年{moment.month}月{moment.day}日"
    return day if what == "day" else f"{day} {moment:%H:%M}"
