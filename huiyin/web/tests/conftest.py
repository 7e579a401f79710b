"""Fixtures of the staff pages' tests.

Personas are the demo organisation's (huiyin/conftest.py): agent and dispatcher at the centre,
leader and supervisor at the bureau (see everything), handler_a / handler_b at their counties
(handler_b must get 404 on county_a's cases), auditor (read-only).

`web(username)` is a Django test client logged in as that persona. The browser tests share one
Chromium (Debian's /usr/bin/chromium, never a Playwright download) per test session.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

CHROMIUM = os.environ.get("HUIYIN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
PASSWORD = "pw-for-tests"  # set by the `org` fixture (huiyin/conftest.py)


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


# --- the browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium fonts-noto-cjk")
    static = Path(__file__).resolve().parent.parent / "static" / "vendor" / "tabler.min.css"
    if not static.exists():
        pytest.fail("front-end assets are missing: run scripts/assets (make venv does)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the tests are
    # still synchronous and safe.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Pages:
    """Browser pages logged in as personas, one browser context (cookie jar) each."""

    def __init__(self, browser: Any, base_url: str):
        self.browser = browser
        self.base_url = base_url
        self.contexts: dict[str, Any] = {}
        self.pages: dict[str, Any] = {}

    def as_(self, username: str) -> Any:
        if username not in self.pages:
            ctx = self.browser.new_context(
                base_url=self.base_url, locale="zh-CN", timezone_id="Asia/Shanghai",
                viewport={"width": 1400, "height": 900}, accept_downloads=True,
            )
            ctx.set_default_timeout(10_000)
            page = ctx.new_page()
            page.goto("/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", PASSWORD)
            page.click("form button[type=submit]")
            page.wait_for_url(re.compile(r"/$"))
            self.contexts[username], self.pages[username] = ctx, page
        return self.pages[username]

    def close(self) -> None:
        for ctx in self.contexts.values():
            ctx.close()


@pytest.fixture
def pages(browser: Any, live_server: Any, org: Any) -> Iterator[Pages]:
    p = Pages(browser, live_server.url)
    yield p
    p.close()


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under var/screenshots/ (looked at by people, not compared)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
