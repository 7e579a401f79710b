from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "huiyin.cases"
    label = "cases"
    verbose_name = "工单"

    def ready(self) -> None:
        from huiyin.sla.signals import calendar_year_imported

        from .deadlines import on_calendar_year_imported

        calendar_year_imported.connect(on_calendar_year_imported, dispatch_uid="cases-recompute-provisional")
