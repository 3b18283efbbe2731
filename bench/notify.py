"""Notifications: call-next latency through the API at 1, 4 and 16 clients without notifications, then
with SMS and webhook on, both pointing at a local gateway that never answers, and a real worker (`db_worker`)
stuck on it. The outbox rows are written in the call's transaction; delivery happens elsewhere, so the second set of
figures should match the first within noise.

    .venv/bin/python bench/notify.py [--seconds 2] [--clients 1,4,16] [--smoke]

Uses bench/queue.py's fixtures (a fresh queue per run, one free desk per call) in a throw-away database.
"""

from common import Result, arguments, bench_database, database_url, print_table  # first: fixes the path

import http.server  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from django.test.utils import override_settings  # noqa: E402

from bench.queue import CLIENTS, ROWS, SMOKE_ROWS, Bench  # noqa: E402
from notifications.models import Notification  # noqa: E402
from patients.models import Patient  # noqa: E402

HANG_SECONDS = 600


class Hang(http.server.BaseHTTPRequestHandler):
    """A gateway that takes the request and never answers (until the bench ends)."""

    def do_GET(self):
        time.sleep(HANG_SECONDS)

    do_POST = do_GET

    def log_message(self, *args):
        pass


def start_worker(env: dict) -> subprocess.Popen:
    """django-tasks-db's worker for the notifications queue, on the bench database."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--queue-name", "notifications", "--no-reload",
         "--no-startup-delay", "--interval", "0.1"],
        env={**os.environ, **env, "DATABASE_URL": database_url()}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def main() -> None:
    args = arguments(__doc__, smoke="1 s per row, 1 and 4 clients: checks the bench runs", seconds=2.0,
                     clients=CLIENTS)
    seconds, client_counts = args.seconds, args.clients
    logging.getLogger("tokenline.queues").setLevel(logging.WARNING)
    gateway = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hang)
    gateway.daemon_threads = True
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{gateway.server_address[1]}"
    notify = {"NOTIFY_SMS_URL": url + "/send?to={phone}&text={message}", "NOTIFY_WEBHOOK_URL": url + "/hook"}
    with bench_database():
        bench = Bench(seconds, SMOKE_ROWS if args.smoke else ROWS)
        Patient.objects.update(phone="0300-1234567")
        worker = start_worker(notify)
        plain: list[Result] = []
        notified: list[Result] = []
        try:
            bench.call_next(1)  # warm-up (plans, caches), not reported
            for clients in client_counts:  # alternating, so that the machine's load drifts alike on both
                plain.append(bench.call_next(clients))
                with override_settings(**notify):
                    notified.append(bench.call_next(clients))
            rows = Notification.objects.count()
            pending = Notification.objects.exclude(state="delivered").count()
        finally:
            worker.kill()
            worker.wait()
    print_table(f"Call next (each call on a free desk), {seconds:g} s per row: with notifications (SMS and webhook to "
                "a gateway that never answers, a worker stuck on it) next to without",
                [("call-next, notifying", clients, b, a) for clients, a, b in zip(client_counts, plain, notified)],
                versus="plain")
    print(f"{rows} outbox rows written, {pending} not delivered (the gateway never answers)")


if __name__ == "__main__":
    main()
