from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "huiyin.channels"
    label = "channels"
    verbose_name = "受理渠道"

    def ready(self) -> None:
        # The worker (`huiyin worker`) runs these with its own jobs (cases.jobs.EXTRA_JOBS).
        from huiyin.cases import jobs

        from .mail import poll_mailboxes
        from .upstream import report_upstream

        for job in (poll_mailboxes, report_upstream):
            if job not in jobs.EXTRA_JOBS:
                jobs.EXTRA_JOBS.append(job)
