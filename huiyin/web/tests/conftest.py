"""Fixtures of the staff pages' tests.

Personas are the demo organisation's (huiyin/conftest.py): agent and dispatcher at the centre,
leader and supervisor at the bureau (see everything), handler_a / handler_b at their counties
(handler_b must get 404 on county_a's cases), auditor (read-only).

`web(username)` is a Django test client logged in as that persona. The browser tests use
`pages` from huiyin/conftest.py (one Chromium per test process).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from huiyin.conftest import PASSWORD, Pages, shot  # noqa: F401  (the browser tests import them from here)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """The dashboard caches its figures for a minute; every test starts without them."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def web(org: Any) -> Callable[[str], Client]:
    cache: dict[str, Client] = {}

    def as_(username: str) -> Client:
        if username not in cache:
            client = Client()
            client.force_login(getattr(org, username))
            cache[username] = client
        return cache[username]

    return as_


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert m, "no CSRF token in the form"
    return m.group(1)


# The browser fixtures (`browser`, `pages`, `page`) and `shot` live in huiyin/conftest.py.
