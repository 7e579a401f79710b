"""Shared fixtures: the demo organisation's personas, an API client, the browser.

Personas (demo organisation 示范市局, see huiyin/cases/demo.py):
- agent       受理员 at 监控中心 (centre): registers cases; sees the centre's cases.
- dispatcher  派单员 (and agent) at centre: dispatches, reviews, calls back.
- leader      分管领导 at 示范市局 (bureau): approves (批示); sees everything below the bureau.
- supervisor  督办 at bureau: redispatch, escalate, urge.
- handler_a   处理人/第一责任人 at 县局A: sees only cases dispatched to county_a.
- handler_b   same at 县局B: must get 404 on county_a's cases.
- auditor     审计 at bureau: read-only.

Browser tests (any app): `pages.as_("agent")` is a Chromium page signed in as that persona,
`page` one signed in as nobody, both against a live server; one Chromium per test process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

SH = ZoneInfo("Asia/Shanghai")


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    # Password hashing at full strength costs ~0.3 s per user; tests need no strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    # Property-based tests: no per-example deadline (a shared machine, a real database) and 50
    # examples unless the test asks for more with @settings; HYPOTHESIS_PROFILE=thorough (or
    # --hypothesis-profile=thorough) runs 1000 where the test does not set its own number.
    from hypothesis import HealthCheck
    from hypothesis import settings as hypothesis

    hypothesis.register_profile(
        "huiyin", deadline=None, max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    hypothesis.register_profile("thorough", hypothesis.get_profile("huiyin"), max_examples=1000)
    hypothesis.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "huiyin"))


# Order of the tests. Django runs the tests that commit (transaction=True: live server,
# subprocesses, threads) after the others, since their flush removes what data migrations
# stored; pytest-django keeps that order and so do we. Within each group the slow tests come
# first (a browser, property-based tests, or marked `slow`), so that the parallel workers
# end on short tests and finish together.
SLOW_FIXTURES = frozenset({"browser", "pages", "page", "live_server"})


def _commits(item: pytest.Item) -> bool:
    db = item.get_closest_marker("django_db")
    fixtures = getattr(item, "fixturenames", ())
    return bool(db and (db.kwargs.get("transaction") or db.kwargs.get("reset_sequences"))) or (
        "transactional_db" in fixtures or "live_server" in fixtures
    )


def _slow(item: pytest.Item) -> bool:
    return bool(
        item.get_closest_marker("slow")
        or getattr(getattr(item, "obj", None), "is_hypothesis_test", False)
        or SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: (_commits(item), not _slow(item)))  # stable: modules stay together


def is_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def bj(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A Beijing-time datetime: bj(2026, 2, 13, 9, 0)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SH)


def forget_process_caches() -> None:
    """The calendar, policies and categories this process keeps: rows of a rolled-back
    transaction must not outlive it there."""
    from huiyin.cases.grading import clear_cache as clear_categories
    from huiyin.policies.services import clear_cache as clear_policies
    from huiyin.sla.calendar import reset_cache

    for clear in (reset_cache, clear_policies, clear_categories):
        clear()


@pytest.fixture(autouse=True, scope="session")
def _worker_passes_without_pauses() -> None:
    """A worker pass run by a test pauses after each transaction as long as it took
    (huiyin.db.give_way: it lets requests waiting for SQLite's write lock in). No request of the
    test process waits there, so the pauses were only time: ~800 of them, ~2 s of a half.
    The workers the tests start as processes keep the pauses."""
    from django.conf import settings

    settings.WORKER_GIVE_WAY_MAX_S = 0


@pytest.fixture(autouse=True)
def _fresh_sla_calendar():
    """A calendar year imported in a rolled-back test must not stay in the process cache."""
    forget_process_caches()
    yield
    forget_process_caches()


class Personas:
    def __init__(self) -> None:
        from huiyin.org.models import User

        for u in User.objects.all():
            setattr(self, u.username, u)


PASSWORD = "pw-for-tests"  # every persona's


@pytest.fixture
def org(db: Any) -> Personas:
    _DEMO.load()
    return Personas()


class _DemoSnapshot:
    """The demo organisation for the `org` fixture, built once per test process.

    The first `org` of a process runs `demo_load` for real and keeps the rows it inserted;
    every later one inserts those rows directly (bulk_create with the same primary keys),
    about ten times faster than demo_load's lookups and YAML parsing. It falls back to
    demo_load whenever the copy could differ: when a table the demo fills already has rows
    (a test made its own users first), in production mode (demo_load refuses), or for good
    when demo_load did more than insert rows into empty tables.
    """

    def __init__(self) -> None:
        self.rows: list[tuple[Any, list[Any]]] | None = None
        self.usable = True

    def load(self) -> None:
        from django.conf import settings

        from huiyin.cases.demo import demo_load

        if self.rows is not None and not settings.PRODUCTION and self._tables_empty():
            self._restore()
        elif self.rows is None and self.usable:
            self._capture(lambda: demo_load(password=PASSWORD))
        else:
            demo_load(password=PASSWORD)

    def _models(self) -> list[Any]:
        from django.apps import apps

        return [m for m in apps.get_models(include_auto_created=True) if m._meta.managed and not m._meta.proxy]

    def _tables_empty(self) -> bool:
        return not any(model._base_manager.exists() for model, _ in self.rows or ())

    def _capture(self, load: Any) -> None:
        models = self._models()
        before = {m: {row[0]: row for row in m._base_manager.values_list("pk", *self._columns(m))} for m in models}
        load()
        rows: list[tuple[Any, list[Any]]] = []
        for m in models:
            after = {row[0]: row for row in m._base_manager.values_list("pk", *self._columns(m))}
            if after == before[m]:
                continue
            if before[m]:  # demo_load changed a table that already had rows: copying could differ
                self.usable = False
                return
            rows.append((m, list(m._base_manager.order_by("pk"))))
        self.rows = rows

    @staticmethod
    def _columns(model: Any) -> list[str]:
        return [f.attname for f in model._meta.concrete_fields if not f.primary_key]

    def _restore(self) -> None:
        from django.core.management.color import no_style
        from django.db import connection, transaction
        from django.utils import timezone

        now = timezone.now()
        with transaction.atomic():
            for model, objs in self.rows or ():
                stamped = [f.attname for f in model._meta.concrete_fields if f.default is timezone.now]
                for obj in objs:
                    for name in stamped:  # e.g. date_joined: as if created now (auto_now_add is set by bulk_create)
                        setattr(obj, name, now)
                    obj._state.adding = True
                model._base_manager.bulk_create(objs)
            # PostgreSQL: explicit keys leave the sequences behind; set them past the copied rows.
            with connection.cursor() as cursor:
                for sql in connection.ops.sequence_reset_sql(no_style(), [m for m, _ in self.rows or ()]):
                    cursor.execute(sql)


_DEMO = _DemoSnapshot()


def shared_data[T](django_db_blocker: Any, build: Callable[[], T]) -> Iterator[T]:
    """The body of a module-scoped fixture named `shared_*`: rows that several tests of a module
    read, built once for them instead of once per test, as Django's TestCase.setUpTestData does.

        @pytest.fixture(scope="module")
        def shared_world(django_db_setup, django_db_blocker):
            yield from shared_data(django_db_blocker, build_world)

    The rows are made in a transaction that stays open while the module's tests run (each test
    rolls back to a savepoint of it, as always) and is rolled back after the last of them. Only
    for a module whose every database test uses it: pytest-xdist may run any test of the module
    while the rows are there (a stolen test comes after the others). Not for transactional tests
    (their flush would take the rows away)."""
    from django.db import transaction

    forget_process_caches()  # what an earlier test left (bench/'s tests have no `_fresh_sla_calendar`)
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer._from_testcase = True  # type: ignore[attr-defined]  # durable blocks may open inside, as in a TestCase
        outer.__enter__()
        try:
            data = build()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            forget_process_caches()
            raise
    try:
        yield data
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
        forget_process_caches()


def demo_api() -> Callable[[str], Api]:
    """The demo organisation (loaded if missing) and `api(username)` as the `api` fixture has it,
    for module-scoped fixtures."""
    _DEMO.load()
    return _api_of(Personas())


class Api:
    """A JSON client for /api/v1 acting as one user (bearer token)."""

    def __init__(self, user: Any):
        from huiyin.api.auth import token_issue

        self.user = user
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token_issue(user)}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get("/api/v1" + path, params, headers=self.headers)

    def post(self, path: str, body: Any = None, *, raw: str | None = None, headers: dict[str, str] | None = None) -> Any:
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(
            "/api/v1" + path, data=data, content_type="application/json", headers={**self.headers, **(headers or {})}
        )

    def act(self, number: str, action: str, body: Any = None) -> Any:
        return self.post(f"/cases/{number}/actions/{action}", {} if body is None else body)


@pytest.fixture
def api(org: Personas) -> Callable[[str], Api]:
    return _api_of(org)


def _api_of(org: Personas) -> Callable[[str], Api]:
    cache: dict[str, Api] = {}

    def as_(username: str) -> Api:
        if username not in cache:
            cache[username] = Api(getattr(org, username))
        return cache[username]

    return as_


COMPLAINT = {
    "kind": "complaint",
    "channel": "phone",
    "subject": "配送延误,卷烟未按时到货",
    "description": "零售户反映本周订购的卷烟延误三天送达。",
    "demands": "要求说明原因并保证以后按时配送",
    "complainant": {"name": "张三", "phone": "13800138000", "account": "RT-0001"},
}


def new_case(api: Any, user: str = "agent", **overrides: Any) -> dict[str, Any]:
    body = {**COMPLAINT, **overrides}
    r = api(user).post("/cases", body)
    assert r.status_code == 201, r.content
    return r.json()


# --- the browser ---------------------------------------------------------------------------------
# Debian's Chromium (never a Playwright download), started once per test process; each test gets
# fresh browser contexts (cookie jars), so tests share nothing but the browser process.
# Debian's `chromium-headless-shell` (the same build without the desktop browser around it, what
# Playwright itself runs for headless Chromium) is used when it is installed: it costs about half
# the CPU of `chromium --headless` for the same pages. Without it, `chromium`; HUIYIN_CHROMIUM
# names another binary.
#
#     def test_x(pages):                    # any app; the live server and the personas come along
#         agent = pages.as_("agent")        # signed in, on the workbench
#         agent.goto("/intake/") ...
#
# What costs (Chromium's CPU, measured): a persona's first page (a new context and page) 0.5-1 s,
# a navigation 0.2-0.3 s, a full-page screenshot 0.2 s; Python's side is small beside it.

HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"  # Debian's; /usr/bin's is a shell wrapper
CHROMIUM = os.environ.get("HUIYIN_CHROMIUM") or (HEADLESS_SHELL if Path(HEADLESS_SHELL).exists() else "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium chromium-headless-shell fonts-noto-cjk")
    static = Path(__file__).resolve().parent / "web" / "static" / "vendor" / "tabler.min.css"
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
    """Browser pages against the live server, one browser context (cookie jar) each."""

    def __init__(self, browser: Any, base_url: str):
        self.browser = browser
        self.base_url = base_url
        self.contexts: dict[str, Any] = {}
        self.pages: dict[str, Any] = {}

    def new_context(self) -> Any:
        ctx = self.browser.new_context(
            base_url=self.base_url, locale="zh-CN", timezone_id="Asia/Shanghai",
            viewport={"width": 1400, "height": 900}, accept_downloads=True,
        )
        ctx.set_default_timeout(10_000)
        return ctx

    def as_(self, username: str) -> Any:
        """A page on the workbench ("/"), signed in as `username` (the same page on every call).

        The session is made on the server (Client.force_login: the same login signal and audit
        record as the form) and handed to the browser as its cookie; signing in through the form
        would cost three page loads per persona (test_pages checks the form itself)."""
        if username not in self.pages:
            from django.conf import settings

            from huiyin.org.models import User

            client = Client()
            client.force_login(User.objects.get(username=username))
            ctx = self.new_context()
            ctx.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": self.base_url, "httpOnly": True,
                              "value": client.cookies[settings.SESSION_COOKIE_NAME].value}])
            page = ctx.new_page()
            page.goto("/")
            self.contexts[username], self.pages[username] = ctx, page
        return self.pages[username]

    def anonymous(self) -> Any:
        """A new page signed in as nobody, on about:blank (`page.goto("/login/")`)."""
        ctx = self.new_context()
        self.contexts[f"anonymous-{len(self.contexts)}"] = ctx
        return ctx.new_page()

    def close(self) -> None:
        for ctx in self.contexts.values():
            ctx.close()


@pytest.fixture
def pages(browser: Any, live_server: Any, org: Personas) -> Iterator[Pages]:
    p = Pages(browser, live_server.url)
    yield p
    p.close()


@pytest.fixture
def page(pages: Pages) -> Any:
    """A browser page signed in as nobody (the demo organisation exists)."""
    return pages.anonymous()


SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"


def screenshots_wanted() -> bool:
    """Whether this run saves the pages' screenshots: yes, unless HUIYIN_TEST_SCREENSHOTS=0
    (~0.2 s of Chromium a full-page PNG, ~100 of them in the browser tests; worth saving when the
    browser tests are run again and again). `make test` runs the browser tests once, in its
    PostgreSQL half when there is one (scripts/test), so it saves each screenshot once."""
    return os.environ.get("HUIYIN_TEST_SCREENSHOTS", "1") != "0"


def full_page_shot(page: Any, path: Path) -> Path:
    """A full-page PNG of `page` at `path` (looked at by people, not compared), when this run
    saves screenshots; `path` either way."""
    if screenshots_wanted():
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
    return path


def shot(page: Any, name: str) -> Path:
    """A full-page screenshot var/screenshots/<name>.png (see `full_page_shot`)."""
    return full_page_shot(page, SCREENSHOTS / f"{name}.png")


os.environ.setdefault("HUIYIN_TESTING", "1")
