"""The bench's page measurements on the test database: `make bench-smoke` runs it (with
HUIYIN_BENCH_SMOKE=1, beside `python -m bench --smoke`); `make test` skips it."""

from __future__ import annotations

import os

import pytest

pytestmark = [
    pytest.mark.bench_smoke,
    pytest.mark.skipif(not os.environ.get("HUIYIN_BENCH_SMOKE"), reason="make bench-smoke runs it"),
]


@pytest.mark.django_db
def test_the_web_bench_runs() -> None:
    from bench.web import run
    from huiyin.cases.demo import demo_load
    from huiyin.cases.services import case_register
    from huiyin.org.models import User

    demo_load(password="pw-for-tests")
    case_register({"kind": "complaint", "channel": "phone", "subject": "配送延误", "description": "未按时送达",
                   "complainant": {"name": "张三", "phone": "13800138000"}},
                  actor=User.objects.get(username="agent"))
    result = run(samples=2, warmup=1, log=lambda _: None)
    assert result["cases"] == 1
    errors = {k: v["error"] for k, v in result["pages"].items() if "error" in v}
    assert not errors
    assert result["pages"]["case_page_dispatcher"]["p95_ms"] > 0


@pytest.mark.django_db
def test_the_reports_bench_runs() -> None:
    """Issue 10's phase (bench/reports.py) on a few cases: the summaries' build, the month's and
    the quarter's report, the indicators API and the dashboard answer without error."""
    from datetime import date

    from bench.reports import child
    from huiyin.cases.demo import demo_load
    from huiyin.cases.services import case_register
    from huiyin.org.models import User

    demo_load(password="pw-for-tests")
    case_register({"kind": "complaint", "channel": "phone", "subject": "配送延误", "description": "未按时送达",
                   "complainant": {"name": "张三", "phone": "13800138000"}},
                  actor=User.objects.get(username="agent"))
    result = child({"today": date.today().isoformat(), "samples": 2, "budget_s": 5, "repeat": 1}, log=lambda _: None)
    assert result["facts_build"]["facts"] == 1
    assert {"month", "quarter"} <= set(result["report"])
    assert "p95_ms" in result["api"], result["api"]
    errors = {k: v["error"] for k, v in result["dashboard"].items() if "error" in v}
    assert not errors
