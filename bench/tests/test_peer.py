"""The peer bench's verdict: the median of paired rounds, each a ratio of two runs seconds apart."""

from __future__ import annotations

from typing import Any

from bench.peer.runner import render, summarise


def _run(rps: float, p95: float = 10.0) -> dict[str, Any]:
    return {"ok": int(rps * 5), "duration_s": 5.0, "rps": rps, "p50_ms": p95 / 2, "p95_ms": p95,
            "non_2xx": 0, "socket_errors": 0}


def _round(huiyin: float, helpdesk: float) -> dict[str, Any]:
    return {"huiyin": _run(huiyin), "helpdesk": _run(helpdesk), "ratio": round(huiyin / helpdesk, 2)}


def test_a_slow_moment_of_the_machine_moves_one_round_not_the_verdict() -> None:
    # Three rounds at 3.2x; in one the machine slowed down between the two runs of the pair.
    rounds = [_round(160, 50), _round(96, 50), _round(160, 50), _round(80, 25)]
    row = summarise(rounds)
    assert [r["ratio"] for r in row["rounds"]] == [3.2, 1.92, 3.2, 3.2]
    assert row["ratio"] == 3.2  # the median of the pairs
    assert row["ratio_pooled"] == round((160 + 96 + 160 + 80) / (50 + 50 + 50 + 25), 2) == 2.83
    assert row["huiyin"]["rps"] == 124.0 and row["helpdesk"]["rps"] == 43.8
    results = {"peer": "django-helpdesk==2.6.1", "started_at": "now", "client": "wrk", "seconds": 5, "rounds": 4,
               "runs": {"8": row}}
    line = render(results).splitlines()[-1]
    assert "3.2 1.92 3.2 3.2" in line and "3.2×" in line and "2.83×" in line and line.endswith("pass")


def test_the_verdict_misses_when_most_pairs_miss() -> None:
    row = summarise([_round(140, 50), _round(150, 50), _round(200, 50)])
    assert row["ratio"] == 3.0  # 2.8, 3.0, 4.0: the median, not the best
    row = summarise([_round(140, 50), _round(145, 50), _round(200, 50)])
    assert row["ratio"] == 2.9
    line = render({"peer": "p", "started_at": "now", "client": "wrk", "seconds": 5, "runs": {"1": row}})
    assert line.splitlines()[-1].endswith("MISS")
