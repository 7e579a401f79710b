"""`huiyin webhook`: register, list and remove generic signed webhooks.

    huiyin webhook add URL --secret S [--events case.created,case.closed]
    huiyin webhook list
    huiyin webhook remove ID

Without --events a webhook receives every event. See huiyin/notify/channels/webhook.py for
the payload and how a receiver checks the X-Huiyin-Signature header.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from huiyin.notify.models import Webhook
from huiyin.notify.services import NotifyError, webhook_add, webhook_remove


class Command(BaseCommand):
    help = "Manage generic signed webhooks (add, list, remove)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Register a webhook.")
        add.add_argument("url")
        add.add_argument("--secret", required=True, help="Shared secret for X-Huiyin-Signature.")
        add.add_argument("--events", default="", help="Comma-separated event names (default: all).")
        add.add_argument("--description", default="")
        sub.add_parser("list", help="List webhooks.")
        remove = sub.add_parser("remove", help="Remove a webhook.")
        remove.add_argument("id", type=int)

    def handle(self, *args: Any, **opts: Any) -> None:
        action = opts["action"]
        if action == "add":
            try:
                hook = webhook_add(opts["url"], secret=opts["secret"], events=opts["events"].split(","),
                                   description=opts["description"])
            except NotifyError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"webhook {hook.pk} added: {hook.url} ({', '.join(hook.events) or 'all events'})")
        elif action == "list":
            if not Webhook.objects.exists():
                self.stdout.write("No webhooks. Add one with: huiyin webhook add URL --secret S [--events E1,E2]")
            for hook in Webhook.objects.order_by("pk"):
                state = "active" if hook.active else "inactive"
                self.stdout.write(f"{hook.pk}\t{state}\t{hook.url}\t{','.join(hook.events) or '*'}")
        else:
            if not webhook_remove(opts["id"]):
                raise CommandError(f"No webhook with id {opts['id']}")
            self.stdout.write(f"webhook {opts['id']} removed")
