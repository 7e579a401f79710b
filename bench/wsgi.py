"""WSGI entry point for the intake benchmark: the normal application (huiyin.wsgi's
settings, middleware and URLs) with the bench-only ceilings /bench/bare and /bench/rows
prepended.

    gunicorn bench.wsgi:application -w 2 -b 127.0.0.1:PORT   (from the repository root)

The intake runs and both ceilings are served by this module, so only the view differs.
It refuses to load unless the configured database is one the bench created (bench.guard).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huiyin.settings")

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from bench.guard import check_configured

check_configured()
application = get_wsgi_application()
import rjieba  # noqa: F401  (loaded at boot, as huiyin/wsgi.py does)

# Django resolves settings.ROOT_URLCONF per request, so this swaps in the product's
# urlpatterns with the ceilings in front, without touching huiyin/urls.py.
settings.ROOT_URLCONF = "bench.urls"
