"""`make test`'s second half (PostgreSQL) runs only the tests that can reach a database
(huiyin/tests/plugin.py, `--database-tests-only`): the others gave their answer in the first.
The first half (SQLite) leaves the browser tests to the second (`--browser-tests-elsewhere`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from huiyin.tests.plugin import BROWSER_TESTS_ELSEWHERE, DATABASE_TESTS_ONLY

ROOT = Path(__file__).resolve().parents[2]
NO_DATABASE = "huiyin/sla/tests/test_calendar.py::test_it_agrees_with_the_package_on_every_day_it_covers"
CONFIGURED = "bench/tests/test_guard.py::test_it_refuses_the_database_the_tests_are_configured_with"
NO_DATABASE_FILE = "huiyin/tests/test_health.py"  # a page that reads nothing: deselected like the calendar's test
WITH_DATABASE_FILE = "huiyin/cases/tests/test_demo.py"  # `db`, `org`, `api` …: kept
BROWSER_FILE = "huiyin/web/tests/test_browser.py"  # Chromium and the live server: the second half only
SEPARATOR = "----- the next collection -----"


def collected() -> tuple[set[str], set[str], set[str], str]:
    """The tests collected as they are, as make test's first half (`--browser-tests-elsewhere`)
    and as its second (`--database-tests-only`), and what pytest says to both options at once:
    four collections in one subprocess (pytest.main four times), which pays for the interpreter
    and the imports once."""
    env = {k: v for k, v in os.environ.items() if k != "HUIYIN_URL_COVERAGE"}
    selection = [NO_DATABASE, CONFIGURED, NO_DATABASE_FILE, WITH_DATABASE_FILE, BROWSER_FILE]
    both = [BROWSER_TESTS_ELSEWHERE, DATABASE_TESTS_ONLY]
    code = (
        "import sys, pytest\n"
        f"base = ['--collect-only', '-q', '-p', 'no:randomly', *{selection!r}]\n"
        "codes = []\n"
        f"for option in ([], [{BROWSER_TESTS_ELSEWHERE!r}], [{DATABASE_TESTS_ONLY!r}]):\n"
        "    codes.append(int(pytest.main([*option, *base])))\n"
        f"    print({SEPARATOR!r}, flush=True)\n"
        f"refused = pytest.main([*{both!r}, *base]) == pytest.ExitCode.USAGE_ERROR\n"
        "sys.exit(max(codes) or (0 if refused else 99))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    every, first, second = ({line for line in out.splitlines() if "::" in line}
                            for out in r.stdout.split(SEPARATOR)[:3])
    return every, first, second, r.stderr


def of(tests: set[str], file: str) -> set[str]:
    return {t for t in tests if t.startswith(f"{file}::")}


@pytest.mark.slow
def test_each_test_runs_in_one_half_at_least_and_the_browser_tests_in_one_only() -> None:
    every, first, second, said = collected()
    # the second half: the tests that reach a database, and no other
    assert of(every, WITH_DATABASE_FILE) and of(every, WITH_DATABASE_FILE) <= second
    assert CONFIGURED in second  # opens no test database, but checks the configured one
    assert NO_DATABASE in every and NO_DATABASE not in second
    assert of(every, NO_DATABASE_FILE) and not of(second, NO_DATABASE_FILE)
    # the first half: every test but the browser tests, which the second half runs
    browser = of(every, BROWSER_FILE)
    assert browser and browser <= second and not browser & first
    assert first == every - browser
    # together: no test left out
    assert first | second == every
    assert second < every and first < every
    # both options at once would run the browser tests nowhere: refused, with the reason
    assert "leave the browser tests out of both" in said


class _Page:
    """Stands in for a Playwright page: records where it was asked to save a screenshot."""

    def __init__(self) -> None:
        self.saved: list[str] = []

    def screenshot(self, *, path: str, full_page: bool) -> None:
        assert full_page
        Path(path).write_bytes(b"\x89PNG")
        self.saved.append(path)


def test_the_pages_screenshots_are_saved_unless_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huiyin.conftest import full_page_shot

    page = _Page()
    monkeypatch.delenv("HUIYIN_TEST_SCREENSHOTS", raising=False)
    first = full_page_shot(page, tmp_path / "shots" / "case-laptop.png")
    assert page.saved == [str(first)] and first.exists()
    monkeypatch.setenv("HUIYIN_TEST_SCREENSHOTS", "0")  # browser tests run again and again by hand
    second = full_page_shot(page, tmp_path / "shots" / "board-laptop.png")
    assert page.saved == [str(first)] and not second.exists()


def test_make_test_gives_the_browser_tests_to_the_postgresql_half_only_when_there_is_one() -> None:
    script = (ROOT / "scripts" / "test").read_text()
    first_half, second_half = script.split('echo "== PostgreSQL"', 1)
    assert '[ -n "${HUIYIN_TEST_POSTGRES_URL:-}" ] && first_half=(' + BROWSER_TESTS_ELSEWHERE + ")" in first_half
    assert '"${first_half[@]}"' in first_half and DATABASE_TESTS_ONLY in second_half
    assert "HUIYIN_TEST_SCREENSHOTS" not in script  # each screenshot is taken once: in the half that runs the page
