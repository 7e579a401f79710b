"""`huiyin privacy`: the retention job and the data-subject request queue (PIPL; docs/security.md).

    huiyin privacy anonymise [--limit N] [--dry-run]   # erase what is past its retention period
    huiyin privacy requests                            # the open requests, the one due first on top
    huiyin privacy request add KIND --by USER [--phone P] [--id-number N] [--email E] [--name N] [--details D]
    huiyin privacy request copy ID --by USER [--out FILE]     # 查阅/复制: the person's data as JSON
    huiyin privacy request correct ID --by USER --set complainant_phone=139…   # 更正
    huiyin privacy request erase ID --by USER                 # 删除 (closed cases)
    huiyin privacy request close ID --by USER --outcome TEXT [--refused]

KIND is access, copy, correction or deletion. Run `anonymise` daily (cron or a systemd timer) until
the worker schedules it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from huiyin.cases.errors import CaseError
from huiyin.org.models import User
from huiyin.privacy import services
from huiyin.privacy.models import SubjectKind, SubjectRequest


class Command(BaseCommand):
    help = "Personal data: the retention job (anonymise) and data-subject requests."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        an = sub.add_parser("anonymise", help="Erase personal data past its retention period.")
        an.add_argument("--limit", type=int, default=1000, help="Cases per run.")
        an.add_argument("--dry-run", action="store_true")
        sub.add_parser("requests", help="The open data-subject requests.")
        req = sub.add_parser("request", help="One data-subject request.")
        rs = req.add_subparsers(dest="step", required=True)
        add = rs.add_parser("add")
        add.add_argument("kind", choices=SubjectKind.values)
        for name in ("--phone", "--id-number", "--email", "--name", "--details"):
            add.add_argument(name, default="")
        for step in ("copy", "correct", "erase", "close"):
            p = rs.add_parser(step)
            p.add_argument("id", type=int)
            if step == "copy":
                p.add_argument("--out", default="")
            if step == "correct":
                p.add_argument("--set", action="append", default=[], help="field=value (complainant_…)")
            if step == "close":
                p.add_argument("--outcome", required=True)
                p.add_argument("--refused", action="store_true")
        for p in (add, *(rs.choices[s] for s in ("copy", "correct", "erase", "close"))):
            p.add_argument("--by", required=True, help="The user handling it (for the audit log).")

    def handle(self, *args: Any, **opts: Any) -> None:
        action = opts["action"]
        if action == "anonymise":
            result = services.anonymise_due(limit=opts["limit"], dry_run=opts["dry_run"])
            verb = "would anonymise" if opts["dry_run"] else "anonymised"
            groups = ", ".join(f"{g}: {n}" for g, n in sorted(result["groups"].items())) or "nothing due"
            self.stdout.write(f"{verb} {result['cases']} cases ({groups})")
            return
        if action == "requests":
            now = timezone.now()
            listed = 0
            for r in services.open_requests():
                late = " OVERDUE" if r.due_at < now else ""
                self.stdout.write(f"{r.pk}\t{r.kind}\tdue {timezone.localtime(r.due_at):%Y-%m-%d %H:%M}{late}")
                listed += 1
            if not listed:
                self.stdout.write("no open requests")
            return
        actor = User.objects.filter(username=opts["by"], is_active=True).first()
        if actor is None:
            raise CommandError(f"No active user {opts['by']!r}.")
        step = opts["step"]
        if step == "add":
            try:
                req = services.subject_request_create(
                    kind=opts["kind"], actor=actor, name=opts["name"], phone=opts["phone"],
                    id_number=opts["id_number"], email=opts["email"], details=opts["details"])
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"request {req.pk} registered, due {timezone.localtime(req.due_at):%Y-%m-%d %H:%M}")
            return
        found = SubjectRequest.objects.filter(pk=opts["id"]).first()
        if found is None:
            raise CommandError(f"No request {opts['id']}.")
        req = found
        try:
            if step == "copy":
                data = json.dumps(services.subject_copy(req, actor=actor), ensure_ascii=False, indent=2)
                if opts["out"]:
                    path = Path(opts["out"])
                    path.write_text(data, encoding="utf-8")
                    path.chmod(0o600)
                    self.stdout.write(f"written to {path}")
                else:
                    self.stdout.write(data)
            elif step == "correct":
                values = dict(item.split("=", 1) for item in opts["set"] if "=" in item)
                done = services.subject_correct(req, actor=actor, values=values)
                self.stdout.write(f"corrected {len(done)} cases: {', '.join(done) or '—'}")
            elif step == "erase":
                erased, still_open = services.subject_erase(req, actor=actor)
                self.stdout.write(f"erased {len(erased)} cases; still open: {', '.join(still_open) or '—'}")
            else:
                services.subject_close(req, actor=actor, outcome=opts["outcome"], refused=opts["refused"])
                self.stdout.write(f"request {req.pk} closed")
        except CaseError as exc:
            raise CommandError(exc.message) from None
