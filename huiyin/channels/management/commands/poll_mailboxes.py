"""`huiyin poll_mailboxes [--once]` — e-mail intake on its own (the worker does it too);
`huiyin poll_mailboxes --failed` lists the messages that could not be read, kept for a person."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from ...mail import poll_mailbox
from ...models import InboundMessage, InboundState, Mailbox


class Command(BaseCommand):
    help = "Poll the configured IMAP mailboxes and register new messages as cases."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One poll of each mailbox, then exit.")
        parser.add_argument("--interval", type=float, default=60.0)
        parser.add_argument("--failed", action="store_true", help="List the messages kept because they could "
                                                                  "not be read.")

    def handle(self, *args: Any, **opts: Any) -> str:
        if opts["failed"]:
            rows = InboundMessage.objects.filter(state=InboundState.FAILED).select_related("mailbox").order_by("id")
            return "\n".join(f"{m.pk}\t{m.mailbox.name}\t{timezone.localtime(m.received_at):%Y-%m-%d %H:%M}\t{m.sender}\t{m.reason}"
                             for m in rows) or "No failed message."
        while True:
            for mailbox in Mailbox.objects.filter(active=True).order_by("id"):
                try:
                    n = poll_mailbox(mailbox)
                except OSError as exc:
                    self.stderr.write(f"{mailbox.name}: {exc}")
                    continue
                if n:
                    self.stdout.write(f"{mailbox.name}: {n} message(s)")
            if opts["once"]:
                return ""
            time.sleep(opts["interval"])
