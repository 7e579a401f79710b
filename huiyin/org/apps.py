from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "huiyin.org"
    label = "org"
    verbose_name = "组织与用户"

    def ready(self) -> None:
        from . import audit  # noqa: F401  (connects the login signals)
