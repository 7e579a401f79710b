"""Which URLs of the site the suite requests, and which it never does (after Zulip's check in
zerver/lib/test_helpers.py: every URL pattern needs a test that requests it).

What must be requested:
- every URL pattern of the site (huiyin/urls.py and what it includes), by its route
  (`/cases/<str:number>/`); the API's patterns are replaced by the operations of the OpenAPI
  document they serve (`POST /api/v1/cases/{number}/actions/dispatch`: each action is its own
  operation, and each needs a test);
- not Django's admin (its views are Django's, tested there; ours are a few ModelAdmin options,
  exercised in policies/tests/test_admin.py) nor static files (served by whitenoise, no pattern).

A pattern counts as tested when some test got an answer below 400 from it (a 401 or a 404 alone
does not test an operation). A pattern allowed to go untested is listed in EXEMPT with the
reason. The pytest plugin (huiyin/tests/plugin.py) records the key of every such request and,
after a run of the whole suite, fails the run when a pattern was never reached.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.exceptions import Resolver404

EXCLUDED_NAMESPACES = {"admin": "Django's admin: its views are Django's own, tested upstream"}

EXEMPT: dict[str, str] = {
    "/api/v1/": "ninja's root answers nothing but a 404 (it lets ninja reverse its own paths); "
                "test_errors.py checks that 404 is the API's JSON error",
}
"""Keys (see `keys`) that may stay untested, each with the reason."""

_PARAM = re.compile(r"<(?:\w+:)?\w+>")


def routes() -> Iterator[str]:
    """Every route of the site, as Django resolves them (`cases/<str:number>/`), but the excluded
    namespaces'."""

    def walk(patterns: list[Any], prefix: str) -> Iterator[str]:
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.namespace in EXCLUDED_NAMESPACES:
                    continue
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)

    return walk(get_resolver().url_patterns, "")


def _regex(template: str, param: re.Pattern[str]) -> re.Pattern[str]:
    parts = param.split(template)
    return re.compile("^" + "[^/]+".join(re.escape(p) for p in parts) + "$")


_DOC_PARAM = re.compile(r"\{[^}]+\}")


_served: dict[tuple[int, str], list[tuple[str, str]]] = {}


def operations_of(route: str, doc: dict[str, Any]) -> list[tuple[str, str]]:
    """The document's operations (METHOD, /path) a route serves: those whose path the route
    matches, a `{param}` of the document standing for any segment."""
    key = (id(doc), route)
    if key not in _served:
        pattern = _regex("/" + route, _PARAM)
        _served[key] = [(method.upper(), path) for path, item in doc["paths"].items() if pattern.match(path)
                        for method in item]
    return _served[key]


def keys(doc: dict[str, Any]) -> set[str]:
    """What the suite must request: `METHOD /path` for each API operation, `/route` for every
    other pattern."""
    out: set[str] = set()
    for route in routes():
        ops = operations_of(route, doc)
        if ops:
            out.update(f"{m} {p}" for m, p in ops)
        else:
            out.add("/" + route)
    return out


def key_of(method: str, path: str, route: str, doc: dict[str, Any]) -> str | None:
    """The key a request counts for: the documented operation it reached, or its route; None
    for a request to an API pattern that is no documented operation (a 405, an unknown action)."""
    ops = operations_of(route, doc)
    if not ops:
        return "/" + route
    for m, p in ops:
        if m == method.upper() and _regex(p, _DOC_PARAM).match(path):
            return f"{m} {p}"
    return None


def route_of(path: str) -> str | None:
    from django.urls import resolve

    try:
        return resolve(path).route
    except Resolver404:
        return None


def untested(requested: set[str], doc: dict[str, Any]) -> list[str]:
    return sorted(keys(doc) - requested - set(EXEMPT))
