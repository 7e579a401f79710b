"""Rendering notification texts from admin-editable templates, never failing.

A private template engine: autoescape off (the texts are plain text), no loaders (so
`{% include %}` and `{% extends %}` find nothing), no extra tag libraries, and missing
variables render as "". Any failure is reported by the caller and the default is used.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.template import Context, Engine, Template, TemplateSyntaxError

_engine = Engine(autoescape=False, string_if_invalid="", debug=False, libraries={})


def check_syntax(source: str) -> str | None:
    """None when `source` compiles, else the error message (for the admin form)."""
    try:
        _engine.from_string(source)
    except TemplateSyntaxError as exc:
        return str(exc)
    return None


@lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    return _engine.from_string(source)


def render(source: str, context: dict[str, Any]) -> str:
    """Render `source` with `context`. Raises whatever the template raises.
    Compiled templates are cached by their text (an edit is a new text)."""
    if not source:
        return ""
    return _compiled(source).render(Context(context, autoescape=False))


def one_line(text: str, limit: int) -> str:
    """Subjects and titles: a single line (e-mail headers refuse newlines), cut to `limit`."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
