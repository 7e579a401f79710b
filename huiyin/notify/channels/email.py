"""E-mail through Django's mailers (settings.MAILERS: SMTP in production, files in
development). The e-mail transport's option `mailer` names the MAILERS alias (default
"default").

The Message-ID is derived from the delivery id, so a retried e-mail carries the same
Message-ID and mail systems that de-duplicate on it show it once.
"""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage

from huiyin.notify.models import Message, Transport, TransportConfig

from . import DeliveryError


def send(message: Message) -> None:
    _enabled, options = TransportConfig.lookup(Transport.EMAIL)
    email = EmailMessage(
        subject=message.subject or message.case_number,
        body=message.body,
        from_email=options.get("from_email") or settings.DEFAULT_FROM_EMAIL,
        to=[message.address],
        headers={
            "Message-ID": f"<{message.delivery_id}@huiyin>",
            "X-Huiyin-Delivery": str(message.delivery_id),
            "X-Huiyin-Event": message.event,
        },
    )
    try:
        email.send(using=options.get("mailer") or None)
    except smtplib.SMTPRecipientsRefused as exc:
        # 550 "no such user" is final; 450/451 (mailbox busy, greylisting) is worth a retry
        final = all(code >= 500 for code, _msg in exc.recipients.values())
        raise DeliveryError(f"recipient refused: {_codes(exc.recipients)}", permanent=final) from None
    except smtplib.SMTPResponseException as exc:
        # 5xx: the server will not take it (bad sender, bad auth, policy); 4xx: try later
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise DeliveryError(f"SMTP {exc.smtp_code}: {text}", permanent=exc.smtp_code >= 500) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP failed: {type(exc).__name__}: {exc}") from None


def _codes(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{addr} {code} {msg.decode('utf-8', 'replace')}" for addr, (code, msg) in recipients.items())
