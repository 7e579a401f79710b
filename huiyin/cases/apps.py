from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "huiyin.cases"
    label = "cases"
    verbose_name = "工单"

    def ready(self) -> None:
        from huiyin.sla.signals import calendar_year_imported

        from .deadlines import on_calendar_year_imported

        calendar_year_imported.connect(on_calendar_year_imported, dispatch_uid="cases-recompute-provisional")

        from huiyin.policies.services import preset_loaded

        from .categories import on_preset_loaded

        preset_loaded.connect(on_preset_loaded, dispatch_uid="cases-preset-categories")

        from huiyin.notify import scope

        from .access import visible_numbers

        scope.register(visible_numbers)  # the inbox names only the cases its reader sees
