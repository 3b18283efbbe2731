"""WSGI entry point for gunicorn: `gunicorn config.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("TOKENLINE_PROCESS", "web")  # statements get TOKENLINE_STATEMENT_TIMEOUT (config/settings.py)
application = get_wsgi_application()
