"""HTML forms derived from the case services' own input models (`cases.inputs`).

The pages never restate what an action accepts: each action's form is read off its pydantic
model (fields, types, Literal choices, lengths, required or not), and the posted strings go
back to `workflow.perform`, which validates them with that same model.
"""

from __future__ import annotations

import enum
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from annotated_types import MaxLen
from django.http import QueryDict
from django.utils import timezone
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]  # (not in django-stubs)
from django.utils.translation import gettext as _
from pydantic.fields import FieldInfo

from huiyin.cases import inputs
from huiyin.cases.models import Case, Category
from huiyin.org.models import Unit

from . import labels

SKIP = {"expected_version"}
TEXTAREA_OVER = 200  # strings longer than this get a textarea


@dataclass
class Widget:
    name: str
    label: Any
    kind: str  # text, textarea, number, decimal, select, multiselect, radio, unit, units, case, category
    required: bool
    choices: list[tuple[str, Any]] = field(default_factory=list)
    max_length: int | None = None
    value: Any = ""
    error: str = ""

    @property
    def values(self) -> list[str]:
        return self.value if isinstance(self.value, list) else [self.value]


@dataclass
class ActionForm:
    action: str
    label: Any
    widgets: list[Widget]
    primary: bool
    danger: bool
    error: str = ""

    @property
    def is_simple(self) -> bool:
        """Only a comment: a one-click button with an optional comment."""
        return all(w.name == "comment" for w in self.widgets)


# --- one input of an action form, as HTML -------------------------------------------------------
# Rendered here rather than by an included template: the case page carries up to nine action
# forms of a few inputs each, and an `{% include %}` per input took about a third of the case
# page's template time (docs/benchmarks.md, rounds 23 and 27). Every value is shown as `{{ }}`
# would show it (`_shown`) and escaped by `format_html`.


def _attr(condition: Any, text: str) -> str:
    return f" {text}" if condition else ""


def _shown(value: Any) -> Any:
    """A value as `{{ value }}` shows it: a moment in the local time, a number localized."""
    return localize(template_localtime(value))


def _options(w: Widget, *, many: bool = False) -> SafeString:
    chosen = w.values if many else [w.value]
    return format_html_join("", '<option value="{}"{}>{}</option>',
                            ((_shown(value), _attr(value in chosen, "selected"), _shown(text))
                             for value, text in w.choices))


def widget_html(w: Widget, form_id: str) -> SafeString:
    """One input of an action form (`w`) inside the form `form_id`: its label, the control of its
    kind (radio buttons, textarea, select, number, case number or text), refilled with
    `w.value`, and its error."""
    fid = f"{form_id}-{w.name}"
    invalid = _attr(w.error, "is-invalid")
    required = _attr(w.required, "required")
    maxlength = format_html(' data-maxlength="{}"', w.max_length) if w.max_length else ""
    label_class = "form-label" + (" required" if w.required else "")
    if w.kind == "radio":
        buttons = format_html_join(
            "", '<input type="radio" class="btn-check" name="{}" id="{}-{}" value="{}"{}{}>'
                '<label class="btn" for="{}-{}">{}</label>',
            ((w.name, fid, _shown(value), _shown(value), _attr(w.value == value, "checked"), required, fid,
              _shown(value), _shown(text)) for value, text in w.choices),
        )
        control = format_html('<div class="{}">{}</div><div class="btn-group w-100" role="group">{}</div>',
                              label_class, _shown(w.label), buttons)
    else:
        value = _shown(w.value)
        if w.kind == "textarea":
            field = format_html('<textarea class="form-control{}" id="{}" name="{}" rows="{}"{}{}>{}</textarea>',
                                invalid, fid, w.name, "1" if w.name == "comment" else "3", maxlength,
                                required, value)
        elif w.kind in ("select", "unit", "category"):
            first = (format_html('<option value="">{}</option>', _("— choose a unit —")) if w.kind == "unit" else
                     format_html('<option value="">{}</option>', _("— choose —")) if w.required and w.kind == "select"
                     else "")
            field = format_html('<select class="form-select{}" id="{}" name="{}"{}>{}{}</select>',
                                invalid, fid, w.name, required, first, _options(w))
        elif w.kind == "units":
            field = format_html(
                '<select class="form-select{}" id="{}" name="{}" multiple size="4">{}</select>'
                '<div class="form-hint">{}</div>', invalid, fid, w.name, _options(w, many=True),
                _("Optional: hold Ctrl to pick several units for a joint case."))
        elif w.kind in ("number", "decimal"):
            low, step = ("1", "1") if w.kind == "number" else ("0", "0.01")
            field = format_html('<input class="form-control{}" type="number" min="{}" step="{}" id="{}" name="{}" '
                                'value="{}"{}>', invalid, low, step, fid, w.name, value, required)
        elif w.kind == "case":
            field = format_html('<input class="form-control font-monospace{}" id="{}" name="{}" value="{}" '
                                'placeholder="TS20260101-000001"{}{}>', invalid, fid, w.name, value, maxlength,
                                required)
        else:
            field = format_html('<input class="form-control{}" id="{}" name="{}" value="{}"{}{}>',
                                invalid, fid, w.name, value, maxlength, required)
        control = format_html('<label class="{}" for="{}">{}</label>{}', label_class, fid, _shown(w.label), field)
    error = format_html('<div class="invalid-feedback d-block">{}</div>', _shown(w.error)) if w.error else ""
    return format_html('<div class="mb-2">{}{}</div>', control, error)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The core type of an annotation and whether None is allowed."""
    optional = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(annotation))
            annotation = args[0]
        else:
            return annotation, optional


def _max_length(info: FieldInfo, annotation: Any) -> int | None:
    for m in info.metadata:
        if isinstance(m, MaxLen):
            return int(m.max_length)
    # Annotated[...] | None keeps its metadata inside the union's member.
    for arg in typing.get_args(annotation):
        for m in getattr(arg, "__metadata__", ()):
            for mm in getattr(m, "metadata", ()):
                if isinstance(mm, MaxLen):
                    return int(mm.max_length)
    return None


def _literal_choices(name: str, values: tuple[Any, ...]) -> list[tuple[str, Any]]:
    lookup = {"liability": "liability", "severity": "severity", "unit": "time_unit", "customer_class": ""}.get(name, "")
    out = []
    for v in values:
        if v == "":
            out.append(("", "—"))
        else:
            out.append((str(v), labels.label(lookup, v) if lookup else v))
    return out


def unit_choices(units: list[Unit]) -> list[tuple[str, Any]]:
    base = min((u.depth for u in units), default=0)
    return [(u.code, "\u3000" * (u.depth - base) + u.name) for u in units]


def category_choices() -> list[tuple[str, Any]]:
    rows = list(Category.objects.filter(active=True).order_by("position", "code"))
    children: dict[int | None, list[Category]] = {}
    for c in rows:
        children.setdefault(c.parent_id, []).append(c)
    out: list[tuple[str, Any]] = []

    def walk(parent: int | None, depth: int) -> None:
        for c in children.get(parent, []):
            out.append((c.code, "\u3000" * depth + c.name))
            walk(c.pk, depth + 1)

    walk(None, 0)
    return out


def widgets_for(action: str, *, units: list[Unit], case: Case | None = None) -> list[Widget]:
    model = inputs.ACTION_INPUTS[action]
    out: list[Widget] = []
    for name, info in model.model_fields.items():
        if name in SKIP:
            continue
        core, optional = _unwrap(info.annotation)
        required = info.is_required()
        label = labels.ACTION_FIELD_LABELS.get((action, name)) or labels.FIELDS.get(name) or name
        w = Widget(name=name, label=label, kind="text", required=required,
                   max_length=_max_length(info, info.annotation))
        origin = typing.get_origin(core)
        if origin is typing.Literal:
            w.kind, w.choices = "select", _literal_choices(name, typing.get_args(core))
        elif isinstance(core, type) and issubclass(core, enum.Enum):
            w.kind = "select"
            w.choices = [(m.value, getattr(m, "label", m.value)) for m in core]
        elif core is bool:
            w.kind = "radio"
            w.choices = labels.BOOL_CHOICES.get(name, [("true", "✓"), ("false", "✗")])
        elif core is int:
            w.kind = "number"
        elif core is Decimal:
            w.kind = "decimal"
        elif origin is list:
            w.kind = "units" if name == "co_units" else "text"
            w.choices = unit_choices(units) if name == "co_units" else []
        elif name == "unit":
            w.kind, w.choices = "unit", unit_choices(units)
        elif name == "category":
            w.kind, w.choices = "category", [("", "—"), *category_choices()]
        elif name in ("into", "to"):
            w.kind = "case"
        elif w.max_length is None or w.max_length > TEXTAREA_OVER:
            w.kind = "textarea"
        if optional and w.kind in ("select",) and not any(v == "" for v, _text in w.choices):
            w.choices = [("", "—"), *w.choices]
        w.value = _initial(action, name, case)
        out.append(w)
    # The comment goes last.
    out.sort(key=lambda w: w.name == "comment")
    return out


def _initial(action: str, name: str, case: Case | None) -> Any:
    if case is None:
        return [] if name == "co_units" else ""
    if action == "classify":
        # The case's current values; a related one (category, respondent unit) by its code, as the
        # action reads it, not by its name.
        value = getattr(case, name, "")
        return getattr(value, "code", value) or ""
    if action == "submit_result" and name in ("cause", "course", "responsible_person", "conclusion",
                                               "countermeasures", "reply", "liability"):
        return getattr(case, name, "") or ""
    if action in ("redispatch", "escalate") and name == "unit":
        return case.unit.code if case.unit_id and case.unit else ""
    if name == "co_units":
        return []
    return ""


def action_form(action: str, *, units: list[Unit], case: Case | None = None) -> ActionForm:
    return ActionForm(
        action=action, label=labels.ACTIONS.get(action, action),
        widgets=widgets_for(action, units=units, case=case),
        primary=action in labels.PRIMARY, danger=action in labels.DANGER,
    )


def action_data(action: str, post: QueryDict) -> dict[str, Any]:
    """The posted form as the action's input: strings left for the input model to validate;
    empty optional fields left out, so the model's defaults apply."""
    model = inputs.ACTION_INPUTS[action]
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        core, optional = _unwrap(info.annotation)
        if typing.get_origin(core) is list:
            values = [v for v in post.getlist(name) if v.strip()]
            if values:
                data[name] = values
            continue
        if name not in post:
            continue
        value = post.get(name, "")
        if value.strip() == "":
            literal_empty = typing.get_origin(core) is typing.Literal and "" in typing.get_args(core)
            if optional or not (literal_empty or core is str):
                continue  # no change / the model's default (or "required", named by the model)
        data[name] = value
    return data


def refill(form: ActionForm, post: QueryDict, fields: dict[str, str]) -> ActionForm:
    """Put the user's input back into the form, with the service's complaints beside the fields."""
    for w in form.widgets:
        if w.kind == "units":
            w.value = post.getlist(w.name)
        elif w.name in post:
            w.value = post.get(w.name, "")
        w.error = fields.get(w.name, "")
    return form


# --- intake ---------------------------------------------------------------------------------

CASE_TEXT_FIELDS = ("subject", "description", "demands", "product", "upstream_ref", "recording_ref")
COMPLAINANT_FIELDS = ("name", "phone", "email", "address", "account", "id_number", "customer_class")


def local_to_iso(value: str) -> str | None:
    """A `datetime-local` input (Beijing wall time) as an ISO time with its offset, for the model."""
    value = value.strip()
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        return value  # left for the input model to refuse, naming the field
    if naive.tzinfo is not None:
        return naive.isoformat()
    return timezone.make_aware(naive).isoformat()


def intake_data(post: QueryDict) -> dict[str, Any]:
    """The intake form as `inputs.CaseIn` data."""
    data: dict[str, Any] = {
        "kind": post.get("kind", ""),
        "channel": post.get("channel", ""),
        "complainant": {name: post.get(f"complainant_{name}", "").strip() for name in COMPLAINANT_FIELDS},
        "flags": post.getlist("flags"),
    }
    data["complainant"]["anonymous"] = post.get("complainant_anonymous") == "on"
    for name in CASE_TEXT_FIELDS:
        data[name] = post.get(name, "")
    for name in ("amount", "people_count", "category"):
        if post.get(name, "").strip():
            data[name] = post.get(name, "").strip()
    for name in ("received_at", "occurred_at", "upstream_due_at"):
        iso = local_to_iso(post.get(name, ""))
        if iso:
            data[name] = iso
    return data
