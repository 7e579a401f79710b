from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "huiyin.knowledge"
    label = "knowledge"
    verbose_name = "知识库"

    def ready(self) -> None:
        # The worker tells owners of expired articles (knowledge/jobs.py), with its own jobs
        # (huiyin/cases/jobs.py `EXTRA_JOBS`): cases imports nothing of ours.
        from huiyin.cases import jobs

        from .jobs import expiry_sweep

        if expiry_sweep not in jobs.EXTRA_JOBS:
            jobs.EXTRA_JOBS.append(expiry_sweep)
