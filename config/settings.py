"""Tokenline settings, read from the environment (or a `.env` file) with django-environ."""

import logging
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

# Dates that scope numbers (daily tokens, PAT-YYYYMMDD) are days in this zone, never UTC days.
TIME_ZONE = env("TIME_ZONE")
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "en-us"
HOSPITAL_NAME = env("HOSPITAL_NAME")

# Lab terminals (issue #6): numbers from which a terminal passing 90 % of its range gets a new range of the same
# size, e.g. "700000-799999". Empty: no automatic extension; an admin adds ranges by hand.
TOKENLINE_OFFLINE_POOL = env.str("TOKENLINE_OFFLINE_POOL", default="")

# MRN scheme of new registrations (issue #5): "grouped" 001-00-001 (seed 000) or "dated" PAT-20241103-0001 (seed 001),
# issued by the idseq sequences `mrn` and `mrn-dated`. Switching later keeps every issued number valid and findable.
TOKENLINE_MRN_SCHEME = env.str("TOKENLINE_MRN_SCHEME", default="grouped")

# Waiting-room boards log in with this key in their URL (/board/?key=...); blank derives one from SECRET_KEY.
QUEUE_BOARD_KEY = env("QUEUE_BOARD_KEY")
# Callables (dotted paths) told after commit, off the request thread, which queues changed (see queues/notify.py).
QUEUE_BOARD_NOTIFIERS = env.list("QUEUE_BOARD_NOTIFIERS", default=[])

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
    "idseq",
    "patients",
    "terminals",
    "queues",
    "tokens",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # serves static/ under gunicorn, no separate web server
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",  # records who made each change in patient history
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Tokenline API",
    "DESCRIPTION": "Hospital outpatient numbering: MRNs, terminal ranges, visit tokens, OPD slot tokens, prefix IDs.",
    "VERSION": "1.0.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SERVE_INCLUDE_SCHEMA": False,
    "PREPROCESSING_HOOKS": ["core.api.v1_only"],
    # Two models call their choices `status`; name each set.
    "ENUM_NAME_OVERRIDES": {
        "SlotStatusEnum": "tokens.models.Slot.Status",
        "TokenStatusEnum": "tokens.models.Token.Status",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "tokenline": {"handlers": ["console"], "level": "INFO", "propagate": True},
        "pgserver": {"level": "WARNING"},
    },
}
logging.getLogger("pgserver").setLevel(logging.WARNING)
