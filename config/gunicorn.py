"""gunicorn settings for production: `gunicorn -c config/gunicorn.py config.wsgi` (docker-compose.yml does this).

Environment:
    WEB_CONCURRENCY   worker processes (default 2 x CPU cores + 1): each is one Python interpreter, so this is
                      what uses the cores; PostgreSQL then needs WEB_CONCURRENCY x GUNICORN_THREADS connections.
    GUNICORN_THREADS  requests each worker serves at once (default 1, the plain sync worker).
    GUNICORN_BIND     address to listen on (default 127.0.0.1:8000; `--bind` on the command line wins).
Each worker gets a database connection pool of GUNICORN_THREADS connections (DB_POOL_SIZE, see
config/settings.py), opened once, so no request pays for a new PostgreSQL connection.
"""

import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 1))
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
os.environ.setdefault("DB_POOL_SIZE", str(threads))  # read by config/settings.py in each worker
