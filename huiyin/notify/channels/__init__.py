"""Transports: one module each, each with `send(message) -> None` raising `DeliveryError`.

`DeliveryError(permanent=True)` means retrying cannot help (a refused address, a wrong
secret, a removed webhook): the message goes dead at once, visible to administrators, who
may retry it after fixing the cause. Any other failure is retried with back-off.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from huiyin.notify.models import Message


class DeliveryError(Exception):
    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent

    def __str__(self) -> str:
        return self.message


MODULES = {
    "email": "email",
    "sms": "sms",
    "wecom": "wecom",
    "dingtalk": "dingtalk",
    "feishu": "feishu",
    "webhook": "webhook",
}


def send(message: Message) -> None:
    """Send one message through its transport's module."""
    from huiyin.notify.models import TransportConfig

    name = MODULES.get(message.transport)
    if name is None:
        raise DeliveryError(f"unknown transport {message.transport!r}", permanent=True)
    if message.transport != "webhook":
        enabled, _options = TransportConfig.lookup(message.transport)
        if not enabled:
            raise DeliveryError(f"transport {message.transport} is turned off", permanent=True)
    module = import_module(f"{__name__}.{name}")
    module.send(message)
