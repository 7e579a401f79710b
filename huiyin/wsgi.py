"""WSGI entry point for gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huiyin.settings")
application = get_wsgi_application()

# The word segmenter's library is loaded by its first use (huiyin.text.tokens); a web process
# loads it now, at boot, so that the first intake does not wait for it.
import rjieba  # noqa: F401
