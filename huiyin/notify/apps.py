from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "huiyin.notify"
    label = "notify"
    verbose_name = "通知"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from .defaults import install_default_templates

        # Ship the Chinese default templates as editable rows (never overwriting an edit).
        post_migrate.connect(install_default_templates, sender=self)
