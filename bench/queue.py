"""Benchmark of walk-in queues (issue #7): issue and call-next latency through the API at 1/4/16 clients, each next
to a raw-SQL ceiling (psycopg, the same statements in the same transactions), and call-next with a board notifier
that sleeps 2 s, to show notifications never hold up the API.

    .venv/bin/python bench/queue.py [--seconds 2]

Runs against DATABASE_URL (or the embedded server), creating its own queues, desks and patients and deleting them
afterwards. Requests go through Django's test client in-process (URL routing, auth, DRF, services, on_commit), so
the figures are the server's own time without a network or a WSGI server.
"""

import sys
from pathlib import Path

# This file is named like the standard library's `queue` (issue #7 names it): take its folder off the import path
# before anything imports `queue`, and put the project root on it instead.
BENCH_DIR = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
sys.path.insert(0, str(BENCH_DIR.parent))

import argparse  # noqa: E402
import itertools  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from idseq.models import Counter  # noqa: E402
from patients.models import Patient  # noqa: E402
from queues import notify  # noqa: E402
from queues.models import Desk, Queue, Visit  # noqa: E402

CLIENTS = (1, 4, 16)
PATIENTS = 4000  # enough distinct patients for one queue's worth of issues in any configuration
WAITING = 4000  # visits waiting before each call-next run
NOTIFIER_SLEEP = 2.0  # seconds


def sleepy_notifier(queue_ids):
    """A board notifier as slow as seed 003's blocking WebSocket broadcast."""
    time.sleep(NOTIFIER_SLEEP)


class Bench:
    """One run: its own tag, user, patients, and the queues and desks each configuration creates."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.tag = uuid.uuid4().hex[:5].upper()
        self.today = timezone.localdate()
        self.user = User.objects.create_user(f"bench-{self.tag}", password=None)
        self.user.groups.add(Group.objects.get(name="reception"))
        Patient.objects.bulk_create(
            Patient(mrn=f"BENCH{self.tag}{i:05d}", full_name=f"Bench {i}") for i in range(PATIENTS)
        )
        self.patient_ids = list(Patient.objects.filter(mrn__startswith=f"BENCH{self.tag}").values_list("pk", flat=True))
        self.queues = []
        self.serial = itertools.count()

    def new_queue(self, desks: int = 0, waiting: int = 0) -> tuple[Queue, list[Desk]]:
        """A fresh queue (so tokens and patients never collide between runs) with `desks` desks and `waiting`
        visits already in line (inserted directly: they are the fixture, not what is measured)."""
        n = next(self.serial)
        queue = Queue.objects.create(name=f"Bench {self.tag} {n}", code=f"B{self.tag}{n}")
        self.queues.append(queue)
        desk_list = []
        for i in range(desks):
            desk = Desk.objects.create(name=f"{queue.code} desk {i}")
            desk.queues.add(queue)
            desk_list.append(desk)
        now = timezone.now()
        Visit.objects.bulk_create(
            Visit(patient_id=pid, queue=queue, visit_date=self.today, token_number=n + 1, queued_at=now)
            for n, pid in enumerate(self.patient_ids[:waiting])
        )
        return queue, desk_list

    def run(self, clients: int, work) -> list[float]:
        """Run `work(client_index, stop_at)` in `clients` threads at once; each returns its latencies (seconds)."""
        latencies, errors, barrier = [], [], threading.Barrier(clients)
        lock = threading.Lock()

        def thread(i):
            try:
                barrier.wait()
                mine = work(i, time.monotonic() + self.seconds)
                with lock:
                    latencies.extend(mine)
            except Exception as exc:  # re-raised below, in the main thread
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=thread, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return latencies

    def api(self) -> APIClient:
        client = APIClient(SERVER_NAME=settings.ALLOWED_HOSTS[0])
        client.force_authenticate(self.user)
        return client

    # --- issue ---------------------------------------------------------------------------------------------------

    def issue_api(self, clients: int) -> list[float]:
        queue, _ = self.new_queue()
        patients = iter(self.patient_ids)
        take = threading.Lock()

        def work(i, stop_at):
            api, times = self.api(), []
            while time.monotonic() < stop_at:
                with take:
                    pid = next(patients)
                started = time.perf_counter()
                response = api.post("/api/v1/visits/", {"patient": pid, "queue": queue.pk}, format="json")
                times.append(time.perf_counter() - started)
                assert response.status_code == 201, response.content[:300]
            return times

        return self.run(clients, work)

    def issue_raw(self, clients: int) -> list[float]:
        queue, _ = self.new_queue()
        patients = iter(self.patient_ids)
        take = threading.Lock()
        key = f"visit-token:{queue.code}:{self.today.isoformat()}"

        def work(i, stop_at):
            times = []
            with raw_connection() as conn:
                while time.monotonic() < stop_at:
                    with take:
                        pid = next(patients)
                    started = time.perf_counter()
                    with conn.transaction():
                        conn.execute(
                            f"INSERT INTO {Counter._meta.db_table} (key, last_value, updated_at) VALUES (%s, 0, now())"
                            " ON CONFLICT (key) DO NOTHING", [key])
                        counter_id, last = conn.execute(
                            f"SELECT id, last_value FROM {Counter._meta.db_table} WHERE key = %s FOR UPDATE", [key]
                        ).fetchone()
                        conn.execute(f"UPDATE {Counter._meta.db_table} SET last_value = %s, updated_at = now()"
                                     " WHERE id = %s", [last + 1, counter_id])
                        conn.execute(
                            f"SELECT id FROM {Visit._meta.db_table} WHERE patient_id = %s AND queue_id = %s"
                            " AND visit_date = %s AND status = ANY(%s) LIMIT 1",
                            [pid, queue.pk, self.today, list(Visit.OPEN_STATUSES)])
                        conn.execute(
                            f"INSERT INTO {Visit._meta.db_table} (patient_id, queue_id, visit_date, token_number,"
                            " priority, status, queued_at, issued_at, updated_at, issued_by_id)"
                            " VALUES (%s, %s, %s, %s, 'medium', 'waiting', now(), now(), now(), %s)",
                            [pid, queue.pk, self.today, last + 1, self.user.pk])
                    times.append(time.perf_counter() - started)
            return times

        return self.run(clients, work)

    # --- call next -----------------------------------------------------------------------------------------------

    def call_next_api(self, clients: int) -> list[float]:
        _, desks = self.new_queue(desks=clients, waiting=WAITING)

        def work(i, stop_at):
            api, times = self.api(), []
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                response = api.post(f"/api/v1/desks/{desks[i].pk}/call-next/")
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.content[:300]
                api.post(f"/api/v1/visits/{response.json()['id']}/no-show/")  # free the desk (not timed)
            return times

        return self.run(clients, work)

    def call_next_raw(self, clients: int) -> list[float]:
        _, desks = self.new_queue(desks=clients, waiting=WAITING)
        visit, desk_table = Visit._meta.db_table, Desk._meta.db_table
        serves = Desk.queues.through._meta.db_table

        def work(i, stop_at):
            times, desk_id = [], desks[i].pk
            with raw_connection() as conn:
                while time.monotonic() < stop_at:
                    started = time.perf_counter()
                    with conn.transaction():
                        conn.execute(f"SELECT id FROM {desk_table} WHERE id = %s FOR UPDATE", [desk_id])
                        conn.execute(f"SELECT id FROM {visit} WHERE desk_id = %s AND status = ANY(%s) LIMIT 1",
                                     [desk_id, list(Visit.AT_DESK_STATUSES)])
                        queue_ids = [row[0] for row in conn.execute(
                            f"SELECT queue_id FROM {serves} WHERE desk_id = %s", [desk_id])]
                        (visit_id,) = conn.execute(
                            f"SELECT id FROM {visit} WHERE queue_id = ANY(%s) AND visit_date = %s"
                            " AND status = 'waiting' ORDER BY priority_rank, queued_at, token_number LIMIT 1"
                            " FOR UPDATE SKIP LOCKED", [queue_ids, self.today]).fetchone()
                        conn.execute(f"UPDATE {visit} SET status = 'called', desk_id = %s, called_at = now(),"
                                     " called_by_id = %s, updated_at = now() WHERE id = %s",
                                     [desk_id, self.user.pk, visit_id])
                    times.append(time.perf_counter() - started)
                    conn.execute(f"UPDATE {visit} SET status = 'no_show', no_show_at = now() WHERE id = %s",
                                 [visit_id])
                    conn.commit()
            return times

        return self.run(clients, work)

    def cleanup(self):
        codes = [q.code for q in self.queues]
        Visit.objects.filter(queue__in=self.queues).delete()
        Desk.objects.filter(queues__in=self.queues).delete()
        Queue.objects.filter(pk__in=[q.pk for q in self.queues]).delete()
        Patient.objects.filter(pk__in=self.patient_ids).delete()
        for code in codes:
            Counter.objects.filter(key__startswith=f"visit-token:{code}:").delete()
        self.user.delete()


def raw_connection() -> psycopg.Connection:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        dbname=db["NAME"], user=db.get("USER") or None, password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None, port=db.get("PORT") or None,
    )


def ms(values: list[float], q: float) -> float:
    """The q-quantile (0.5 = p50, 0.99 = p99) of `values`, in milliseconds."""
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1] * 1000


def report(name: str, clients: int, django: list[float], raw: list[float] | None = None) -> None:
    line = f"{name:<28} clients={clients:<3} n={len(django):<5} p50={ms(django, .5):6.1f} ms  p99={ms(django, .99):6.1f} ms"
    if raw:
        line += (f" | raw SQL p50={ms(raw, .5):5.1f} ms p99={ms(raw, .99):6.1f} ms"
                 f" | ratio p50 x{ms(django, .5) / ms(raw, .5):.1f} p99 x{ms(django, .99) / ms(raw, .99):.1f}")
    print(line, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per configuration (default 2)")
    args = parser.parse_args()
    # One "Visit created" line per token would time the console, not the queue.
    logging.getLogger("tokenline.queues").setLevel(logging.WARNING)
    bench = Bench(args.seconds)
    try:
        for clients in CLIENTS:
            report("issue", clients, bench.issue_api(clients), bench.issue_raw(clients))
        for clients in CLIENTS:
            report("call-next", clients, bench.call_next_api(clients), bench.call_next_raw(clients))
        verdicts = []
        with override_settings(QUEUE_BOARD_NOTIFIERS=[f"{__name__}.sleepy_notifier"]):
            for clients in CLIENTS:
                latencies = bench.call_next_api(clients)
                report(f"call-next, {NOTIFIER_SLEEP:.0f} s notifier", clients, latencies)
                verdicts.append((clients, ms(latencies, .99)))
        print(f"notifications left pending (dropped past {notify.BACKLOG}): {notify._pending.qsize()}")
        for clients, p99 in verdicts:
            print(f"call-next p99 with a {NOTIFIER_SLEEP:.0f} s notifier at {clients} clients: {p99:.1f} ms"
                  f" ({'within' if p99 <= 100 else 'ABOVE'} 100 ms)")
    finally:
        bench.cleanup()


if __name__ == "__main__":
    main()
