"""Shared benchmark plumbing: a throw-away database, timed thread runs, pgbench for the raw-SQL ceiling, tables.

Each bench script runs standalone (`.venv/bin/python bench/<name>.py`) against a fresh `test_<db>` database created
and migrated like the test suite's, and dropped at the end, so it never touches real data. With `--smoke` it runs for
a few seconds on small data: tests/test_bench.py runs every bench that way on a copy of the test suite's database (named
in BENCH_DATABASE, used as it is), so no bench rots unnoticed.

Every answer a bench times is checked (`expect`, `checked`): an HTTP status, in process or over HTTP, or a service's
result that is not the one the bench means to time stops the bench with a message and exit status 1, instead of
printing the speed of redirects or refusals. Options common to the benches come from `arguments`.

Raw ceilings make exactly the round trips the code path makes: `check_same_statements` compares a pgbench script
with the round trips of one call of the code path, counted on the wire (tests/round_trips.py: BEGIN and COMMIT, a
pool's check of the connection it lends, whatever sends them), and the statements of each (verb and tables), and
fails the bench when they differ.
"""

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
# Scripts run as `bench/<name>.py` have this folder first on the path, where bench/queue.py (named after the
# walk-in queues it measures) would shadow the standard library's `queue` for everything imported from here on:
# swap it for the project root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
sys.path.insert(0, str(BENCH_DIR.parent))
# A bench run as a script (`bench/<name>.py`) uses bench/settings.py: the project's settings plus django-sequences.
# Imported by another program (tests/terminals/test_offline_day.py imports bench/offline_day.py in pytest's process)
# it leaves that program's settings and environment alone: subprocesses the program starts later (gunicorn in
# tests/monitoring) must not inherit bench.settings, whose extra app has tables the test database lacks.
if Path(sys.argv[0] or ".").resolve().parent == BENCH_DIR:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
# Smoke runs of the test suite: a copy of the database it prepared (migrated, empty; the test drops it afterwards).
BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "")

import django  # noqa: E402
from django.conf import settings  # noqa: E402

if BENCH_DATABASE:
    settings.DATABASES["default"]["NAME"] = BENCH_DATABASE
django.setup()

from django.db import connection  # noqa: E402

from core.database import url as database_url  # noqa: E402,F401  (bench scripts import it from here)

from core.busy import whole_wait_bounded  # noqa: E402
from idseq.services import _ADVANCE_SEQUENCE  # noqa: E402
from tests.round_trips import RoundTrips, production_connections, production_request  # noqa: E402,F401  (for benches)


@contextlib.contextmanager
def bench_database():
    """Create and migrate a throw-away database (as the test suite does), yield, then drop it; with BENCH_DATABASE
    (smoke runs in the test suite) use that database as it is."""
    if BENCH_DATABASE:
        yield
        return
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def arguments(doc: str, *, smoke: str, seconds: float | None = None, clients: tuple[int, ...] | None = None,
              smoke_clients: tuple[int, ...] = (1, 4), options: dict[str, dict] | None = None) -> argparse.Namespace:
    """Parse a bench's command line: `--smoke` (help text `smoke`); with `seconds`, `--seconds` (that default, of its
    type; 1 in a smoke run); with `clients`, `--clients` (comma-separated counts, that default; `smoke_clients` in a
    smoke run), parsed into a tuple of ints; and the bench's own `options` (flag -> `add_argument` keywords).
    `doc` (the script's docstring) is the help's description. Exits 2 on a bad command line (argparse)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if seconds is not None:
        parser.add_argument("--seconds", type=type(seconds), default=seconds,
                            help=f"seconds per configuration (default {seconds:g})")
    if clients is not None:
        parser.add_argument("--clients", default=",".join(map(str, clients)),
                            help=f"client counts, comma-separated (default {','.join(map(str, clients))})")
    parser.add_argument("--smoke", action="store_true", help=smoke)
    for flag, keywords in (options or {}).items():
        parser.add_argument(flag, **keywords)
    args = parser.parse_args()
    if args.smoke and seconds is not None:
        args.seconds = type(seconds)(1)
    if clients is not None:
        args.clients = smoke_clients if args.smoke else tuple(int(c) for c in args.clients.split(","))
    return args


class UnexpectedAnswer(SystemExit):
    """A bench got an answer it does not time (a redirect, a refusal, another result): it stops with this message
    and exit status 1. A SystemExit, so it ends the bench without a traceback; run_threads carries it from a timed
    thread to the main one."""


def expect(what: str, answer, expected: tuple, detail: str | bytes = "") -> None:
    """Stop the bench (UnexpectedAnswer) unless `answer` is one of `expected`.

    `what` names the request or call (e.g. `POST /api/v1/patients/`), `answer` is its HTTP status or the kind of
    result a service returned (e.g. `Token`), `detail` (the body) is shown cut to 300 characters. The one check of
    every bench: a bench that timed 301 redirects once printed a registration rate of "3978 %" of its ceiling."""
    if answer not in expected:
        wanted = " or ".join(map(str, expected))
        raise UnexpectedAnswer(f"stopped: {what} answered {answer}, the bench times only {wanted}; the figures would be"
                               f" wrong. {detail[:300]!r}")


OK = (200, 201)


def checked(response, expected: tuple = OK):
    """`response` of Django's or DRF's test client, after `expect` of its status (by default 200 or 201)."""
    request = response.request
    expect(f"{request['REQUEST_METHOD']} {request['PATH_INFO']}", response.status_code, expected, response.content)
    return response


class Result:
    """Throughput and latency of one run: `rate` per second, `p50`/`p99` in milliseconds."""

    def __init__(self, latencies: list[float], seconds: float):
        ordered = sorted(latencies)
        self.count = len(ordered)
        self.rate = self.count / seconds
        self.p50 = 1000 * statistics.median(ordered)
        self.p99 = 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def run_threads(work, clients: int, seconds: float) -> Result:
    """Call `work()` in a loop from `clients` threads (each with its own connection) for `seconds`.

    A call that raises stops the bench (UnexpectedAnswer naming the exception, after its traceback): a refused call,
    such as NumberingBusy when a counter lock wait passes TOKENLINE_LOCK_TIMEOUT, is not timed as a served one."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    errors = []

    def loop():
        mine = []
        try:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                work()
                mine.append(time.perf_counter() - start)
        except (Exception, UnexpectedAnswer) as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()
            with lock:
                latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=loop) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors and not isinstance(errors[0], UnexpectedAnswer):
        traceback.print_exception(errors[0])
        raise UnexpectedAnswer(f"stopped: a timed call at {clients} clients raised {type(errors[0]).__name__}: "
                               f"{errors[0]}") from errors[0]
    if errors:
        raise errors[0]
    return Result(latencies, time.perf_counter() - started)


# Smoke runs (`--smoke`) give pgbench a number of transactions instead of a duration: a fast machine would otherwise
# run out of the few rows (waiting visits, desks) a smoke run prepares.
SMOKE_TRANSACTIONS = 20 if "--smoke" in sys.argv else None


def pgbench(script: str, clients: int, seconds: int, *, connect: bool = False) -> Result:
    """Run the pgbench `script` (SQL text) against the current database; latencies from its per-transaction log.

    `seconds` long, or SMOKE_TRANSACTIONS per client in a smoke run; with `connect`, each transaction on a new
    connection (pgbench -C), as a server that connects for each request."""
    binary = shutil.which("pgbench") or str(_pgserver_bin() / "pgbench")
    params = connection.get_connection_params()
    env = {
        **os.environ,
        "PGHOST": params.get("host") or "",
        "PGPORT": str(params.get("port") or ""),
        "PGUSER": params.get("user") or "",
        "PGPASSWORD": params.get("password") or "",
        "PGDATABASE": params["dbname"],
    }
    with tempfile.TemporaryDirectory() as tmp:
        script_path = Path(tmp) / "script.sql"
        script_path.write_text(script)
        length = ["-t", str(SMOKE_TRANSACTIONS)] if SMOKE_TRANSACTIONS else ["-T", str(seconds)]
        command = [binary, "-n", "-f", str(script_path), "-c", str(clients), "-j", str(min(clients, 4)), *length,
                   "-l", f"--log-prefix={tmp}/log", *(["-C"] if connect else [])]
        started = time.perf_counter()
        run = subprocess.run(command, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if run.returncode:
            raise RuntimeError(f"pgbench failed:\n{run.stderr}")
        output = run.stdout
        latencies = [int(line.split()[2]) / 1e6 for log in Path(tmp).glob("log*") for line in log.open()]
    duration = elapsed if SMOKE_TRANSACTIONS else float(re.search(r"duration: (\d+)", output).group(1))
    return Result(latencies, duration)


def _pgserver_bin() -> Path:
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def print_table(title: str, rows: list[tuple[str, int, Result, Result]], versus: str = "raw") -> None:
    """Print one line per (label, clients, ours, other) with the ratio of our rate to the other's (by default the
    raw-SQL ceiling measured in the same run) and our p99 as a multiple of the other's."""
    print(f"\n{title}")
    header = (f"{'what':<28}{'clients':>8}{'ours/s':>10}{'p50 ms':>9}{'p99 ms':>9}{versus + '/s':>10}{'p50 ms':>9}"
              f"{'p99 ms':>9}{'ratio':>8}{'p99/' + versus:>12}")
    print(header)
    print("-" * len(header))
    for label, clients, ours, raw in rows:
        print(f"{label:<28}{clients:>8}{ours.rate:>10.0f}{ours.p50:>9.2f}{ours.p99:>9.2f}"
              f"{raw.rate:>10.0f}{raw.p50:>9.2f}{raw.p99:>9.2f}{ours.rate / raw.rate:>7.0%}{ours.p99 / raw.p99:>12.1f}")


_TABLES = re.compile(r'\b(?:FROM|JOIN|INTO|UPDATE)\s+"?([a-z_][a-z0-9_]*)"?', re.IGNORECASE)


# Statements sent together in one round trip: `a; b` from the code path (core.busy.whole_wait_bounded), `a \; b` in a
# pgbench script. Split at a semicolon followed by the next statement's first word.
_COMPOUND = re.compile(r"\s*\\?;\s*(?=[A-Za-z])")


def statement_shapes(statements: list[str]) -> list[str]:
    """Each SQL statement as its verb and the tables it names, e.g. `UPDATE idseq_counter`, for comparisons; the
    statements of a compound query (several in one round trip) each on their own; an empty query (psycopg_pool's
    check of a connection, `;` in a pgbench script) as `(empty)`."""
    shapes = []
    for compound in statements:
        parts = [part for part in _COMPOUND.split(compound.strip()) if part.strip().rstrip(";").strip()]
        if not parts:
            shapes.append("(empty)")
        for sql in parts:
            verb = sql.split(None, 1)[0].rstrip(";").upper()
            tables = sorted({t.lower() for t in _TABLES.findall(sql)} - {"unnest", "generate_series"})
            shapes.append(" ".join([verb, *tables]))
    return shapes


def script_statements(script: str) -> list[str]:
    """The SQL statements of a pgbench script (meta-commands such as `\\set` left out)."""
    statements, current = [], []
    for line in script.splitlines():
        if line.startswith("\\") or not line.strip():
            continue
        current.append(line)
        if line.rstrip().endswith((";", "\\gset", "\\aset")):
            statements.append(" ".join(current))
            current = []
    return statements


def check_same_statements(label: str, script: str, round_trips: list[str]) -> None:
    """Fail (SystemExit) unless the pgbench `script` makes the round trips of the code path, `round_trips` (the
    `statements` of RoundTrips around one call), as many and with the same statements (verb and tables, in order).
    The script's own row pickers (`SELECT nextval('bench_...')`, which choose the patient or desk a transaction uses)
    are no round trips of the code path and are left out."""
    script_trips = [sql for sql in script_statements(script) if "nextval('bench_" not in sql]
    raw, ours = statement_shapes(script_trips), statement_shapes(round_trips)
    if raw != ours or len(script_trips) != len(round_trips):
        raise SystemExit(f"{label}: the raw ceiling does not make the code path's round trips\n"
                         f"  code path: {len(round_trips)} round trips, {ours}\n"
                         f"  raw SQL:   {len(script_trips)} round trips, {raw}")
    print(f"{label}: raw ceiling makes the code path's {len(round_trips)} round trips ({len(ours)} statements)")


# idseq's one round trip that locks and advances a sequence's counter (`idseq.services._ADVANCE_SEQUENCE` with its wait
# bounded by core.busy.whole_wait_bounded: three statements sent as one), as raw ceilings send it: the same text with
# pgbench variables for its parameters (`advance_variables` gives their values), joined with `\\;` so pgbench too sends
# them in one message, and `\\aset`, so the script has the new last value as `:n`.
RAW_ADVANCE = whole_wait_bounded(
    _ADVANCE_SEQUENCE % {"count": ":count", "key": ":'key'", "sequence": ":sid", "version": ":version", "limit": ":limit"}
).replace("RETURNING c.last_value", "RETURNING c.last_value AS n").replace("; ", " \\; ") + " \\aset"


def advance_variables(key: str, count: int = 1) -> dict:
    """The values of RAW_ADVANCE's variables for counter `key` (a counter of a sequence, which must exist), taking
    `count` values; `sid` is the sequence's id, for the ledger rows the script writes."""
    from idseq.models import Counter

    sequence = Counter.objects.select_related("sequence").get(key=key).sequence
    return {"key": key, "count": count, "sid": sequence.pk, "version": sequence.version,
            "limit": sequence.id_format.last_value}


def with_variables(script: str, **variables) -> str:
    """A pgbench script with `variables` filled in: numbers as `\\set name value` lines, strings written into each
    `:'name'` (pgbench has no quoted variables)."""
    for name, value in variables.items():
        if isinstance(value, int):
            script = f"\\set {name} {value}\n" + script
        else:
            script = script.replace(f":'{name}'", f"'{value}'")
    return script
