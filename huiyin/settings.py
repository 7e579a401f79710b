"""One settings module, read from environment variables.

Helpers raise ImproperlyConfigured on values they cannot read, so a typo in
production fails loudly at start-up instead of running with a default.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from huiyin.org.crypto import parse_keys

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"Environment variable {name} is required")
    return value


def envbool(name: str, default: str = "False") -> bool:
    value = env(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean, got {value!r}")


def envint(name: str, default: str) -> int:
    value = env(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


DEBUG = envbool("HUIYIN_DEBUG", "False")
# Production is the default; the demo organisation and the dev secret are refused there.
PRODUCTION = envbool("HUIYIN_PRODUCTION", "False")
VAR_DIR = Path(env("HUIYIN_VAR_DIR", str(BASE_DIR / "var")))

# The published development key: anyone can forge sessions and CSRF tokens with it. Production
# refuses it, and any key too short or too plain to be secret (Django's own deploy check W009).
DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105 (published on purpose)
if PRODUCTION:
    SECRET_KEY = env("HUIYIN_SECRET_KEY")
    if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 \
            or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured(
            "HUIYIN_SECRET_KEY must be a secret of at least 50 random characters in production, not the "
            "development key (python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
else:
    SECRET_KEY = env("HUIYIN_SECRET_KEY", DEV_SECRET_KEY)

# Encryption at rest (huiyin.org.crypto): 32-byte keys in base64, comma-separated, newest first;
# `huiyin keys generate` prints one. Outside production a development key is derived from the
# secret key when none is set; production refuses to start without them (docs/security.md).
_keys_text = env("HUIYIN_ENCRYPTION_KEYS", "")
if _keys_text.strip():
    ENCRYPTION_KEYS = parse_keys(_keys_text)
elif PRODUCTION:
    raise ImproperlyConfigured("HUIYIN_ENCRYPTION_KEYS is required in production (huiyin keys generate).")
else:
    ENCRYPTION_KEYS = [hashlib.sha256(b"huiyin development encryption key\x00" + SECRET_KEY.encode()).digest()]

if PRODUCTION:
    ALLOWED_HOSTS = [h.strip() for h in env("HUIYIN_ALLOWED_HOSTS").split(",") if h.strip()]
else:
    ALLOWED_HOSTS = [h for h in env("HUIYIN_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env("HUIYIN_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",  # serves the API docs page's Swagger UI from static files, not from a CDN
    "axes",  # lockout after repeated failed logins (huiyin.org.auth)
    "huiyin.org",
    "huiyin.sla",
    "huiyin.policies",
    "huiyin.cases",
    "huiyin.api",
    "huiyin.notify",
    "huiyin.web",
    "huiyin.reports",
    "huiyin.privacy",
    "huiyin.portal",
    "huiyin.channels",
    "huiyin.documents",
    "huiyin.text",  # search index, suggestions, similar cases (issue 13)
    "huiyin.knowledge",  # knowledge articles and standard replies (issue 13)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # what no view can serve is refused at the door: NUL bytes, bodies over the limit (huiyin.org.middleware)
    "huiyin.org.middleware.RequestGuardMiddleware",
    "huiyin.api.middleware.ApiErrorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Chinese unless the user picks English (not the browser's Accept-Language).
    "huiyin.web.middleware.DefaultLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # idle timeout, absolute lifetime, MFA still owed (huiyin.org.sessions)
    "huiyin.org.middleware.SessionLimitsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # turns a lockout into the page or the API's JSON error (last: it sees the login's answer)
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "huiyin.urls"
LOGIN_URL = "web:login"
WSGI_APPLICATION = "huiyin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "huiyin" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# HUIYIN_DATABASE_URL: sqlite:////absolute/path.sqlite3 or postgresql://user:pw@host:port/db
_default_db = f"sqlite:///{VAR_DIR / 'huiyin.sqlite3'}"
DATABASE_URL = env("HUIYIN_DATABASE_URL", _default_db)
if not DATABASE_URL.startswith(("sqlite://", "postgres://", "postgresql://")):
    raise ImproperlyConfigured("HUIYIN_DATABASE_URL must be a sqlite:/// or postgresql:// URL")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "test").mkdir(parents=True, exist_ok=True)
    # WAL + a busy timeout let the web workers and the background worker share one file;
    # IMMEDIATE transactions take the write lock up front so two writers queue instead
    # of failing half-way with "database is locked". Connections are kept between requests
    # (CONN_MAX_AGE 60, as on PostgreSQL): a new one costs ~4 ms of CPU a request — SQLite
    # parses the whole schema and its statistics again, with an empty page cache — more than
    # a bare request's own work. In autocommit no transaction, so no lock, outlives a request.
    # Checkpoints (copying the WAL back into the database file, with two fsyncs) are the worker's
    # (`huiyin worker`, `db.checkpoint`): a request checkpoints only when the WAL has grown past
    # 10,000 pages (~40 MB), not every 1,000 (SQLite's default: every ~20 intakes, as an intake
    # writes ~50 pages — the case's row and its indexes, its clock, event, search words, notice).
    # Measured at 8 clients: 6–10 % more intakes a second, ~0.5 ms less CPU each (round 24).
    # journal_size_limit (64 MB): a WAL that grew past it (a long reader kept it from being reset) is
    # cut back to it once checkpointed.
    # detect_types 0: Django's connection asks sqlite3 to look up every column's declared type on
    # every statement (PARSE_DECLTYPES | PARSE_COLNAMES), ~0.5 µs a column — ~50 µs for each read
    # of a case row (91 columns) — for conversions the ORM makes again itself (the backend's
    # `get_db_converters`). Our own SQL converts what it reads (`Field.to_python`, the backend's
    # converters); a `date` or `datetime` column read by raw SQL is text here (round 33).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "detect_types": 0,
        "transaction_mode": "IMMEDIATE",
        "init_command": ("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                         "PRAGMA wal_autocheckpoint=10000; PRAGMA journal_size_limit=67108864;"),
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test" / "test.sqlite3")}
    # Writers queue on a file lock beside the database, `<database>-writers`, and are woken when the
    # one before them commits, instead of sleeping 1, 2, 5 … ms in SQLite's busy handler between
    # tries (huiyin/sqlite/base.py). At 8 and 32 clients an intake's mean wait at BEGIN fell from
    # 0.76 to 0.47–0.68 ms (docs/benchmarks.md, round 25).
    DATABASES["default"]["ENGINE"] = "huiyin.sqlite"

elif DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    # PostgreSQL's JIT compiles every query whose estimated cost is high, adding 0.3–1 s to
    # short list queries over a million cases (measured by `make bench`); OLTP needs none.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
    # HUIYIN_PG_SERVER_BINDING=1 (opt-in): psycopg sends the parameters apart from the SQL and
    # prepares a statement once the connection has run it HUIYIN_PG_PREPARE_THRESHOLD times
    # (default 2). PostgreSQL then parses it once and, after five runs, may keep a generic plan:
    # an intake's server CPU went from ~8 to ~5 ms (docs/benchmarks.md, round 21), and the whole
    # PostgreSQL suite passes with it. Off by default until the list and search queries over
    # 1,000,000 cases are measured with it: a generic plan ignores the parameters' selectivity.
    # Leave it off behind a pooler in transaction mode that cannot keep prepared statements.
    if envbool("HUIYIN_PG_SERVER_BINDING"):
        DATABASES["default"]["OPTIONS"].update(
            server_side_binding=True, prepare_threshold=envint("HUIYIN_PG_PREPARE_THRESHOLD", "2"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "org.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out user or address before the password is checked.
AUTHENTICATION_BACKENDS = ["huiyin.org.auth.LockoutBackend", "django.contrib.auth.backends.ModelBackend"]

# Lockout (django-axes): after HUIYIN_LOCKOUT_FAILURES failed logins a user name is locked, and so
# is the address they came from — each counted on its own — for HUIYIN_LOCKOUT_MINUTES; an
# administrator unlocks earlier (`huiyin user unlock NAME`, or the admin's access attempts).
AXES_FAILURE_LIMIT = envint("HUIYIN_LOCKOUT_FAILURES", "5")
AXES_COOLOFF_TIME = envint("HUIYIN_LOCKOUT_MINUTES", "30") / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "huiyin.org.auth.lockout_response"
AXES_CLIENT_IP_CALLABLE = "huiyin.org.auth.client_ip"
AXES_VERBOSE = False
AXES_ENABLE_ADMIN = True
# Addresses come from REMOTE_ADDR; behind N trusted reverse proxies, from the Nth address from the
# right of X-Forwarded-For (what the nearest proxy saw): never from what the client claims.
PROXY_COUNT = envint("HUIYIN_PROXY_COUNT", "0")

# TOTP (django-otp) for leaders, supervisors, administrators and auditors: required in production,
# or wherever HUIYIN_MFA_REQUIRED=1; anyone may enrol on their own (huiyin.org.mfa).
MFA_REQUIRED = PRODUCTION or envbool("HUIYIN_MFA_REQUIRED", "False")
MFA_ISSUER = env("HUIYIN_MFA_ISSUER", "Huiyin")

# Sessions: signed out after HUIYIN_SESSION_IDLE_MINUTES without a request, and at the latest
# HUIYIN_SESSION_HOURS after signing in (huiyin.org.middleware); an administrator ends all of a
# user's sessions (and API tokens) at once (`huiyin user signout NAME`, the admin's user page).
SESSION_IDLE_SECONDS = envint("HUIYIN_SESSION_IDLE_MINUTES", "30") * 60
SESSION_COOKIE_AGE = envint("HUIYIN_SESSION_HOURS", "12") * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "huiyin" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                # attachments readable by the app's own user only
                "OPTIONS": {"file_permissions_mode": 0o600, "directory_permissions_mode": 0o700}},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = Path(env("HUIYIN_ATTACHMENTS_DIR", str(VAR_DIR / "attachments")))
ATTACHMENT_MAX_BYTES = envint("HUIYIN_ATTACHMENT_MAX_BYTES", str(20 * 1024 * 1024))
ATTACHMENT_TYPES = env(
    "HUIYIN_ATTACHMENT_TYPES",
    "application/pdf,image/jpeg,image/png,image/gif,image/webp,audio/mpeg,audio/wav,"
    "audio/x-wav,audio/amr,text/plain,application/vnd.openxmlformats-officedocument."
    "wordprocessingml.document,application/msword",
).split(",")
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
# Uploads over 2.5 MB go to a temporary file named after the upload's extension: an extension of
# a few hundred characters failed with "File name too long" (huiyin.org.uploads shortens it).
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler",
                        "huiyin.org.uploads.ShortNameTemporaryFileUploadHandler"]

# E-mail (notifications): SMTP when HUIYIN_SMTP_HOST is set, else files under var/mail.
if env("HUIYIN_SMTP_HOST", ""):
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": {
        "host": env("HUIYIN_SMTP_HOST"), "port": envint("HUIYIN_SMTP_PORT", "465"),
        "username": env("HUIYIN_SMTP_USER", ""), "password": env("HUIYIN_SMTP_PASSWORD", ""),
        "use_ssl": envbool("HUIYIN_SMTP_SSL", "True"), "timeout": 10}}}
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                           "OPTIONS": {"file_path": str(VAR_DIR / "mail")}}}
DEFAULT_FROM_EMAIL = env("HUIYIN_FROM_EMAIL", "huiyin@localhost")

# API tokens expire after this many days.
API_TOKEN_DAYS = envint("HUIYIN_API_TOKEN_DAYS", "30")
DEMO_PASSWORD = env("HUIYIN_DEMO_PASSWORD", "huiyin-demo")

# --- the public portal and the other channels (issue 12) ---------------------------------------
# The portal's public address, named in the notices sent to complainants.
PORTAL_URL = env("HUIYIN_PORTAL_URL", "")
# The unit that registers the portal's cases (a unit code); empty: the first unit with an agent.
PORTAL_INTAKE_UNIT = env("HUIYIN_PORTAL_UNIT", "")
# The privacy notice the portal shows; its version is stored with each case submitted.
PRIVACY_NOTICE_VERSION = env("HUIYIN_PRIVACY_NOTICE_VERSION", "2026-01")
# Portal rate limits per client address: (free, max, window seconds). The first `free` uses in a
# window pass; after that each needs the challenge answered; past `max` they are refused (429).
PORTAL_LIMITS = {
    "submit": (envint("HUIYIN_PORTAL_SUBMIT_FREE", "3"), envint("HUIYIN_PORTAL_SUBMIT_MAX", "30"),
               envint("HUIYIN_PORTAL_SUBMIT_WINDOW", "3600")),
    "track": (envint("HUIYIN_PORTAL_TRACK_FREE", "20"), envint("HUIYIN_PORTAL_TRACK_MAX", "200"),
              envint("HUIYIN_PORTAL_TRACK_WINDOW", "600")),
    "act": (envint("HUIYIN_PORTAL_ACT_FREE", "10"), envint("HUIYIN_PORTAL_ACT_MAX", "60"),
            envint("HUIYIN_PORTAL_ACT_WINDOW", "3600")),
    # new challenge pictures: never challenged themselves, at most this many per window
    "challenge": (envint("HUIYIN_PORTAL_CHALLENGE_MAX", "60"), envint("HUIYIN_PORTAL_CHALLENGE_MAX", "60"), 600),
}
# Behind reverse proxies: how many of them append to X-Forwarded-For (0: the address is REMOTE_ADDR).
TRUSTED_PROXIES = envint("HUIYIN_TRUSTED_PROXIES", "0")
PORTAL_MAX_FILES = envint("HUIYIN_PORTAL_MAX_FILES", "5")
# The cache every web worker shares (rate-limit counters, challenges): a database table by default,
# or HUIYIN_SHARED_CACHE=redis://host:6379/0 (needs the redis package).
_shared = env("HUIYIN_SHARED_CACHE", "db")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _shared}
    if _shared.startswith(("redis://", "rediss://"))
    else {"BACKEND": "huiyin.portal.cache.SharedDatabaseCache", "LOCATION": "huiyin_shared_cache"},
}
# The worker pauses after each of its write transactions as long as it took, at most this many
# seconds, so that requests waiting for SQLite's write lock get it first (huiyin.db.give_way).
# The test processes set 0: no request of theirs waits while a test runs a worker pass.
WORKER_GIVE_WAY_MAX_S = 0.1
# E-mail intake: seconds between two polls of a mailbox by the worker.
MAIL_POLL_SECONDS = envint("HUIYIN_MAIL_POLL_SECONDS", "60")
# Reports to upstream platforms: give up (dead) after this many attempts (back-off up to an hour).
UPSTREAM_MAX_ATTEMPTS = envint("HUIYIN_UPSTREAM_MAX_ATTEMPTS", "200")
# Suggestion models (huiyin/text/jobs.py): the worker retrains them in a separate process every
# this many days (0: never by itself), when at least this many cases were closed since the last model.
TEXT_RETRAIN_DAYS = envint("HUIYIN_TEXT_RETRAIN_DAYS", "7")
TEXT_RETRAIN_MIN_NEW = envint("HUIYIN_TEXT_RETRAIN_MIN_NEW", "200")

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "huiyin.error_pages.csrf_failure"  # the portal's own page under /portal/
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if PRODUCTION:
    # HTTPS end to end as the browser sees it. TLS is usually ended by a reverse proxy in front of
    # gunicorn (which listens on loopback only): the proxy must set X-Forwarded-Proto, which is
    # trusted by default (HUIYIN_PROXY_SSL_HEADER= turns that off when the app serves TLS itself).
    SESSION_COOKIE_SECURE = envbool("HUIYIN_SECURE_COOKIES", "True")
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_SSL_REDIRECT = envbool("HUIYIN_SSL_REDIRECT", "True")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers' health checks over plain HTTP
    SECURE_HSTS_SECONDS = envint("HUIYIN_HSTS_SECONDS", str(365 * 24 * 3600))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("HUIYIN_HSTS_SUBDOMAINS", "True")
    SECURE_HSTS_PRELOAD = envbool("HUIYIN_HSTS_PRELOAD", "True")
    _proxy_header = env("HUIYIN_PROXY_SSL_HEADER", "X-Forwarded-Proto").strip()
    if _proxy_header:
        SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")

# Outbound HTTP (webhooks, group robots, SMS gateways) reaches public addresses only, checked again
# after DNS resolution at delivery time; this allow-list names the exceptions (an intranet SMS
# gateway, a local receiver): host names, addresses or CIDR ranges, comma-separated.
OUTBOUND_ALLOW = [h.strip() for h in env("HUIYIN_OUTBOUND_ALLOW", "").split(",") if h.strip()]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("HUIYIN_LOG_LEVEL", "INFO")},
    "filters": {"refusal_without_traceback": {"()": "huiyin.logs.RefusalWithoutTraceback"}},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["refusal_without_traceback"]},
        # WeasyPrint's progress ("Step 1 - Fetching and parsing HTML" …): ten INFO lines a PDF
        "weasyprint.progress": {"level": "WARNING"},
    },
}
