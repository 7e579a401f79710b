"""`huiyin knowledge expire` — tell owners of expired articles (the worker may run it daily)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from huiyin.knowledge.services import notify_expired


class Command(BaseCommand):
    help = "Knowledge base upkeep."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("expire", help="notify the owners of articles that have expired (once each)")

    def handle(self, *args: Any, **opts: Any) -> None:
        n = notify_expired()
        self.stdout.write(f"{n} owners told of an expired article.")
