"""`huiyin report_upstream [--once]` — send the results of transferred cases to their platforms
on its own (the worker does it too)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...upstream import report_upstream


class Command(BaseCommand):
    help = "Report the results of transferred cases back to their upstream platforms, retrying until acknowledged."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--interval", type=float, default=15.0)

    def handle(self, *args: Any, **opts: Any) -> str:
        while True:
            n = report_upstream()
            if n:
                self.stdout.write(f"{n} report(s) written or sent")
            if opts["once"]:
                return ""
            time.sleep(opts["interval"])
