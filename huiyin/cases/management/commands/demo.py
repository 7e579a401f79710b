from django.core.management.base import BaseCommand, CommandError

from huiyin.cases.demo import DemoRefused, demo_load
from huiyin.org.models import Unit


class Command(BaseCommand):
    help = "Load the demo organisation (示范市局) and its users. Refused in production."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--if-empty", action="store_true", help="Only when the database has no units yet.")

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        from django.db import DatabaseError

        try:
            present = Unit.objects.exists()
        except DatabaseError:
            raise CommandError("The database has no tables yet: run `huiyin migrate` first.") from None
        if opts["if_empty"] and present:
            self.stdout.write("Organisation already present; demo not loaded (demo users, if any, keep "
                              "the password they were created with).")
            return
        try:
            users = demo_load()
        except DemoRefused as exc:
            raise CommandError(str(exc)) from None
        from django.conf import settings

        self.stdout.write(self.style.SUCCESS("Demo organisation 示范市局 loaded."))
        self.stdout.write(f"Users: {', '.join(users)} — password: {settings.DEMO_PASSWORD}")
