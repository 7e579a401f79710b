from django.apps import AppConfig


class TextConfig(AppConfig):
    name = "huiyin.text"
    label = "text"
    verbose_name = "文本辅助"

    def ready(self) -> None:
        # Registered explicitly, so `cases` never imports this app (decision 0005): the workflow
        # calls the index writer inside every change's transaction, the search box asks the index.
        from huiyin.cases import derived

        from .index import SEARCH, case_written

        if case_written not in derived.WRITERS:
            derived.WRITERS.append(case_written)
        if SEARCH not in derived.SEARCH:
            derived.SEARCH.append(SEARCH)
