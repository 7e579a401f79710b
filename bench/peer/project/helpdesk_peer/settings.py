"""django-helpdesk with the SQLite settings Huiyin uses (huiyin/settings.py): WAL,
synchronous=NORMAL, IMMEDIATE transactions, a 20 s busy timeout, a checkpoint every 10,000
WAL pages, no type detection by sqlite3, connections kept 60 s; DEBUG off; e-mail to the dummy backend (nothing leaves the machine);
bearer tokens for the API, as Huiyin's API takes them."""

import os
from pathlib import Path

SECRET_KEY = "bench-peer-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
BASE_DIR = Path(__file__).resolve().parent

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "helpdesk",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "helpdesk_peer.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
WSGI_APPLICATION = "helpdesk_peer.wsgi.application"

DATABASES = {"default": {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": os.environ["PEER_SQLITE_PATH"],
    "CONN_MAX_AGE": 60,  # as Huiyin keeps its SQLite connections (huiyin/settings.py)
    "OPTIONS": {
        "timeout": 20,
        "detect_types": 0,  # as Huiyin's: the ORM converts the columns itself
        "transaction_mode": "IMMEDIATE",
        "init_command": ("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                         "PRAGMA wal_autocheckpoint=10000; PRAGMA journal_size_limit=67108864;"),
    },
}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
SITE_ID = 1
USE_TZ = True
TIME_ZONE = "Asia/Shanghai"
LANGUAGE_CODE = "zh-hans"
STATIC_URL = "/static/"
MEDIA_ROOT = os.environ.get("PEER_MEDIA_ROOT", str(BASE_DIR / "media"))
LOGIN_URL = "helpdesk:login"
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
DEFAULT_FROM_EMAIL = "helpdesk@example.com"

HELPDESK_TEAMS_MODE_ENABLED = False  # pinax-teams is an optional extra; not installed
HELPDESK_API_ENABLED = True
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["helpdesk_peer.auth.BearerTokenAuthentication"],
}
# As Huiyin's PASSWORD_HASHERS default: the token, not a password, authenticates each request.
