"""What the pages say when a case service refuses input: each field's problem in the reader's
language, never the validation library's text (the API keeps its own English messages).

The services validate with the actions' pydantic models (`cases.inputs`); when they refuse, the
BadInput carries each refused field's pydantic error, from which the pages learn *what kind* of
problem it is (missing, too long, not a number …) and say it in words. Problems the services
find themselves (an unknown unit, a case number that does not exist …) come with a stable
short reason per field, mapped here.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from huiyin.cases import services
from huiyin.cases.errors import BadInput
from huiyin.cases.phones import PHONE_HELP

# The services' own reasons (`BadInput.fields` values) → what the pages say.
SERVICE_REASONS = {
    "unknown unit code": lambda: _("choose a unit from the list"),
    "unknown case number": lambda: _("no case has this number"),
    "same case": lambda: _("a case cannot refer to itself"),
    "case is closed": lambda: _("that case is already closed"),
    "unknown category code": lambda: _("choose a category from the list"),
    "in the future": lambda: _("this time is in the future"),
    "too large": lambda: _("the file is too large"),
    "type not allowed": lambda: _("this type of file is not accepted"),
    "empty": lambda: _("the file is empty"),
    "expected an object": lambda: _("the form could not be read; reload the page"),
    "unknown field": lambda: _("this field is not accepted"),
    services.CONTACT_REASON: lambda: _("the policy calls this case back: enter a phone number, an e-mail address "
                                       "or a postal address (only a report may be anonymous)"),
}


def _length(value: Any) -> int:
    return len(value) if isinstance(value, (str, list)) else 0


def problem_text(err: dict[str, Any], field: str) -> str:
    """One pydantic error (type, ctx, input) as a sentence part for the field."""
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if field.endswith("phone") and kind == "value_error":
        return str(PHONE_HELP)
    if field.endswith("email") and kind == "value_error":
        return _("enter an e-mail address like name@example.com")
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return _("this field is required")
    if kind == "string_too_short":
        return _("at least %(n)d characters") % {"n": ctx.get("min_length", 0)}
    if kind == "string_too_long":
        return _("at most %(max)d characters; this has %(n)d") % {
            "max": ctx.get("max_length", 0), "n": _length(err.get("input"))}
    if kind == "too_long":
        return _("at most %(max)d items") % {"max": ctx.get("max_length", 0)}
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return _("enter a whole number")
    if kind in ("decimal_parsing", "decimal_type", "float_parsing", "decimal_whole_digits"):
        return _("enter a number")
    if kind == "decimal_max_places":
        return _("at most %(n)d decimal places") % {"n": ctx.get("decimal_places", 2)}
    if kind in ("greater_than_equal", "greater_than"):
        return _("must be at least %(n)s") % {"n": ctx.get("ge", ctx.get("gt", ""))}
    if kind in ("less_than_equal", "less_than"):
        return _("must be at most %(n)s") % {"n": ctx.get("le", ctx.get("lt", ""))}
    if kind in ("literal_error", "enum"):
        return _("choose one of the options")
    if kind in ("bool_parsing", "bool_type"):
        return _("choose one of the options")
    if kind.startswith(("datetime", "date")):
        return _("enter a date and time")
    if kind == "extra_forbidden":
        return _("this field is not accepted")
    return _("this value is not valid")


def field_problems(exc: BadInput) -> dict[str, str]:
    """The problem of each field, keyed as the service names them ("complainant.phone"): the kind
    of pydantic error the model gave (`exc.errors`), else the service's own reason."""
    out = {loc: problem_text(err, loc) for loc, err in exc.errors.items()}
    for name, reason in exc.fields.items():
        if name not in out:
            known = SERVICE_REASONS.get(reason)
            out[name] = known() if known else _("this value is not valid")
    return out
