"""Shared benchmark plumbing: a throw-away database, timed thread runs, pgbench for the raw-SQL ceiling, tables.

Each bench script runs standalone (`.venv/bin/python bench/<name>.py`) against a fresh `test_<db>` database created
and migrated like the test suite's, and dropped at the end, so it never touches real data.
"""

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
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
# Scripts run as `bench/<name>.py` have this folder first on the path, where bench/queue.py (named by issue #7)
# would shadow the standard library's `queue` for everything imported from here on: swap it for the project root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
sys.path.insert(0, str(BENCH_DIR.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402


@contextlib.contextmanager
def bench_database():
    """Create and migrate a throw-away database (as the test suite does), yield, then drop it."""
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


class Result:
    """Throughput and latency of one run: `rate` per second, `p50`/`p99` in milliseconds."""

    def __init__(self, latencies: list[float], seconds: float):
        ordered = sorted(latencies)
        self.count = len(ordered)
        self.rate = self.count / seconds
        self.p50 = 1000 * statistics.median(ordered)
        self.p99 = 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def run_threads(work, clients: int, seconds: float) -> Result:
    """Call `work()` in a loop from `clients` threads (each with its own connection) for `seconds`."""
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
        except Exception as exc:  # reported below
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
    if errors:
        raise errors[0]
    return Result(latencies, time.perf_counter() - started)


def pgbench(script: str, clients: int, seconds: int) -> Result:
    """Run the pgbench `script` (SQL text) against the current database; latencies from its per-transaction log."""
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
        command = [binary, "-n", "-f", str(script_path), "-c", str(clients), "-j", str(min(clients, 4)),
                   "-T", str(seconds), "-l", f"--log-prefix={tmp}/log"]
        run = subprocess.run(command, env=env, capture_output=True, text=True)
        if run.returncode:
            raise RuntimeError(f"pgbench failed:\n{run.stderr}")
        output = run.stdout
        latencies = [int(line.split()[2]) / 1e6 for log in Path(tmp).glob("log*") for line in log.open()]
    duration = float(re.search(r"duration: (\d+)", output).group(1))
    return Result(latencies, duration)


def _pgserver_bin() -> Path:
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def print_table(title: str, rows: list[tuple[str, int, Result, Result]]) -> None:
    """Print one line per (label, clients, ours, raw SQL) with the ratio of our rate to the raw-SQL rate."""
    print(f"\n{title}")
    header = f"{'what':<28}{'clients':>8}{'ours/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'raw/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for label, clients, ours, raw in rows:
        print(f"{label:<28}{clients:>8}{ours.rate:>10.0f}{ours.p50:>9.2f}{ours.p99:>9.2f}"
              f"{raw.rate:>10.0f}{raw.p50:>9.2f}{raw.p99:>9.2f}{ours.rate / raw.rate:>7.0%}")
