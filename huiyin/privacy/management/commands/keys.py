"""`huiyin keys`: the encryption keys of HUIYIN_ENCRYPTION_KEYS (docs/security.md).

    huiyin keys generate     # print a new key (32 random bytes, base64)
    huiyin keys check        # the keys listed, and what is sealed under which key
    huiyin keys rotate       # re-seal everything under the newest key (resumable, in batches)

Rotation: put a new key first in HUIYIN_ENCRYPTION_KEYS (keep the old ones after it), restart,
run `huiyin keys rotate`, then `huiyin keys check` shows nothing under the old keys: remove them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from huiyin.cases import identity, workflow
from huiyin.cases.attachments import attachment_reseal
from huiyin.cases.models import Attachment, Case
from huiyin.org import crypto
from huiyin.org.audit import audit
from huiyin.org.fields import Sealed
from huiyin.org.models import TotpDevice
from huiyin.privacy.models import SubjectRequest

BATCH = 500


class Command(BaseCommand):
    help = "Encryption keys: generate, check, rotate."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("generate", help="Print a new key.")
        sub.add_parser("check", help="Show the keys and what each has sealed.")
        sub.add_parser("rotate", help="Re-seal everything under the newest key.")

    def handle(self, *args: Any, **opts: Any) -> None:
        action = opts["action"]
        if action == "generate":
            self.stdout.write(crypto.generate_key())
        elif action == "check":
            self._check()
        else:
            self._rotate()

    def _check(self) -> None:
        ring = crypto.keys()
        self.stdout.write("keys (newest first): " + ", ".join(k.kid for k in ring))
        seen: Counter[str] = Counter()
        for row in Case.objects.values_list(*identity.SEALED).iterator(chunk_size=2000):
            for value in row:
                token = value.token if isinstance(value, Sealed) else ""
                if token:
                    seen[crypto.sealed_with(token) or "clear"] += 1
        for att in Attachment.objects.only("sealed", "file").iterator():
            if not att.sealed:
                seen["clear file"] += 1
                continue
            with att.file.open("rb") as f:
                seen[f"{crypto.file_key_id(f.read(8))} file"] += 1
        for key, n in sorted(seen.items()):
            self.stdout.write(f"{key}\t{n}")
        old = {k for k in seen if not k.startswith(ring[0].kid)}
        self.stdout.write("everything is under the newest key" if not old else
                          "run `huiyin keys rotate`: some values are under older keys or in clear")

    def _rotate(self) -> None:
        newest = crypto.newest().kid
        cases = 0
        last = 0
        while True:
            ids = list(Case.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BATCH])
            if not ids:
                break
            cases += workflow.reseal(ids)
            last = ids[-1]
        files = sum(attachment_reseal(a) for a in Attachment.objects.select_related("case").iterator())
        others = 0
        for model, fields in ((Attachment, ("name",)), (TotpDevice, ("secret",)),
                              (SubjectRequest, ("name", "phone", "id_number", "email", "details"))):
            for obj in model.objects.all().iterator():
                stale = [f for f in fields if not crypto.is_current(getattr(obj.__dict__.get(f), "token", "") or "")]
                if stale:
                    for f in stale:
                        setattr(obj, f, getattr(obj, f))  # opened, sealed anew on save
                    obj.save(update_fields=stale)
                    others += 1
        audit("keys_rotated", target=newest, details={"cases": cases, "files": files, "rows": others})
        self.stdout.write(f"re-sealed under {newest}: {cases} cases, {files} files, {others} other rows")
