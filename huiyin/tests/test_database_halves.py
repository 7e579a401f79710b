"""`make test`'s second half (PostgreSQL) runs only the tests that can reach a database
(huiyin/tests/plugin.py, `--database-tests-only`): the others gave their answer in the first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from huiyin.tests.plugin import DATABASE_TESTS_ONLY

ROOT = Path(__file__).resolve().parents[2]
NO_DATABASE = "huiyin/sla/tests/test_calendar.py::test_it_agrees_with_the_package_on_every_day_it_covers"
CONFIGURED = "bench/tests/test_guard.py::test_it_refuses_the_database_the_tests_are_configured_with"
NO_DATABASE_FILE = "huiyin/tests/test_health.py"  # a page that reads nothing: deselected like the calendar's test
WITH_DATABASE_FILE = "huiyin/cases/tests/test_demo.py"  # `db`, `org`, `api` …: kept
SEPARATOR = "----- the second collection -----"


def collected() -> tuple[set[str], set[str]]:
    """The tests collected without and with `--database-tests-only`: two collections in one
    subprocess (pytest.main twice), which pays for the interpreter and the imports once."""
    env = {k: v for k, v in os.environ.items() if k != "HUIYIN_URL_COVERAGE"}
    selection = [NO_DATABASE, CONFIGURED, NO_DATABASE_FILE, WITH_DATABASE_FILE]
    code = (
        "import sys, pytest\n"
        f"base = ['--collect-only', '-q', '-p', 'no:randomly', *{selection!r}]\n"
        "first = pytest.main(base)\n"
        f"print({SEPARATOR!r}, flush=True)\n"
        f"second = pytest.main([{DATABASE_TESTS_ONLY!r}, *base])\n"
        "sys.exit(int(first) or int(second))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    every, second = r.stdout.split(SEPARATOR)
    return ({line for line in every.splitlines() if "::" in line},
            {line for line in second.splitlines() if "::" in line})


@pytest.mark.slow
def test_the_second_half_keeps_the_tests_that_reach_a_database_and_no_other() -> None:
    every, second = collected()
    def of(tests: set[str], file: str) -> set[str]:
        return {t for t in tests if t.startswith(f"{file}::")}

    assert of(every, WITH_DATABASE_FILE) and of(every, WITH_DATABASE_FILE) <= second
    assert CONFIGURED in second  # opens no test database, but checks the configured one
    assert NO_DATABASE in every and NO_DATABASE not in second
    assert of(every, NO_DATABASE_FILE) and not of(second, NO_DATABASE_FILE)
    assert second < every


class _Page:
    """Stands in for a Playwright page: records where it was asked to save a screenshot."""

    def __init__(self) -> None:
        self.saved: list[str] = []

    def screenshot(self, *, path: str, full_page: bool) -> None:
        assert full_page
        Path(path).write_bytes(b"\x89PNG")
        self.saved.append(path)


def test_the_pages_screenshots_are_saved_once_per_make_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huiyin.conftest import full_page_shot

    page = _Page()
    monkeypatch.delenv("HUIYIN_TEST_SCREENSHOTS", raising=False)
    first = full_page_shot(page, tmp_path / "shots" / "case-laptop.png")  # a run of its own, or the first half
    assert page.saved == [str(first)] and first.exists()
    monkeypatch.setenv("HUIYIN_TEST_SCREENSHOTS", "0")  # the second half of make test
    second = full_page_shot(page, tmp_path / "shots" / "board-laptop.png")
    assert page.saved == [str(first)] and not second.exists()
    script = (ROOT / "scripts" / "test").read_text()
    first_half, second_half = script.split('echo "== PostgreSQL"', 1)
    assert "HUIYIN_TEST_SCREENSHOTS" not in first_half
    assert "HUIYIN_TEST_SCREENSHOTS=${HUIYIN_TEST_SCREENSHOTS:-0}" in second_half
