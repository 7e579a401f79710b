"""`huiyin user`: accounts without code, each change in the audit log.

    huiyin user add USERNAME --unit CODE --role ROLE [--password P] [--name 姓名]
    huiyin user disable USERNAME        # no sign-in; sessions and API tokens end
    huiyin user unlock USERNAME         # lift a lockout after failed sign-ins (or --address IP)
    huiyin user signout USERNAME        # end every session and API token
    huiyin user mfa-reset USERNAME      # remove the authenticator app (a lost phone); sessions end
    huiyin user list

Without --password a password is generated and printed once. `add` for an existing user adds
the role (a user may hold several, per unit).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from huiyin.org import accounts
from huiyin.org.models import Role, User


class Command(BaseCommand):
    help = "Administer accounts: add, disable, unlock, signout, mfa-reset, list."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Add a user with a role in a unit (or a role to a user).")
        add.add_argument("username")
        add.add_argument("--unit", required=True, help="The unit's code.")
        add.add_argument("--role", required=True, choices=Role.values)
        add.add_argument("--password", default=None, help="Else one is generated and printed once.")
        add.add_argument("--name", default="", help="Display name (姓名).")
        for name, text in (("disable", "Disable the account."), ("signout", "End every session and API token."),
                           ("mfa-reset", "Remove the user's authenticator app and end their sessions.")):
            sub.add_parser(name, help=text).add_argument("username")
        unlock = sub.add_parser("unlock", help="Lift a lockout after failed sign-ins.")
        unlock.add_argument("username", nargs="?", default="")
        unlock.add_argument("--address", default="", help="Unlock an address instead.")
        sub.add_parser("list", help="List users with their roles.")

    def handle(self, *args: Any, **opts: Any) -> None:
        action = opts["action"]
        if action == "add":
            try:
                user, generated = accounts.user_add(opts["username"], unit_code=opts["unit"], role=opts["role"],
                                                    password=opts["password"], display_name=opts["name"])
            except accounts.AccountError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"{user.username}: {opts['role']} in {opts['unit']}")
            if generated:
                self.stdout.write(f"password (shown once): {generated}")
            return
        if action == "list":
            for user in User.objects.order_by("username").prefetch_related("memberships__unit"):
                roles = ", ".join(f"{m.role}@{m.unit.code}" for m in user.memberships.all())
                state = "active" if user.is_active else "disabled"
                self.stdout.write(f"{user.username}\t{state}\t{roles}")
            return
        if action == "unlock" and opts["address"]:
            try:
                address, n = accounts.address_unlock(opts["address"])
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"address {address} unlocked ({n} records cleared)")
            return
        if action == "unlock" and not opts["username"]:
            raise CommandError("Name a user (or --address IP).")
        # Every verb on a user names an existing one: a typo is an error, not a silent no-op.
        found = User.objects.filter(username=opts["username"]).first()
        if found is None:
            raise CommandError(f"No user {opts['username']!r}.")
        user = found
        if action == "unlock":
            n = accounts.user_unlock(user.username)
            self.stdout.write(f"{user.username} unlocked ({n} records cleared)")
        elif action == "disable":
            accounts.user_disable(user)
            self.stdout.write(f"{user.username} disabled; sessions and API tokens ended")
        elif action == "signout":
            accounts.user_signout(user)
            self.stdout.write(f"{user.username}: every session and API token ended")
        elif action == "mfa-reset":
            removed = accounts.mfa_reset(user)
            # accounts.mfa_reset also ends the sessions (sessions_end: every session and API token).
            self.stdout.write(f"{user.username}: authenticator app {'removed' if removed else 'none to remove'}; "
                              "every session and API token ended")
