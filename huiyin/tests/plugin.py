"""The suite's pytest plugin (loaded by pyproject.toml's addopts, `-p huiyin.tests.plugin`).

It watches every request a test makes through Django's request handler — the test Client and
the browser tests' live server alike — and:

1. checks every answer of the API against the published OpenAPI document
   (huiyin/api/tests/schema_check.py): a test that received a status, a key or a type the
   document does not describe fails, naming them;
2. records the URL pattern or API operation each request reached with an answer below 400, and
   after a run of the whole suite fails the run when one was never reached so (an operation
   tested only for its 401 and 404 is not tested; huiyin/tests/url_coverage.py). Under
   pytest-xdist each worker hands its records to the controller (`workeroutput`), which checks
   once, after every worker has finished.

The coverage check runs after a run of the whole suite only (no file, -k or -m selection, not
stopped early). HUIYIN_URL_COVERAGE=1 runs it after any run (to see what a few files leave
untested), HUIYIN_URL_COVERAGE=0 never.

3. with `--database-tests-only` (the PostgreSQL half of `make test`, scripts/test), runs only
   the tests that can reach a database. A test that uses no database fixture cannot open the
   test database (pytest-django blocks it), so it gives the same answer on either database and
   has already run in the SQLite half: the calendar's arithmetic, the text blocks, bandit, the
   deploy checks (their subprocesses get an environment of their own). A test that opens none
   but reads the configured database's URL says so with `@pytest.mark.configured_database` and
   runs in both halves. The URL coverage is checked in the first half.
4. with `--browser-tests-elsewhere` (the SQLite half of `make test` when a PostgreSQL half
   follows), leaves out the browser tests that reach a database: the second half runs them.
   They drive the pages through Chromium, whose time is the same on either database, and cost
   about a third of the SQLite half's time (issue 9: that half under 2 minutes). What they ask of
   the database on the way is asked again, on both databases, by the tests without a browser.
   A run with neither option (`pytest` alone, `make test` without PostgreSQL) runs every test.
   The first half still checks the URL coverage without them: every URL must be requested by a
   test that needs no browser, which is the cheaper test anyway.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Generator
from typing import Any

import pytest

_requested: set[str] = set()
_violations: list[str] = []
_lock = threading.Lock()
_untested = pytest.StashKey[list[str]]()
WORKER_KEY = "huiyin_requested"


def _watch(method: str, path: str, response: Any) -> None:
    from huiyin.api.tests.schema_check import document

    from . import url_coverage

    doc = document()
    route = url_coverage.route_of(path)  # resolved again: a middleware may have answered first
    answered = response.status_code < 400  # an error answer alone does not make a pattern tested
    if answered and route is not None and (key := url_coverage.key_of(method, path, route, doc.doc)) is not None:
        with _lock:
            _requested.add(key)
    if path.startswith("/api/") and response.status_code < 500:
        body = None if response.streaming else response.content
        problems = doc.problems(method, path, response.status_code, response.get("Content-Type", ""), body)
        if problems:
            with _lock:
                _violations.extend(problems)


# What a test asks for when it can reach the test database (directly or through a fixture that
# builds rows: `shared_data`'s fixtures depend on django_db_setup; every test has pytest-django's
# django_db_blocker, through an autouse fixture, so it says nothing).
DATABASE_FIXTURES = frozenset({"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback",
                               "live_server", "django_db_setup"})
DATABASE_TESTS_ONLY = "--database-tests-only"
BROWSER_TESTS_ELSEWHERE = "--browser-tests-elsewhere"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(DATABASE_TESTS_ONLY, action="store_true", default=False,
                     help="run only the tests that can reach a database (and those marked configured_database): "
                          "the second database's half of `make test`")
    parser.addoption(BROWSER_TESTS_ELSEWHERE, action="store_true", default=False,
                     help="leave out the browser tests that reach a database: the first half of `make test`, "
                          "when a second half (--database-tests-only) runs them")


def reaches_a_database(item: pytest.Item) -> bool:
    return bool(item.get_closest_marker("django_db") or item.get_closest_marker("configured_database")
                or DATABASE_FIXTURES.intersection(getattr(item, "fixturenames", ())))


def drives_a_browser(item: pytest.Item) -> bool:
    return "browser" in getattr(item, "fixturenames", ())  # huiyin/conftest.py: `pages` and `page` use it


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    second_half = config.getoption(DATABASE_TESTS_ONLY)
    first_half = config.getoption(BROWSER_TESTS_ELSEWHERE)
    if second_half and first_half:
        raise pytest.UsageError(f"{DATABASE_TESTS_ONLY} and {BROWSER_TESTS_ELSEWHERE} name the two halves: "
                                "together they would leave the browser tests out of both")
    if not (second_half or first_half):
        return
    kept: list[pytest.Item] = []
    left: list[pytest.Item] = []
    for item in items:
        if second_half:
            (kept if reaches_a_database(item) else left).append(item)
        else:
            (left if drives_a_browser(item) and reaches_a_database(item) else kept).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


def pytest_configure(config: pytest.Config) -> None:
    from django.core.handlers.base import BaseHandler

    if getattr(BaseHandler.get_response, "huiyin_watched", False):
        return
    original = BaseHandler.get_response

    def get_response(self: BaseHandler, request: Any) -> Any:
        response = original(self, request)
        try:
            _watch(request.method, request.path_info, response)
        except Exception as exc:  # noqa: BLE001 — the watcher never breaks a request: it reports instead
            with _lock:
                _violations.append(f"{request.method} {request.path_info}: the request watcher failed: {exc!r}")
        return response

    get_response.huiyin_watched = True  # type: ignore[attr-defined]
    BaseHandler.get_response = get_response  # type: ignore[method-assign]


def _fail_on_new(mark: int) -> None:
    with _lock:
        new = _violations[mark:]
    if new:
        pytest.fail("API answers that /api/v1/openapi.json does not describe:\n  " + "\n  ".join(new), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    mark = len(_violations)
    result = yield
    _fail_on_new(mark)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    mark = len(_violations)
    result = yield
    _fail_on_new(mark)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    mark = len(_violations)
    result = yield
    _fail_on_new(mark)
    return result


# --- URL coverage -------------------------------------------------------------------------------


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist, on the controller: a worker finished and sent what its tests requested."""
    _requested.update(getattr(node, "workeroutput", {}).get(WORKER_KEY, []))


def _whole_suite(session: pytest.Session, exitstatus: int) -> bool:
    wanted = os.environ.get("HUIYIN_URL_COVERAGE", "")
    if wanted in ("0", "1"):
        return wanted == "1"
    opt = session.config.option
    if session.config.getoption(DATABASE_TESTS_ONLY):
        return False  # the first half checked it, over every test that needs no browser
    return (
        exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
        and not (session.shouldstop or session.shouldfail)
        and session.config.args_source == pytest.Config.ArgsSource.TESTPATHS
        and not (opt.keyword or opt.markexpr or opt.deselect or opt.collectonly or opt.ignore or opt.ignore_glob)
    )


@pytest.hookimpl(tryfirst=True)  # a worker's records must be in workeroutput before xdist sends it
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput"):
        config.workeroutput[WORKER_KEY] = sorted(_requested)  # type: ignore[attr-defined]
        return
    if not _whole_suite(session, exitstatus):
        return
    from huiyin.api.tests.schema_check import document

    from .url_coverage import untested

    missing = untested(_requested, document().doc)
    config.stash[_untested] = missing
    if missing and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    missing = config.stash.get(_untested, None)
    if missing is None:
        return
    if not missing:
        terminalreporter.write_line(f"URL coverage: every URL pattern and API operation was requested "
                                    f"({len(_requested)} seen).")
        return
    terminalreporter.section("URL coverage", red=True)
    terminalreporter.write_line("No test requests these URL patterns / API operations (add a test, or an entry "
                                "with its reason to EXEMPT in huiyin/tests/url_coverage.py):")
    for key in missing:
        terminalreporter.write_line(f"  {key}")
