"""WSGI entry point for the intake benchmark: the normal application (huiyin.wsgi's
settings, middleware and URLs) with the bench-only /bench/bare view prepended.

    gunicorn huiyin.bench.wsgi:application -w 2 -b 127.0.0.1:PORT

Both the intake runs and the bare runs are served by this module, so only the view differs.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huiyin.settings")

from django.conf import settings
from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
# Django resolves settings.ROOT_URLCONF per request, so this swaps in the product's
# urlpatterns with /bench/bare in front, without touching huiyin/urls.py.
settings.ROOT_URLCONF = "huiyin.bench.urls"
