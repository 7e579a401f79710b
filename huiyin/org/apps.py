from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "huiyin.org"
    label = "org"
    verbose_name = "组织与用户"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from . import audit, checks  # noqa: F401  (audit: the login, account and admin-change receivers)
        from .middleware import on_login

        audit.connect_axes()

        def _limits_start(sender: object, request: object, user: object, **kwargs: object) -> None:
            if getattr(request, "session", None) is not None:
                on_login(request)  # type: ignore[arg-type]

        user_logged_in.connect(_limits_start, dispatch_uid="huiyin_session_limits", weak=False)
