"""The reports' scheduled work, run by `huiyin worker` in each pass (registered in
`huiyin.cases.jobs.EXTRA_JOBS` by this app's AppConfig) and by `huiyin report run-due`.

Each step does a little and says how much (0: nothing left): the per-case summaries follow the
timeline, penalties follow the closings, overdue corrective actions are announced once, warnings
are evaluated (surges daily, groups and risks every ten minutes), and the reports the policy
schedules are generated for the last whole period and delivered.
"""

from __future__ import annotations

from . import actions, facts, penalties, schedule, warnings


def run_reports_jobs() -> int:
    done = facts.step()
    done += penalties.step()
    done += actions.remind_overdue()
    if done:
        return done  # the summaries first: the warnings and reports read them
    done += warnings.step()
    done += schedule.step()
    return done
