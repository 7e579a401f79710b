"""Fixtures of the notification tests.

People (no roles needed: notify receives user ids and never asks who may see what):
- alice   handler with e-mail and phone: gets inbox, e-mail and SMS;
- bob     has only an e-mail address: gets inbox and e-mail, never SMS;
- carol   inactive: gets nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _fresh_transport_cache(settings: Any) -> Iterator[None]:
    from huiyin.notify.models import TransportConfig

    # E-mail stays in memory unless a test points the mailer at its local SMTP server.
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    TransportConfig.clear_cache()
    yield
    TransportConfig.clear_cache()


def make_user(username: str, *, email: str = "", phone: str = "", active: bool = True) -> Any:
    from huiyin.org.models import User

    return User.objects.create(username=username, email=email, phone=phone, is_active=active,
                               display_name=username.capitalize())


class People:
    def __init__(self) -> None:
        self.alice = make_user("alice", email="alice@example.test", phone="13800138000")
        self.bob = make_user("bob", email="bob@example.test")
        self.carol = make_user("carol", email="carol@example.test", phone="13900139000", active=False)


@pytest.fixture
def people(db: Any) -> People:
    return People()


@pytest.fixture
def sms_file(tmp_path: Path) -> Path:
    """SMS through the file gateway into a temporary file (the default gateway)."""
    path = tmp_path / "sms.log"
    configure("sms", enabled=True, gateway="file", path=str(path))
    return path


def configure(transport: str, *, enabled: bool = True, **options: Any) -> Any:
    from huiyin.notify.models import TransportConfig

    row, _ = TransportConfig.objects.update_or_create(
        transport=transport, defaults={"enabled": enabled, "options": options}
    )
    return row
