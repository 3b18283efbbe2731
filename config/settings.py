"""Tokenline settings, read from the environment (or a `.env` file) with django-environ."""

import datetime
import logging
import os
import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

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
# Without DEBUG the key signs sessions, password-reset links and CSRF tokens of a live hospital: a missing, short or
# published one (the examples below) stops startup instead of a warning from `check --deploy` nobody reads.
SECRET_KEY = env.str("SECRET_KEY", default="")
EXAMPLE_SECRET_KEYS = {"change-me", "changeme", "dev-only-insecure-key", "secret"}
if DEBUG:
    SECRET_KEY = SECRET_KEY or "dev-only-insecure-key"
elif not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is missing: set it (50+ random characters) in the environment or .env.")
elif SECRET_KEY in EXAMPLE_SECRET_KEYS or SECRET_KEY.startswith("django-insecure"):
    raise ImproperlyConfigured(f"SECRET_KEY is an example value ({SECRET_KEY!r}); set a random one of 50+ characters.")
elif len(SECRET_KEY) < 50:
    raise ImproperlyConfigured(f"SECRET_KEY is too short ({len(SECRET_KEY)} characters); use 50+ random characters.")
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
# /health/ and /health/live/ must answer a load balancer over plain HTTP inside the LAN.
SECURE_REDIRECT_EXEMPT = [r"^health/(live/)?$"]
X_FRAME_OPTIONS = "DENY"
# A body larger than this is refused with 413 before it is parsed (core.requests.BodySizeLimitMiddleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

# Dates that scope numbers (daily tokens, PAT-YYYYMMDD) are days in this zone, never UTC days.
TIME_ZONE = env("TIME_ZONE")
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "en-us"
# Reception, desk, OPD and slip pages in English or Urdu: the browser's language, or the switch in the top
# bar (Django's set_language: a cookie). Urdu pages are right-to-left; translations in locale/ur (.po and .mo).
LANGUAGES = [("en", "English"), ("ur", "اردو")]
LOCALE_PATHS = [BASE_DIR / "locale"]
HOSPITAL_NAME = env("HOSPITAL_NAME")
# Digits of the numbers on Urdu slips and the board's Urdu line: "latin" (0123456789) or "eastern" (Extended
# Arabic-Indic, ۰۱۲۳۴۵۶۷۸۹). QR codes, barcodes and everything typed or stored keep Latin digits (core/digits.py).
URDU_DIGITS = env.str("URDU_DIGITS", default="latin")
if URDU_DIGITS not in ("latin", "eastern"):
    raise ImproperlyConfigured(f"URDU_DIGITS is {URDU_DIGITS!r}; use latin or eastern.")

# Lab terminals: numbers from which a terminal passing 90 % of its range gets a new range of the same
# size, e.g. "700000-799999". Empty: no automatic extension; an admin adds ranges by hand.
TOKENLINE_OFFLINE_POOL = env.str("TOKENLINE_OFFLINE_POOL", default="")
# A lab terminal's lease with numbers its machine reported printed but not synced, and no report for this many hours,
# is flagged stale in the ops view and /metrics (a dead PC's slips whose records the server does not hold).
TOKENLINE_OFFLINE_STALE_HOURS = env.float("TOKENLINE_OFFLINE_STALE_HOURS", default=8.0)
# The offline registration page (/offline/<code>/) leases this many numbers at a time, and a new block while online
# once fewer than 20 % of a block are left (a range's warning level, 80 % used).
TOKENLINE_BROWSER_LEASE = env.int("TOKENLINE_BROWSER_LEASE", default=100)

# MRN scheme of new registrations: "grouped" 001-00-001 (seed 000) or "dated" PAT-20241103-0001 (seed 001),
# issued by the idseq sequences `mrn` and `mrn-dated`. Switching later keeps every issued number valid and findable.
TOKENLINE_MRN_SCHEME = env.str("TOKENLINE_MRN_SCHEME", default="grouped")

# Records of who read which patient (patients.PatientAccess) are kept this many days; `manage.py prune_access_log`
# (run it daily, e.g. from cron) deletes older ones. See docs/security/patient-data-access.md.
TOKENLINE_ACCESS_LOG_DAYS = env.int("TOKENLINE_ACCESS_LOG_DAYS", default=365)

# Waiting-room boards log in with this key in their URL (/board/?key=...); blank derives one from SECRET_KEY.
QUEUE_BOARD_KEY = env("QUEUE_BOARD_KEY")
# Callables (dotted paths) told after commit, off the request thread, which queues changed (see queues/notify.py).
QUEUE_BOARD_NOTIFIERS = env.list("QUEUE_BOARD_NOTIFIERS", default=[])
# The patient's token page (the QR on visit and OPD token slips): the address phones reach it at, e.g.
# http://10.0.0.5:8000 on the hospital Wi-Fi; blank uses the host the desk's browser printed the slip from.
TOKEN_PAGE_BASE_URL = env.str("TOKEN_PAGE_BASE_URL", default="")
# OPD arrival: after a slot's start (plus its delay) plus this many minutes, the doctor's Call next skips tokens not
# checked in; at the slot's end plus this many minutes `manage.py opd_no_shows` marks them no-show.
OPD_CHECK_IN_GRACE_MINUTES = env.int("OPD_CHECK_IN_GRACE_MINUTES", default=15)
if not 0 <= OPD_CHECK_IN_GRACE_MINUTES <= 720:
    raise ImproperlyConfigured("OPD_CHECK_IN_GRACE_MINUTES must be 0 to 720 (minutes).")

# Monitoring: /health/ needs no login. /metrics answers a request carrying
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
    "rest_framework.authtoken",  # only for its migrations: core's 0001 hashed its keys into knox and emptied it
    "knox",  # API tokens stored as digests, with an expiry (core/authentication.py reads them)
    "axes",  # failed-login lockout per username and client address (core/auth.py)
    "django_otp",
    "django_otp.plugins.otp_totp",  # TOTP second factor for the admin (TOKENLINE_ADMIN_REQUIRE_2FA)
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
    "reminders",
    "today",
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
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): logged in with a second factor
    "core.sessions.IdleTimeoutMiddleware",  # a session unused for TOKENLINE_SESSION_IDLE_MINUTES is logged out
    "django.contrib.messages.middleware.MessageMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",  # records who made each change in patient history
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.busy.BusyMiddleware",  # a lock or statement timeout on a page: 503 "numbering is busy", not a 500
    "axes.middleware.AxesMiddleware",  # a locked-out login page answers core.auth.lockout_response
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
            # Filters every app's templates use without {% load %}: `digits`, `urdu_digits` (core/digits.py).
            "builtins": ["core.templatetags.digits"],
        },
    },
]

if env.str("DATABASE_URL", default=""):
    from config.database_url import database_config

    # Several hosts for failover: postgres://u@db1:5432,db2:5432/name?target_session_attrs=read-write (see there).
    DATABASES = {"default": database_config(env.str("DATABASE_URL"))}
else:
    from config.embedded_db import embedded_database_url

    DATABASES = {"default": environ.Env.db_url_config(embedded_database_url(BASE_DIR / "var" / "pgdata"))}
# Django's PostgreSQL backend, with each new connection fenced against an old primary (config/postgresql/base.py).
DATABASES["default"]["ENGINE"] = "config.postgresql"

# Bounded waits (core/busy.py), in seconds. Every transaction that takes a number waits at most
# TOKENLINE_LOCK_TIMEOUT for the counter row, then answers 503 "numbering is busy" with Retry-After, nothing taken.
# Every connection starts with that lock_timeout (sent in its startup packet, so no extra round trip per number), so
# no lock wait of any statement is unbounded; core.busy sets it again only when the setting changed since.
TOKENLINE_LOCK_TIMEOUT = env.float("TOKENLINE_LOCK_TIMEOUT", default=2.0)
TOKENLINE_SESSION_LOCK_TIMEOUT_MS = max(1, round(TOKENLINE_LOCK_TIMEOUT * 1000))
# Coalesced allocation (idseq/coalesce.py): registrations that arrive at once are numbered together, one counter
# statement and one commit for a batch, across worker processes. Off by default: the ordinary path, one commit per
# number, is the one every release has run (docs/numbers/index.md, "Coalesced allocation").
TOKENLINE_COALESCE = env.bool("TOKENLINE_COALESCE", default=False)
_session = [f"-c lock_timeout={TOKENLINE_SESSION_LOCK_TIMEOUT_MS}"]
# Web processes (gunicorn config.wsgi and `bin/dev.py serve`, which set TOKENLINE_PROCESS=web) run every statement
# with this limit (0: none), also in the startup packet. Management commands (imports, exports, migrations)
# legitimately run long statements and get none.
TOKENLINE_STATEMENT_TIMEOUT = env.float("TOKENLINE_STATEMENT_TIMEOUT", default=10.0)
if os.environ.get("TOKENLINE_PROCESS") == "web" and TOKENLINE_STATEMENT_TIMEOUT > 0:
    _session.append(f"-c statement_timeout={round(TOKENLINE_STATEMENT_TIMEOUT * 1000)}")
_options = DATABASES["default"].setdefault("OPTIONS", {})
_options["options"] = " ".join([_options.get("options", ""), *_session]).strip()
# A server that does not answer must not hold a request for ever. connect_timeout bounds opening a connection (libpq's
# minimum is 2 s); TCP keepalives notice a peer gone silent on an idle or waiting connection (idle 5 s, then 3 probes
# 2 s apart: about 11 s), and tcp_user_timeout a send never acknowledged (a cable pulled mid-request). A server that
# is up but stops answering (its kernel still acknowledges) is bounded only by statement_timeout on its side.
_options.setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=2))
_options.setdefault("keepalives", 1)
_options.setdefault("keepalives_idle", 5)
_options.setdefault("keepalives_interval", 2)
_options.setdefault("keepalives_count", 3)
_options.setdefault("tcp_user_timeout", env.int("DB_TCP_USER_TIMEOUT_MS", default=10_000))

# Connections. With DB_POOL_SIZE > 0 each process keeps a psycopg pool of that many connections, opened
# once and lent to one request at a time (config/gunicorn.py sets it to gunicorn's threads per worker: one per
# request a worker serves at once). Without (development, tests) each thread has its own connection, kept for
# CONN_MAX_AGE seconds (0: closed after each request). The two are exclusive. Either way a connection is checked
# before it is reused, so one that PostgreSQL dropped (restart, failover) is replaced instead of failing a request:
# a pooled one by a look at its socket, with no round trip unless the server wrote to it (config/postgresql/base.py),
# a kept one with a statement at the start of each request that reuses it (Django's CONN_HEALTH_CHECKS).
DB_POOL_SIZE = env.int("DB_POOL_SIZE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DB_POOL_SIZE:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": DB_POOL_SIZE,
        "max_size": DB_POOL_SIZE,
        # Seconds a request waits for a free connection, then 503 with Retry-After: with the lock timeout (2 s) it
        # keeps every answer within 3 s when the database stalls, instead of 10 s per worker.
        "timeout": env.float("DB_POOL_TIMEOUT", default=2.0),
        # A connection that broke is replaced in the background, retried after 1, 2, 4 ... s (psycopg_pool's
        # backoff); after this many seconds of failures the pool stops retrying that slot, and the next request that
        # finds no connection starts a new attempt at once. So a database back after an outage is used again within
        # about this long, however long the outage was (the doubling backoff alone waited up to 32 s).
        "reconnect_timeout": env.float("DB_POOL_RECONNECT_TIMEOUT", default=5.0),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
# Replication (core/replication.py): with TOKENLINE_REQUIRE_SYNC_STANDBY numbering refuses (503) while the primary has
# no synchronous standby attached, read at most every TOKENLINE_REPLICATION_CHECK_SECONDS per process. A standby never
# issues numbers, whatever this says.
TOKENLINE_REQUIRE_SYNC_STANDBY = env.bool("TOKENLINE_REQUIRE_SYNC_STANDBY", default=False)
TOKENLINE_REPLICATION_CHECK_SECONDS = env.float("TOKENLINE_REPLICATION_CHECK_SECONDS", default=5.0)
# /health/ answers within this many seconds whatever the database does: its checks run on a connection of their own
# (never the pool's, which busy desks may hold) with their own statement and lock timeouts, and what they have not
# answered by then is reported as a database that did not answer (503). Under a load balancer's usual 2-5 s timeout.
TOKENLINE_HEALTH_TIMEOUT = env.float("TOKENLINE_HEALTH_TIMEOUT", default=0.9)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Passwords set in the admin or with `changepassword`: at least 10 characters, not one of Django's 20,000 common
# passwords ("password", "12345678", ...), not all digits, not like the username. (seed_demo's and the tests' users
# are made with set_password, which checks nothing.)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Password guessing (docs/security/logins.md). django-axes counts failed logins of the login page, /admin/login/ and
# /api/v1/auth/token/ per (username, client address) in the database, so every worker sees one count; past
# AXES_FAILURE_LIMIT that pair is refused, right password included, for AXES_COOLOFF_MINUTES (429, Retry-After).
# Keyed on the pair, a stranger guessing at a shared reception PC or behind the hospital's NAT locks out only the
# name he types from that address; colleagues on the same address log in. Failures during a lockout do not prolong
# it, so nobody can keep a name locked for more than the cool-off by hammering it.
AUTHENTICATION_BACKENDS = [
    "core.auth.LockoutBackend",  # first (axes' backend): refuses a locked-out pair before a password is checked
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_MINUTES = env.int("AXES_COOLOFF_MINUTES", default=15)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=AXES_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # a right password (outside a lockout) clears that pair's failures
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "core.throttling.client_address"  # REMOTE_ADDR, or X-Forwarded-For per NUM_PROXIES
AXES_LOCKOUT_CALLABLE = "core.auth.lockout_response"  # 429 with Retry-After, the same message for every cause
AXES_DISABLE_ACCESS_LOG = env.bool("AXES_DISABLE_ACCESS_LOG", default=False)  # a row per successful login

# A second factor (TOTP, django-otp) for the admin, where sequences are reset and keys issued: on unless DEBUG.
# Staff then log in to /admin/ with password and the 6-digit code of a device an admin enrolled
# (`manage.py add_totp_device USERNAME`); pages and the API are unchanged.
TOKENLINE_ADMIN_REQUIRE_2FA = env.bool("TOKENLINE_ADMIN_REQUIRE_2FA", default=not DEBUG)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Tokenline")

# A staff session unused for this many minutes is logged out (core.sessions.IdleTimeoutMiddleware); 0: never.
TOKENLINE_SESSION_IDLE_MINUTES = env.int("TOKENLINE_SESSION_IDLE_MINUTES", default=30)

# API tokens (knox: only a SHA-512 digest is stored). A login at /api/v1/auth/token/ lasts TOKENLINE_TOKEN_HOURS; a
# terminal key issued in the admin lasts TOKENLINE_TERMINAL_KEY_DAYS; when a terminal's key is replaced the old one
# keeps working TOKENLINE_KEY_GRACE_HOURS, long enough to configure the new one on the workstation.
TOKENLINE_TOKEN_HOURS = env.float("TOKENLINE_TOKEN_HOURS", default=12)
TOKENLINE_TERMINAL_KEY_DAYS = env.float("TOKENLINE_TERMINAL_KEY_DAYS", default=365)
TOKENLINE_KEY_GRACE_HOURS = env.float("TOKENLINE_KEY_GRACE_HOURS", default=24)
# Each worker keeps a token's user and permissions this many seconds after reading them (core/authentication.py), so
# most API requests send no authentication query. A token revoked, a user deactivated or a role changed through this
# server's pages, API or admin counts at once in the process that did it and within this many seconds in the others
# (and after a change made outside Django, in SQL); an expired token is refused at once. 0: read on every request.
TOKENLINE_AUTH_CACHE_SECONDS = env.float("TOKENLINE_AUTH_CACHE_SECONDS", default=5)
REST_KNOX = {"TOKEN_TTL": datetime.timedelta(hours=TOKENLINE_TOKEN_HOURS), "AUTO_REFRESH": False}

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
    "DEFAULT_FILTER_BACKENDS": ["core.api.FilterBackend"],  # empty filter values are 400
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_PARSER_CLASSES": ["core.api.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    # `anon` and `user` count in each worker's memory (CACHES["throttle"], core/throttling.py: no statement per
    # request). Password guessing is limited by the login lockout (AXES_* above), not by a rate per address.
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.AnonRateThrottle", "core.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="120/min"),
        "user": env.str("THROTTLE_USER", default="1200/min"),
    },
    # Trusted proxies in front of the server (1 behind nginx): the client's address is then the one the last of
    # them saw, read from the right of X-Forwarded-For; what a client writes there itself is never believed. 0 (the
    # default): REMOTE_ADDR, and X-Forwarded-For is ignored. core.throttling.client_address reads it for the
    # throttles and the login lockout alike.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

# `default`: the database cache shared by all workers (nothing counts in it per request); its table is made by
# `migrate` (core/apps.py). CACHE_URL may name another (e.g. redis://...) that every worker reaches.
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

# FHIR R4 (fhir_api/): the identifier systems of the MRN and the CNIC in Patient resources and searches.
FHIR_MRN_SYSTEM = env.str("FHIR_MRN_SYSTEM", default="urn:tokenline:mrn")
FHIR_CNIC_SYSTEM = env.str("FHIR_CNIC_SYSTEM", default="urn:tokenline:cnic")

# Notifications on call (notifications/): an adapter is on when its URL is set. Both are delivered from the
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


def bounded(name: str, value: int, low: int, high: int) -> int:
    """`value` of setting `name` when low <= value <= high; else ImproperlyConfigured at start-up, not a wrong
    figure or message later."""
    if not low <= value <= high:
        raise ImproperlyConfigured(f"{name} must be from {low} to {high}, not {value}.")
    return value


# Messages before the call (reminders/; run `manage.py send_reminders --every 60` next to the worker):
# OPD reminders the evening before a slot, at this local time (HH:MM, hospital TIME_ZONE) ...
REMINDER_EVENING_AT = env.str("REMINDER_EVENING_AT", default="18:00")
if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", REMINDER_EVENING_AT):
    raise ImproperlyConfigured(f"REMINDER_EVENING_AT must be a time HH:MM, not {REMINDER_EVENING_AT!r}.")
# ... and this many minutes before it starts (its delay included): two hours, at most a day.
REMINDER_BEFORE_MINUTES = bounded("REMINDER_BEFORE_MINUTES", env.int("REMINDER_BEFORE_MINUTES", default=120), 1, 1440)
# A walk-in visit is told "N patients ahead of you" when N visits wait before it, N from 1 to 50.
REMINDER_VISIT_AHEAD = bounded("REMINDER_VISIT_AHEAD", env.int("REMINDER_VISIT_AHEAD", default=3), 1, 50)

# The manager's day (today/): a visit is served within the target when called at most this many minutes after it
# joined the line; the page and /metrics alert when the longest wait of a queue passes the alert threshold.
DAY_WAIT_TARGET_MINUTES = bounded("DAY_WAIT_TARGET_MINUTES", env.int("DAY_WAIT_TARGET_MINUTES", default=30), 1, 480)
DAY_WAIT_ALERT_MINUTES = bounded("DAY_WAIT_ALERT_MINUTES", env.int("DAY_WAIT_ALERT_MINUTES", default=60), 1, 720)

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
