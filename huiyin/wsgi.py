"""WSGI entry point for gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huiyin.settings")
application = get_wsgi_application()

# The word segmenter's library is imported by its first use (huiyin.text.tokens); a web process
# imports it now, at boot, so that no request waits for the import (~0.15 s). The segmenter itself,
# with the preset's dictionary, is still built by the first text it cuts, as before.
import rjieba  # noqa: F401
