"""`make test`'s second half (PostgreSQL) runs only the tests that can reach a database
(huiyin/tests/plugin.py, `--database-tests-only`): the others gave their answer in the first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NO_DATABASE = "huiyin/sla/tests/test_calendar.py::test_it_agrees_with_the_package_on_every_day_it_covers"
CONFIGURED = "bench/tests/test_guard.py::test_it_refuses_the_database_the_tests_are_configured_with"
WITH_DB = "huiyin/tests/test_health.py"  # no database: deselected with the calendar's test


def collected(*options: str) -> set[str]:
    env = {k: v for k, v in os.environ.items() if k != "HUIYIN_URL_COVERAGE"}
    r = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", *options,
                        NO_DATABASE, CONFIGURED, WITH_DB, "huiyin/cases/tests/test_demo.py"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    return {line for line in r.stdout.splitlines() if "::" in line}


@pytest.mark.slow
def test_the_second_half_keeps_the_tests_that_reach_a_database_and_no_other() -> None:
    every = collected()
    second = collected("--database-tests-only")
    demo = {t for t in every if t.startswith("huiyin/cases/tests/test_demo.py::")}
    assert demo and demo <= second  # tests with `db`, `org`, `api` … stay
    assert CONFIGURED in second  # opens no test database, but checks the configured one
    assert NO_DATABASE in every and NO_DATABASE not in second
    assert not {t for t in second if t.startswith(WITH_DB)} and {t for t in every if t.startswith(WITH_DB)}
    assert second < every
