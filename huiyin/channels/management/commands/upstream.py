"""`huiyin upstream add CODE --name N --url URL --secret S [--kind upstream|regulator] [--format huiyin|hotline]
[--unit centre]` — register a platform that transfers cases: its API account `upstream-CODE` and
password (printed once; it takes tokens from POST /api/v1/auth/token like any integration);
`huiyin upstream list`; `huiyin upstream retry CODE` — send its dead reports again."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from huiyin.org.models import Membership, Role, Unit, User

from ...models import ReportFormat, ReportState, Transfer, Upstream, UpstreamKind
from ...upstream import report_retry


class Command(BaseCommand):
    help = "Upstream and regulator platforms that transfer cases to us (上级/监管转办)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        add = sub.add_parser("add")
        add.add_argument("code")
        add.add_argument("--name", required=True)
        add.add_argument("--url", required=True, help="Where results are reported back.")
        add.add_argument("--secret", required=True, help="Signs the reports (HMAC-SHA256).")
        add.add_argument("--kind", choices=UpstreamKind.values, default=UpstreamKind.UPSTREAM)
        add.add_argument("--format", choices=ReportFormat.values, default=ReportFormat.HUIYIN)
        add.add_argument("--unit", default="", help="The unit that registers its cases (default: the first "
                                                     "unit with an agent).")
        sub.add_parser("list")
        retry = sub.add_parser("retry")
        retry.add_argument("code")

    def handle(self, *args: Any, **opts: Any) -> str:
        if opts["verb"] == "list":
            lines = []
            for u in Upstream.objects.order_by("code"):
                waiting = Transfer.objects.filter(upstream=u, report_state=ReportState.PENDING).count()
                dead = Transfer.objects.filter(upstream=u, report_state=ReportState.DEAD).count()
                lines.append(f"{u.code}\t{u.name}\t{u.kind}\t{u.format}\t{u.report_url}\t"
                             f"pending={waiting} dead={dead}{'' if u.active else ' (inactive)'}")
            return "\n".join(lines) or "No upstream platform."
        if opts["verb"] == "retry":
            upstream = Upstream.objects.filter(code=opts["code"]).first()
            if upstream is None:
                raise CommandError(f"No upstream {opts['code']!r}.")
            given_up = list(Transfer.objects.filter(upstream=upstream, report_state=ReportState.DEAD))
            for t in given_up:
                report_retry(t)
            return f"{len(given_up)} report(s) queued again."
        return self._add(opts)

    def _add(self, opts: dict[str, Any]) -> str:
        from huiyin.portal.services import PortalUnavailable, intake_unit

        if Upstream.objects.filter(code=opts["code"]).exists():
            raise CommandError(f"Upstream {opts['code']!r} exists already.")
        try:
            unit = Unit.objects.filter(code=opts["unit"]).first() if opts["unit"] else intake_unit()
        except PortalUnavailable as exc:
            raise CommandError(f"{exc.message} Or name the unit with --unit.") from None
        if unit is None:
            raise CommandError(f"No unit {opts['unit']!r}.")
        with transaction.atomic():
            password = secrets.token_urlsafe(24)
            user = User(username=f"upstream-{opts['code']}", display_name=opts["name"][:50])
            user.set_password(password)
            user.save()
            Membership.objects.create(user=user, unit=unit, role=Role.AGENT)
            Upstream.objects.create(code=opts["code"], name=opts["name"], kind=opts["kind"], user=user,
                                    report_url=opts["url"], secret=opts["secret"], format=opts["format"])
        return (f"Upstream {opts['code']} added; its cases are registered in {unit.code}.\n"
                f"Its API account: {user.username}, password (shown once): {password}\n"
                "It takes a token from POST /api/v1/auth/token and pushes cases to POST /api/v1/transfers.")
