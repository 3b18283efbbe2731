"""gunicorn settings for production: `gunicorn -c config/gunicorn.py config.wsgi` (docker-compose.yml does this).

Environment:
    WEB_CONCURRENCY   worker processes (default 2 x CPU cores + 1): each is one Python interpreter, so this is
                      what uses the cores; PostgreSQL then needs WEB_CONCURRENCY x GUNICORN_THREADS connections.
    GUNICORN_THREADS  requests each worker serves at once (default 4): 5 workers x 4 threads serve 20 desks at once,
                      so a held counter answers each of 16 desks 503 after the 2 s lock timeout instead of queueing
                      them behind each other. /health/ has two threads of its own besides (config/gunicorn_worker.py).
    GUNICORN_BIND     address to listen on (default 127.0.0.1:8000; `--bind` on the command line wins).
    GUNICORN_HEALTH_BIND  a second address (e.g. 0.0.0.0:8001) served by the health threads only, accepted even
                      when every request thread is busy: point the load balancer's health check at
                      http://<host>:8001/health/. Empty (default): /health/ on the main address, which gets the
                      health threads too but waits its turn to be accepted when all request threads are busy.
Each worker gets a database connection pool of GUNICORN_THREADS connections (DB_POOL_SIZE, see
config/settings.py), opened once, so no request pays for a new PostgreSQL connection.
"""

import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
worker_class = "config.gunicorn_worker.HealthLaneWorker"  # gthread, with a lane of its own for /health/
# A worker that has not reported to the master for this long is killed. With threads that is the main loop, never a
# slow request; statement_timeout (TOKENLINE_STATEMENT_TIMEOUT, 10 s) ends a stuck statement well before anyway.
timeout = 30
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
if os.environ.get("GUNICORN_HEALTH_BIND"):
    bind.append(os.environ["GUNICORN_HEALTH_BIND"])  # config.gunicorn_worker serves it on the health threads
os.environ.setdefault("DB_POOL_SIZE", str(threads))  # read by config/settings.py in each worker
