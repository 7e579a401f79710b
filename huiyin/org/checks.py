"""Huiyin's own deploy checks (`huiyin check --deploy`), beside Django's: what production needs and
the settings module cannot refuse at start-up without breaking development."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def production_settings(app_configs: Any, **kwargs: Any) -> list[Any]:
    found: list[Any] = []
    if not settings.PRODUCTION:
        found.append(Warning("HUIYIN_PRODUCTION is not set: the demo data, the development secret and key, "
                             "and sign-ins without a one-time code are allowed.", id="huiyin.W001"))
        return found
    if not any(str(b.get("BACKEND", "")).endswith("smtp.EmailBackend") for b in settings.MAILERS.values()):
        found.append(Error("Production sends e-mail through SMTP: set HUIYIN_SMTP_HOST (else notifications are "
                           "written to files).", id="huiyin.E001"))
    if "*" in settings.ALLOWED_HOSTS:
        found.append(Warning("HUIYIN_ALLOWED_HOSTS allows any host name.", id="huiyin.W002"))
    if settings.DEBUG:
        found.append(Error("HUIYIN_DEBUG must be off in production.", id="huiyin.E002"))
    return found
