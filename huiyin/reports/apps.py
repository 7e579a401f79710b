from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "huiyin.reports"
    label = "reports"
    verbose_name = "统计分析"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The worker runs this app's scheduled work in its passes (huiyin/cases/jobs.py `EXTRA_JOBS`):
        # the per-case summaries, penalties, overdue actions, warnings and the scheduled reports.
        from huiyin.cases import jobs

        from .jobs import run_reports_jobs

        if run_reports_jobs not in jobs.EXTRA_JOBS:
            jobs.EXTRA_JOBS.append(run_reports_jobs)
