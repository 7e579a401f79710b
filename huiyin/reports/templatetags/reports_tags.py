"""Small helpers of the reports' templates."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _

register = template.Library()

@register.filter
def pct(value: Any) -> str:
    """A rate between 0 and 1 as a percentage with one decimal; — when there is none."""
    if value is None or value == "":
        return "—"
    try:
        return f"{float(value) * 100:.1f}%"
    except (TypeError, ValueError):
        return "—"


@register.filter
def subtract(a: Any, b: Any) -> Any:
    try:
        return a - b
    except TypeError:
        return ""


@register.filter
def cell(value: Any) -> str:
    """A report table's cell: rates as percentages, counts as they are, nothing as —."""
    if value is None or value == "":
        return "—"
    if isinstance(value, float) and 0 <= value <= 1 and not value.is_integer():
        return pct(value)
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


@register.simple_tag
def dimension_label(dim: str) -> str:
    labels = {"kind": _("Kind"), "channel": _("Channel"), "category": _("Category"), "severity": _("Severity"),
              "customer_class": _("Customer class")}
    return str(labels.get(dim, dim))


@register.simple_tag
def measure_label(measure: str) -> str:
    from ..models import Measure

    try:
        return str(Measure(measure).label)
    except ValueError:
        return measure


@register.filter
def get(mapping: Any, key: Any) -> Any:
    try:
        return mapping[key]
    except (KeyError, IndexError, TypeError):
        return None
