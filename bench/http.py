"""The real server: gunicorn with the production settings (config/gunicorn.py: workers, connection
pool) on 127.0.0.1, driven over HTTP at 16 and 64 clients for registrations (`POST /api/v1/patients/`), visit issue
(`POST /api/v1/visits/`) and call-next (`POST /api/v1/desks/{id}/call-next/`), each next to the raw-SQL ceiling
measured in the same run (pgbench sending the same statements; none for the token, whose lookup each worker keeps), with the ratio to it and the
p99 as a multiple of its p99, plus gunicorn's CPU time per request (utime + stime of its worker processes, from
/proc); and registrations through a second gunicorn with coalesced allocation on (TOKENLINE_COALESCE, "coalesced
reg") next to the single-row ceiling of the same run. Every answer's status is checked: one that is not 200/201
stops the bench (bench/common.py: expect).

    .venv/bin/python bench/http.py [--seconds 5] [--clients 16,64] [--workers N] [--threads N] [--port 8500]
                                   [--connections pool|persistent|per-request] [--smoke]

Clients are processes (up to 4) of threads, each request a new HTTP connection with `Authorization: Token`.
Runs in a throw-away database (bench/common.py); gunicorn is stopped at the end.
"""

from common import (  # first: fixes the path
    OK,
    Result,
    UnexpectedAnswer,
    arguments,
    bench_database,
    check_same_statements,
    checked,
    database_url,
    expect,
    pgbench,
    production_connections,
    production_request,
    script_statements,
    with_variables,
)

import http.client  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.allocate import raw_registration  # noqa: E402
from bench.queue import RAW_CALL_NEXT, RAW_ISSUE, make_line, make_token_counter  # noqa: E402
from core.auth import issue_token  # noqa: E402
from patients.models import Patient  # noqa: E402
from queues.models import Queue  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ROWS = 30_000  # patients, and waiting visits and desks per queue run: more than one run gets through
SMOKE_ROWS = 600


class Scenario:
    """One kind of request: its path and body for the n-th request of a client, and its pgbench twin."""

    def __init__(self, name: str, path, body, raw_script: str, **raw_variables):
        self.name, self.path, self.body = name, path, body
        self.raw_script, self.raw_variables = raw_script, raw_variables


def client_process(port: int, token: str, requests: list[tuple[str, bytes]], threads: int, deadline: float,
                   results) -> None:
    """Send `requests` (path, body) round-robin over `threads` threads until `deadline`; put latencies and
    failures on `results`."""
    latencies, failures, lock = [], [], threading.Lock()
    headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}

    def loop(mine):
        done = []
        for path, body in mine:
            if time.time() >= deadline:
                break
            start = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                expect(f"POST {path}", response.status, OK, response.read())
            except UnexpectedAnswer as exc:
                with lock:
                    failures.append(str(exc))
                continue
            finally:
                conn.close()
            done.append(time.perf_counter() - start)
        with lock:
            latencies.extend(done)

    workers = [threading.Thread(target=loop, args=(requests[i::threads],)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put((latencies, failures))


def drive(port: int, token: str, requests: list[tuple[str, bytes]], clients: int, seconds: float) -> Result:
    """`clients` concurrent clients (processes of threads) sending `requests`, each used once, for `seconds`."""
    processes = min(clients, 4)
    results = multiprocessing.get_context("fork").Queue()
    deadline = time.time() + seconds
    started = time.perf_counter()
    children = []
    for p in range(processes):
        threads = clients // processes + (1 if p < clients % processes else 0)
        mine = requests[p::processes]
        children.append(multiprocessing.get_context("fork").Process(
            target=client_process, args=(port, token, mine, threads, deadline, results)))
    for child in children:
        child.start()
    latencies, failures = [], []
    for _ in children:
        got, failed = results.get()
        latencies += got
        failures += failed
    for child in children:
        child.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise UnexpectedAnswer(f"{len(failures)} requests failed, the first: {failures[0]}")
    return Result(latencies, elapsed)


def worker_cpu_seconds(master: int) -> float:
    """utime + stime of gunicorn's worker processes (the children of `master`), in seconds."""
    total, tick = 0, os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:  # ppid
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def free_port(first: int) -> int:
    for port in range(first, 8600):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise SystemExit("no free port in 8500-8599")


CONNECTIONS = {  # --connections: the production pool, or what came before it, for comparison
    "pool": {},
    "persistent": {"DB_POOL_SIZE": "0", "CONN_MAX_AGE": "600"},
    "per-request": {"DB_POOL_SIZE": "0", "CONN_MAX_AGE": "0"},
}


def start_gunicorn(port: int, workers: int | None, threads: int | None, connections: str,
                   **settings_env: str) -> subprocess.Popen:
    """gunicorn as in production (config/gunicorn.py), bound to 127.0.0.1:`port`, on this run's database, with
    `settings_env` (e.g. TOKENLINE_COALESCE="true") added to its environment.

    Plain HTTP (SECURE=false: no redirect to HTTPS, which the bench's clients do not speak), and the user throttle
    of bench/settings.py (counted as in production, never refusing the bench's single user)."""
    from django.conf import settings

    env = {**os.environ, "DATABASE_URL": database_url(), "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1",
           "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key-" + "x" * 40),  # 50+: see settings
           "DJANGO_SETTINGS_MODULE": "config.settings", "SECURE": "false",
           "THROTTLE_USER": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["user"], **CONNECTIONS[connections],
           **settings_env}
    env.pop("BENCH_DATABASE", None)
    if workers:
        env["WEB_CONCURRENCY"] = str(workers)
    if threads:
        env["GUNICORN_THREADS"] = str(threads)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "--bind", f"127.0.0.1:{port}", "config.wsgi"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health/live/")
            response = conn.getresponse()
            expect("GET /health/live/", response.status, (200,), response.read())
            conn.close()
            return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("gunicorn did not answer")


class Fixtures:
    """A reception user with a token, ROWS patients, and per run a fresh queue with waiting visits and desks."""

    def __init__(self, rows: int):
        self.serial, self.today = 0, timezone.localdate()
        self.counters: dict[int, dict] = {}  # queue id -> its token counter (bench.queue.make_token_counter)
        user = User.objects.create_user("bench-http")
        user.groups.add(Group.objects.get(name="reception"))
        self.token, self.user_id = issue_token(user)[1], user.pk
        Patient.objects.bulk_create(Patient(mrn=f"H{i:07d}", full_name=f"Bench {i}") for i in range(rows))
        self.patient_ids = list(Patient.objects.filter(mrn__startswith="H").order_by("pk").values_list("pk", flat=True))
        with connection.cursor() as cursor:
            cursor.execute("CREATE SEQUENCE IF NOT EXISTS bench_seq")

    def queue(self, *, line: bool) -> tuple[Queue, list[int]]:
        self.serial += 1
        queue = Queue.objects.create(name=f"HTTP bench {self.serial}", code=f"H{self.serial}")
        self.counters[queue.pk] = make_token_counter(queue, self.today)  # as the first token of the day makes it
        if not line:
            return queue, []
        return queue, make_line(queue, self.patient_ids, self.today)

    def registrations(self) -> tuple[list, str, dict]:
        body = json.dumps({"full_name": "Bench Patient"}).encode()
        script = raw_registration()
        return [("/api/v1/patients/", body)] * 1_000_000, script, {}

    def issues(self) -> tuple[list, str, dict]:
        queue, _ = self.queue(line=False)
        raw_queue, _ = self.queue(line=False)
        requests = [("/api/v1/visits/", json.dumps({"patient": pid, "queue": queue.pk}).encode())
                    for pid in self.patient_ids]
        return requests, RAW_ISSUE, {"p0": self.patient_ids[0] - 1, "q": raw_queue.pk, "uid": self.user_id,
                                     **self.counters[raw_queue.pk]}

    def call_nexts(self) -> tuple[list, str, dict]:
        _, desks = self.queue(line=True)
        raw_queue, raw_desks = self.queue(line=True)
        requests = [(f"/api/v1/desks/{desk}/call-next/", b"") for desk in desks]
        return requests, RAW_CALL_NEXT, {"d0": raw_desks[0] - 1, "q": raw_queue.pk, "uid": self.user_id}

    def raw(self, script: str, prelude: str, connect: bool, clients: int, seconds: int, **variables) -> Result:
        """pgbench: `prelude` (what `check` found), then `script`, with `variables`; with `connect`, each
        transaction on a new connection."""
        with connection.cursor() as cursor:
            cursor.execute("ALTER SEQUENCE bench_seq RESTART")
        script = with_variables(prelude + script, **variables, day=self.today.isoformat())
        return pgbench(script, clients, seconds, connect=connect)

    def check(self, name: str, requests: list, script: str, variables: dict, connections: str) -> tuple[str, bool]:
        """Send one request in process after a first one, with the database connections of gunicorn's workers
        (`connections`, a key of CONNECTIONS), and count its round trips; check the raw script, after the round
        trips that come before the code path's own (a pool's empty check query, a token lookup the worker has not
        kept), makes the same. Returns those first round trips as pgbench lines (the empty check as `;`; usually
        none: the worker keeps the token's lookup, core.authentication, and lends a quiet connection unchecked) and
        whether the request connected anew (pgbench -C)."""
        path, body = requests.pop()  # used here, so not again by the clients
        client = Client(HTTP_AUTHORIZATION=f"Token {self.token}", SERVER_NAME="127.0.0.1")
        with production_connections(**CONNECTIONS[connections]):
            checked(client.post(path, body, content_type="application/json"))  # warm: content types, counters
            path, body = requests.pop()
            response, trips = production_request(lambda: client.post(path, body, content_type="application/json"))
        checked(response)
        connect = trips.statements[:1] == ["(connect)"]
        statements = trips.statements[connect:]
        own = [sql for sql in script_statements(script) if "nextval('bench_" not in sql]
        prelude = "".join(f"{sql};\n" for sql in statements[:max(len(statements) - len(own), 0)])
        check_same_statements(name, with_variables(prelude + script, **variables, day="x"), statements)
        return prelude, connect


def serving(workers: int | None, args, **settings_env: str):
    """A gunicorn (start_gunicorn's arguments from the command line's `args`, plus `settings_env`) and its port;
    the caller stops it (`stop`)."""
    server = start_gunicorn(free_port(args.port), workers, args.threads, args.connections, **settings_env)
    return server, int(server.args[server.args.index("--bind") + 1].rsplit(":", 1)[1])


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=30)
    connection.close()


def measure(fixtures: Fixtures, server: subprocess.Popen, port: int, name: str, make, clients: int, args,
            seconds: int) -> tuple:
    """One row: `clients` clients sending `make()`'s requests to gunicorn `server` for `seconds` (after checking one
    in process and warming the workers), next to pgbench sending the same statements: (name, clients, ours, raw,
    worker CPU ms per request)."""
    requests, script, variables = make()
    prelude, connect = fixtures.check(name, requests, script, variables, args.connections)
    connection.close()
    # Warm every worker on the last tenth of the requests, kept apart: an issue or call-next is refused when sent
    # twice (the patient already waits, the desk already has a visit called).
    warm = requests[-max(1, len(requests) // 10):]
    del requests[-len(warm):]
    drive(port, fixtures.token, warm, clients, 0.3 if args.smoke else 1)
    cpu_before = worker_cpu_seconds(server.pid)
    ours = drive(port, fixtures.token, requests, clients, seconds)
    cpu_ms = 1000 * (worker_cpu_seconds(server.pid) - cpu_before) / max(ours.count, 1)
    return name, clients, ours, fixtures.raw(script, prelude, connect, clients, seconds, **variables), cpu_ms


def main() -> None:
    args = arguments(__doc__, smoke="1 s per row, 2 clients, 2 workers: checks it runs", seconds=5, clients=(16, 64),
                     smoke_clients=(2,), options={
                         "--workers": {"type": int, "help": "gunicorn workers (default: config/gunicorn.py's)"},
                         "--threads": {"type": int,
                                       "help": "gunicorn threads per worker (default: config/gunicorn.py's)"},
                         "--port": {"type": int, "default": 8500,
                                    "help": "first port to try, up to 8599 (default 8500)"},
                         "--connections": {"choices": sorted(CONNECTIONS), "default": "pool",
                                           "help": "database connections of the workers (default: pool, as in "
                                                   "production)"}})
    seconds, client_counts = args.seconds, args.clients
    workers = 2 if args.smoke else args.workers
    logging.getLogger("tokenline.queues").setLevel(logging.WARNING)  # no "Visit created" lines from this process
    with bench_database():
        fixtures = Fixtures(SMOKE_ROWS if args.smoke else ROWS)
        connection.close()  # nothing of this process's connection may be shared with the forked clients
        server, port = serving(workers, args)
        try:
            rows = [measure(fixtures, server, port, name, make, clients, args, seconds)
                    for name, make in (("register", fixtures.registrations), ("visit issue", fixtures.issues),
                                       ("call-next", fixtures.call_nexts))
                    for clients in client_counts]
        finally:
            stop(server)
        # Registrations through a second gunicorn with coalesced allocation on (idseq/coalesce.py), next to the
        # single-row raw ceiling of the same run.
        server, port = serving(workers, args, TOKENLINE_COALESCE="true")
        try:
            rows += [measure(fixtures, server, port, "coalesced reg", fixtures.registrations, clients, args, seconds)
                     for clients in client_counts]
        finally:
            stop(server)
    print(f"\nThrough gunicorn (config/gunicorn.py, workers={workers or 'default'}, threads={args.threads or 'default'},"
          f" connections: {args.connections}) next to pgbench sending the same statements, {seconds} s per row")
    header = (f"{'request':<14}{'clients':>8}{'http/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'raw/s':>9}{'p50 ms':>9}"
              f"{'p99 ms':>9}{'ratio':>7}{'p99/raw':>9}{'cpu ms':>8}")
    print(header)
    print("-" * len(header))
    for name, clients, ours, raw, cpu_ms in rows:
        print(f"{name:<14}{clients:>8}{ours.rate:>9.0f}{ours.p50:>9.1f}{ours.p99:>9.1f}{raw.rate:>9.0f}"
              f"{raw.p50:>9.1f}{raw.p99:>9.1f}{ours.rate / raw.rate:>7.0%}{ours.p99 / raw.p99:>9.1f}{cpu_ms:>8.1f}")


if __name__ == "__main__":
    main()
