"""`huiyin preset list | load NAME [--file F] | export NAME`."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError, CommandParser

from huiyin.policies.models import Policy
from huiyin.policies.presets import PresetError, available, preset_check, preset_text
from huiyin.policies.services import PolicyEdited, policy_load_preset


class Command(BaseCommand):
    help = "List, load (and activate) or export the policy presets."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("list", help="the shipped presets, and which is active")
        load = sub.add_parser("load", help="load a preset and make it the active policy")
        load.add_argument("name")
        load.add_argument("--file", help="load this YAML file instead of the shipped preset (its name: must be NAME)")
        load.add_argument("--force", action="store_true",
                          help="replace the organisation's own edits of the preset by the shipped file")
        export = sub.add_parser("export", help="print a preset as YAML (the stored version if loaded)")
        export.add_argument("name")

    def handle(self, *args: object, **opts: object) -> None:
        verb = opts["verb"]
        if verb == "list":
            active = Policy.objects.filter(active=True).first()
            for name in available():
                data = preset_check(preset_text(name))
                mark = "*" if active and active.name == name else " "
                self.stdout.write(f"{mark} {name:13} {data.get('title', '')}  ({data.get('seed', '')})")
            if active:
                self.stdout.write(f"active: {active.name} v{active.version}")
        elif verb == "load":
            name = str(opts["name"])
            try:
                text = Path(str(opts["file"])).read_text(encoding="utf-8") if opts.get("file") else preset_text(name)
                policy = policy_load_preset(name, text=text, origin="file" if opts.get("file") else "preset",
                                            force=bool(opts.get("force")))
            except FileNotFoundError as exc:
                raise CommandError(str(exc)) from None
            except PolicyEdited as exc:
                lines = "\n".join(f"  {d}" for d in exc.differences)
                raise CommandError(
                    f"{exc.policy.name} v{exc.policy.version} holds your organisation's own edits; the shipped preset "
                    f"differs in:\n{lines}\nnothing was loaded; load with --force to replace them by a new version "
                    f"(cases keep the version they were opened under)."
                ) from None
            except PresetError as exc:
                raise CommandError(f"{opts.get('file') or name + '.yaml'}: {exc}; nothing was loaded") from None
            from huiyin.org.audit import audit

            audit("policy_loaded", target=f"{policy.name} v{policy.version}",  # a configuration change (issue 11)
                  details={"origin": "file" if opts.get("file") else "preset", "force": bool(opts.get("force"))})
            self.stdout.write(self.style.SUCCESS(f"{policy.name} v{policy.version} is the active policy."))
        elif verb == "export":
            name = str(opts["name"])
            stored = Policy.objects.filter(name=name).order_by("-version").first()
            if stored is not None:
                sys.stdout.write(yaml.safe_dump(stored.config, allow_unicode=True, sort_keys=False))
            else:
                try:
                    sys.stdout.write(preset_text(name))
                except FileNotFoundError as exc:
                    raise CommandError(str(exc)) from None
