from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "huiyin.privacy"
    label = "privacy"
    verbose_name = "个人信息保护"

    def ready(self) -> None:
        # The worker anonymises closed cases after their retention period (privacy/jobs.py),
        # with its own jobs (huiyin/cases/jobs.py `EXTRA_JOBS`): cases imports nothing of ours.
        from huiyin.cases import jobs

        from .jobs import retention_sweep

        if retention_sweep not in jobs.EXTRA_JOBS:
            jobs.EXTRA_JOBS.append(retention_sweep)
