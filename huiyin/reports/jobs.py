"""The reports' scheduled work, one step at a time (run by `huiyin worker`)."""

from __future__ import annotations

from . import facts


def run_reports_jobs() -> int:
    return facts.step()
