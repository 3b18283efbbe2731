"""Every bench script runs: `bench/<name>.py --smoke`, a few seconds each, on a copy of the test database.

A bench that no test runs rots (bench/opd.py once failed on its own fixture insert); the smoke runs also fail when a
raw-SQL ceiling stops sending the statements its code path sends (bench/common.py: check_same_statements), and a
bench whose requests are answered with a status it does not time stops instead of printing figures
(bench/common.py: expect).
"""

import concurrent.futures
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from psycopg import sql

from tests.conftest import raw_connection

BENCHES = sorted(path.stem for path in Path("bench").glob("*.py") if path.stem not in {"__init__", "common", "settings"})


def test_every_bench_script_is_listed():
    assert BENCHES == [
        "allocate", "http", "notify", "offline_day", "offline_faults", "opd", "queue", "search", "sequence",
    ]


def test_importing_a_bench_leaves_the_settings_and_environment_alone():
    """tests/terminals/test_offline_day.py imports bench/offline_day.py here: bench.settings must not leak into the
    environment of the subprocesses later tests start (gunicorn would load its extra app, unmigrated: /health/ 503)."""
    import bench.offline_day  # noqa: F401
    from django.conf import settings

    assert os.environ["DJANGO_SETTINGS_MODULE"] == "config.settings"
    assert "sequences" not in settings.INSTALLED_APPS


# What a bench's output must show: a speed bench its ratio to the raw-SQL ceiling; a fault bench its table.
SHOWS = {"offline_faults": "| lost |"}

# Smoke runs at once: each is mostly waiting (timed rows, pgbench, gunicorn starting), so four side by side take
# about the time of the longest two rather than of all eight in a row. More would only queue for the CPU.
AT_ONCE = 4


def run_smoke(name: str, template: str, **env) -> subprocess.CompletedProcess:
    """`bench/<name>.py --smoke` on a database of its own, a copy of the test database (`template`, migrated and
    empty), dropped afterwards: benches side by side never see each other's rows (several make the same users).
    `env`: more environment variables for the bench."""
    database = f"{template}_bench_{name}"
    with raw_connection(dbname="postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(database)))
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(*map(sql.Identifier, (database, template))))
    try:
        # The bench's own settings, named here: pytest-django's DJANGO_SETTINGS_MODULE is in this process's environment.
        env = {**os.environ, "BENCH_DATABASE": database, "DJANGO_SETTINGS_MODULE": "bench.settings", **env}
        return subprocess.run(
            [sys.executable, f"bench/{name}.py", "--smoke"], env=env, capture_output=True, text=True, timeout=300
        )
    finally:
        with raw_connection(dbname="postgres", autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


@pytest.fixture(scope="module")
def template(django_db_setup, django_db_blocker) -> str:
    """The test database's name, this process's connection to it closed: a template database takes no other
    session."""
    with django_db_blocker.unblock():
        connection.close()
        return connection.settings_dict["NAME"]


@pytest.fixture(scope="module")
def smoke_runs(template) -> dict:
    """Every bench's smoke run, AT_ONCE at a time: {name: CompletedProcess or the exception that stopped it}."""
    with concurrent.futures.ThreadPoolExecutor(AT_ONCE) as pool:
        futures = {name: pool.submit(run_smoke, name, template) for name in BENCHES}
    return {name: future.exception() or future.result() for name, future in futures.items()}


@pytest.mark.django_db  # the test database must exist: the benches run on copies of it
@pytest.mark.parametrize("name", BENCHES)
def test_the_bench_runs_in_smoke_mode(name, smoke_runs):
    run = smoke_runs[name]
    assert isinstance(run, subprocess.CompletedProcess), repr(run)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert SHOWS.get(name, "ratio") in run.stdout, run.stdout[-3000:]


@pytest.mark.django_db(transaction=True)  # the test database must exist, and no transaction may hold it open
def test_a_bench_stops_on_a_status_it_does_not_time(template):
    """With the HTTPS redirect on, every in-process POST of bench/allocate.py is answered 301: the bench stops on the
    first, before timing anything, instead of printing the redirects' speed as registrations' ("3978 %")."""
    connection.close()  # the template's sessions: this test's too
    run = run_smoke("allocate", template, SECURE_SSL_REDIRECT="true")
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert "stopped: POST /api/v1/patients/ answered 301, the bench times only 200 or 201" in run.stderr, run.stderr
    assert "ratio" not in run.stdout, run.stdout
