"""`huiyin outbox`: look at the notification outbox and requeue dead letters.

    huiyin outbox stats                 messages per status
    huiyin outbox retry ID [ID …]       requeue failed or dead messages now
    huiyin outbox retry --all-dead      requeue every dead message
    huiyin outbox purge --days 90       delete sent messages older than 90 days
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from huiyin.notify.selectors import messages_existing, outbox_stats
from huiyin.notify.services import message_retry, messages_purge, messages_retry_dead


class Command(BaseCommand):
    help = "Notification outbox: stats, retry dead letters, purge old sent messages."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("stats", help="Messages per status.")
        retry = sub.add_parser("retry", help="Requeue failed or dead messages.")
        retry.add_argument("ids", nargs="*", type=int, help="Message ids.")
        retry.add_argument("--all-dead", action="store_true", help="Requeue every dead message.")
        purge = sub.add_parser("purge", help="Delete old sent messages (failed and dead are kept).")
        purge.add_argument("--days", type=int, required=True, help="Keep this many days.")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "stats":
            for status, n in outbox_stats().items():
                self.stdout.write(f"{status:8} {n}")
            return
        if opts["action"] == "purge":
            if opts["days"] < 1:
                raise CommandError("--days must be at least 1")
            self.stdout.write(f"deleted {messages_purge(older_than_days=opts['days'])} sent message(s)")
            return
        ids, all_dead = opts["ids"], opts["all_dead"]
        if bool(ids) == bool(all_dead):
            raise CommandError("Give message ids or --all-dead (one of them).")
        if all_dead:
            self.stdout.write(f"requeued {messages_retry_dead()} dead message(s)")
            return
        missed = [i for i in ids if not message_retry(i)]
        if len(missed) < len(ids):
            self.stdout.write(f"requeued {len(ids) - len(missed)} message(s)")
        if missed:
            existing = messages_existing(missed)
            problems = [f"{label}: {', '.join(map(str, group))}" for label, group in (
                ("no such message", [i for i in missed if i not in existing]),
                ("not failed or dead", [i for i in missed if i in existing]),
            ) if group]
            raise CommandError("; ".join(problems))
