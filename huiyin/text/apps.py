from django.apps import AppConfig


class TextConfig(AppConfig):
    name = "huiyin.text"
    label = "text"
    verbose_name = "文本辅助"

    def ready(self) -> None:
        # Registered explicitly, so `cases` never imports this app (decision 0007): the workflow
        # calls the index writer inside every change's transaction, the search box asks the index.
        from huiyin.cases import derived, jobs

        from .index import SEARCH, case_prepare, case_written
        from .jobs import retrain_sweep
        from .similar import similar_in_window

        if case_written not in derived.WRITERS:
            derived.WRITERS.append(case_written)
        if case_prepare not in derived.PREPARERS:  # a new case's words, cut before the intake's lock
            derived.PREPARERS.append(case_prepare)
        if SEARCH not in derived.SEARCH:
            derived.SEARCH.append(SEARCH)
        if similar_in_window not in derived.SIMILAR:  # count rules' same: [text] (群体投诉)
            derived.SIMILAR.append(similar_in_window)
        # The worker checks whether the models are due for retraining and starts it in its own
        # process (huiyin/cases/jobs.py `EXTRA_JOBS`; the training never runs inside a pass).
        if retrain_sweep not in jobs.EXTRA_JOBS:
            jobs.EXTRA_JOBS.append(retrain_sweep)
