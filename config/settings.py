"""Tokenline settings, read from the environment (or a `.env` file) with django-environ."""

import logging
import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1"]),
    TIME_ZONE=(str, "Asia/Karachi"),
    HOSPITAL_NAME=(str, "Tokenline Hospital"),
    QUEUE_BOARD_KEY=(str, ""),
)
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env("DEBUG")
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key" if DEBUG else environ.Env.NOTSET)
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS hardening (`manage.py check --deploy` clean): on unless DEBUG; SECURE=false turns the lot off for plain
# HTTP on 127.0.0.1 (the development .env), and each may also be set on its own.
SECURE = env.bool("SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=SECURE)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=SECURE)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=SECURE)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=SECURE)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=SECURE)
# Behind a TLS-terminating proxy (nginx) that sets X-Forwarded-Proto: https.
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /health/ must answer a load balancer over plain HTTP inside the LAN.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
X_FRAME_OPTIONS = "DENY"
# A body larger than this is refused with 413 before it is parsed (core.requests.BodySizeLimitMiddleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

# Dates that scope numbers (daily tokens, PAT-YYYYMMDD) are days in this zone, never UTC days.
TIME_ZONE = env("TIME_ZONE")
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "en-us"
# Reception, desk, OPD and slip pages in English or Urdu (issue 15): the browser's language, or the switch in the top
# bar (Django's set_language: a cookie). Urdu pages are right-to-left; translations in locale/ur (.po and .mo).
LANGUAGES = [("en", "English"), ("ur", "اردو")]
LOCALE_PATHS = [BASE_DIR / "locale"]
HOSPITAL_NAME = env("HOSPITAL_NAME")

# Lab terminals (issue #6): numbers from which a terminal passing 90 % of its range gets a new range of the same
# size, e.g. "700000-799999". Empty: no automatic extension; an admin adds ranges by hand.
TOKENLINE_OFFLINE_POOL = env.str("TOKENLINE_OFFLINE_POOL", default="")
# A lab terminal's lease with numbers its machine reported printed but not synced, and no report for this many hours,
# is flagged stale in the ops view and /metrics (a dead PC's slips whose records the server does not hold).
TOKENLINE_OFFLINE_STALE_HOURS = env.float("TOKENLINE_OFFLINE_STALE_HOURS", default=8.0)

# MRN scheme of new registrations (issue #5): "grouped" 001-00-001 (seed 000) or "dated" PAT-20241103-0001 (seed 001),
# issued by the idseq sequences `mrn` and `mrn-dated`. Switching later keeps every issued number valid and findable.
TOKENLINE_MRN_SCHEME = env.str("TOKENLINE_MRN_SCHEME", default="grouped")

# Waiting-room boards log in with this key in their URL (/board/?key=...); blank derives one from SECRET_KEY.
QUEUE_BOARD_KEY = env("QUEUE_BOARD_KEY")
# Callables (dotted paths) told after commit, off the request thread, which queues changed (see queues/notify.py).
QUEUE_BOARD_NOTIFIERS = env.list("QUEUE_BOARD_NOTIFIERS", default=[])

# Monitoring (issue #11): /health/ needs no login. /metrics answers a request carrying
# `Authorization: Bearer <METRICS_TOKEN>` (when set) or coming from METRICS_ALLOWED_IPS (addresses or networks; empty
# for none), 403 otherwise. Under gunicorn with several workers set PROMETHEUS_MULTIPROC_DIR (environment only) to an
# empty directory, wiped before each start, so the scrape adds up every worker's figures.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = [ip.strip() for ip in env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1"]) if ip.strip()]
# Request latency buckets (seconds) of django-prometheus' per-view histogram.
PROMETHEUS_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, float("inf"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "simple_history",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets, served locally (the LAN may have no internet)
    "core",
    "idseq",
    "patients",
    "terminals",
    "queues",
    "tokens",
    "monitoring",
    "django_tasks",
    "django_tasks_db",
    "fhir_api",  # not "fhir": that name is the fhir.resources library's package
    "notifications",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",  # first: request latency per view for /metrics
    "core.requests.RequestIdMiddleware",  # first: every log line and error page of the request carries its id
    "core.requests.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # serves static/ under gunicorn, no separate web server
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # English or Urdu per user (cookie) or browser
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",  # records who made each change in patient history
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.busy.BusyMiddleware",  # a lock or statement timeout on a page: 503 "numbering is busy", not a 500
    "django_prometheus.middleware.PrometheusAfterMiddleware",  # last
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.hospital",
            ],
        },
    },
]

if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    from config.embedded_db import embedded_database_url

    DATABASES = {"default": environ.Env.db_url_config(embedded_database_url(BASE_DIR / "var" / "pgdata"))}
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"

# Bounded waits (issue 11, core/busy.py), in seconds. Every transaction that takes a number waits at most
# TOKENLINE_LOCK_TIMEOUT for the counter row, then answers 503 "numbering is busy" with Retry-After, nothing taken.
# Every connection starts with that lock_timeout (sent in its startup packet, so no extra round trip per number), so
# no lock wait of any statement is unbounded; core.busy sets it again only when the setting changed since.
TOKENLINE_LOCK_TIMEOUT = env.float("TOKENLINE_LOCK_TIMEOUT", default=2.0)
TOKENLINE_SESSION_LOCK_TIMEOUT_MS = max(1, round(TOKENLINE_LOCK_TIMEOUT * 1000))
_session = [f"-c lock_timeout={TOKENLINE_SESSION_LOCK_TIMEOUT_MS}"]
# Web processes (gunicorn config.wsgi and `bin/dev.py serve`, which set TOKENLINE_PROCESS=web) run every statement
# with this limit (0: none), also in the startup packet. Management commands (imports, exports, migrations)
# legitimately run long statements and get none.
TOKENLINE_STATEMENT_TIMEOUT = env.float("TOKENLINE_STATEMENT_TIMEOUT", default=10.0)
if os.environ.get("TOKENLINE_PROCESS") == "web" and TOKENLINE_STATEMENT_TIMEOUT > 0:
    _session.append(f"-c statement_timeout={round(TOKENLINE_STATEMENT_TIMEOUT * 1000)}")
_options = DATABASES["default"].setdefault("OPTIONS", {})
_options["options"] = " ".join([_options.get("options", ""), *_session]).strip()

# Connections (issue #13). With DB_POOL_SIZE > 0 each process keeps a psycopg pool of that many connections, opened
# once and lent to one request at a time (config/gunicorn.py sets it to gunicorn's threads per worker: one per
# request a worker serves at once). Without (development, tests) each thread has its own connection, kept for
# CONN_MAX_AGE seconds (0: closed after each request). The two are exclusive. Either way a connection is checked
# before it is reused, so one that PostgreSQL dropped (restart, failover) is replaced instead of failing a request.
DB_POOL_SIZE = env.int("DB_POOL_SIZE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DB_POOL_SIZE:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": DB_POOL_SIZE,
        "max_size": DB_POOL_SIZE,
        "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),  # seconds a request waits for a connection, then 503
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "static"

REST_FRAMEWORK = {
    # Token first, so a request without credentials gets 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.TokenAuthentication",  # token, user and permissions in one query
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.RolePermissions"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_PARSER_CLASSES": ["core.api.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    # `anon` and `user` count in each worker's memory (CACHES["throttle"], core/throttling.py: no statement per
    # request); `login` limits password guesses per client address on /api/v1/auth/token/ and the login page
    # (core.auth) in the shared default cache, so every gunicorn worker sees the same count.
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.AnonRateThrottle", "core.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="120/min"),
        "user": env.str("THROTTLE_USER", default="1200/min"),
        "login": env.str("THROTTLE_LOGIN", default="10/min"),
    },
    # Proxies in front of the server (e.g. 1 behind nginx): the throttles then count the client's address from
    # X-Forwarded-For, not the proxy's. None (unset): REMOTE_ADDR.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=None),
}

# `default`: the login throttle's counts (and nothing else yet), in the database cache shared by all workers; its
# table is made by `migrate` (core/apps.py). CACHE_URL may name another (e.g. redis://...) that every worker reaches.
# `throttle`: the anon and user rates, in each worker's memory by default (core/throttling.py says why);
# THROTTLE_CACHE_URL may name a shared one. Room for 10,000 users and addresses before the oldest counts are culled.
CACHES = {
    "default": env.cache("CACHE_URL", default="dbcache://tokenline_cache"),
    "throttle": env.cache("THROTTLE_CACHE_URL", default="locmemcache://tokenline-throttle?MAX_ENTRIES=10000"),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Tokenline API",
    "DESCRIPTION": "Hospital outpatient numbering: MRNs, terminal ranges, visit tokens, OPD slot tokens, prefix IDs.",
    "VERSION": "1.0.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SERVE_INCLUDE_SCHEMA": False,
    "PREPROCESSING_HOOKS": ["core.api.v1_only"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.api.document_errors"],
    # Swagger UI from drf-spectacular-sidecar's local copy, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two models call their choices `status`; name each set.
    "ENUM_NAME_OVERRIDES": {
        "SlotStatusEnum": "tokens.models.Slot.Status",
        "TokenStatusEnum": "tokens.models.Token.Status",
    },
}

# Background tasks (django-tasks, stored in PostgreSQL; run them with `manage.py db_worker`): the CSV import page's
# imports (queue "default") and notifications, which have their own queue so that a worker for it alone
# (`db_worker --queue-name notifications`) is never held up by an import.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "notifications"]}}

# FHIR R4 (issue 16, fhir_api/): the identifier systems of the MRN and the CNIC in Patient resources and searches.
FHIR_MRN_SYSTEM = env.str("FHIR_MRN_SYSTEM", default="urn:tokenline:mrn")
FHIR_CNIC_SYSTEM = env.str("FHIR_CNIC_SYSTEM", default="urn:tokenline:cnic")

# Notifications on call (issue 16, notifications/): an adapter is on when its URL is set. Both are delivered from the
# outbox by the worker, after commit, with retries (see notifications/delivery.py); the board needs none of this.
# SMS through a generic HTTP gateway: NOTIFY_SMS_URL is a template with {phone} {message} {username} {password}
# (each URL-encoded), e.g. https://sms.example.pk/send?user={username}&pass={password}&to={phone}&text={message}
NOTIFY_SMS_URL = env.str("NOTIFY_SMS_URL", default="")
NOTIFY_SMS_METHOD = env.str("NOTIFY_SMS_METHOD", default="GET")  # GET, or POST (the same URL, empty body)
NOTIFY_SMS_USERNAME = env.str("NOTIFY_SMS_USERNAME", default="")
NOTIFY_SMS_PASSWORD = env.str("NOTIFY_SMS_PASSWORD", default="")
NOTIFY_SMS_COUNTRY_CODE = env.str("NOTIFY_SMS_COUNTRY_CODE", default="92")  # 0300-1234567 -> 923001234567
# Signed webhook: POST of a JSON body with `X-Tokenline-Signature: sha256=<HMAC-SHA256 of the body, hex>`.
NOTIFY_WEBHOOK_URL = env.str("NOTIFY_WEBHOOK_URL", default="")
NOTIFY_WEBHOOK_SECRET = env.str("NOTIFY_WEBHOOK_SECRET", default="")
NOTIFY_TIMEOUT_SECONDS = env.float("NOTIFY_TIMEOUT_SECONDS", default=5.0)  # per request
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=5)
NOTIFY_RETRY_SECONDS = env.float("NOTIFY_RETRY_SECONDS", default=30.0)  # first retry; doubles each time, up to an hour

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"}},
    "filters": {"request_id": {"()": "core.requests.RequestIdFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]}},
    "loggers": {
        "tokenline": {"handlers": ["console"], "level": "INFO", "propagate": True},
        # Unhandled exceptions (500s, with traceback) and 4xx/5xx answers, with DEBUG off too.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "pgserver": {"level": "WARNING"},
    },
}
logging.getLogger("pgserver").setLevel(logging.WARNING)
