"""Prepare the peer's database: migrate, one staff user with an API token, one queue.
Prints {"token": ..., "queue": ...} as JSON on its last line."""

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk_peer.settings")
django.setup()

from django.contrib.auth import get_user_model
from django.core.management import call_command
from helpdesk.models import Queue
from rest_framework.authtoken.models import Token

call_command("migrate", verbosity=0, interactive=False)
user = get_user_model().objects.create_user("agent", "agent@example.com", "bench-peer", is_staff=True)
queue = Queue.objects.create(title="投诉", slug="complaints", allow_public_submission=False)
print(json.dumps({"token": Token.objects.create(user=user).key, "queue": queue.pk}))
