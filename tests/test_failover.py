"""Failover as a tested promise: a primary and a streaming standby built with the PostgreSQL binaries on the machine,
registrations through the real server (gunicorn, config/gunicorn.py) on the multi-host DATABASE_URL, the primary
killed with SIGKILL (every process of it) and the standby promoted.

Before the kill the primary's WAL sender is stopped (SIGSTOP) for 1.5 s, as a stalled network would: with
synchronous replication no commit is acknowledged while it cannot reach the standby, so nothing acknowledged is
lost and no number is issued twice; with asynchronous replication the primary acknowledges commits the standby never
gets, and the promoted standby issues their MRNs again to other patients. The test checks every acknowledged MRN
against the promoted server: 0 lost and 0 reissued in the synchronous run, and the same check detects the loss in the
asynchronous one (the negative control, so this test can fail).

Marked `failover` (about 1-2 minutes): `pytest -m failover`. Needs initdb, pg_ctl, pg_basebackup (PATH or
/usr/lib/postgresql/*/bin) and, when run as root, the `postgres` system user (PostgreSQL refuses to run as root).
"""

import concurrent.futures
import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests.conftest import gunicorn_server, make_token, make_user, post_json, run_for
from tests.monitoring.conftest import free_port

DESKS = 8
pytestmark = [pytest.mark.failover, pytest.mark.long, pytest.mark.django_db(transaction=True)]


def binaries() -> Path | None:
    """The directory holding initdb, pg_ctl and pg_basebackup of one PostgreSQL version, or None."""
    found = shutil.which("pg_ctl")
    candidates = ([str(Path(found).resolve().parent)] if found else []) + sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for directory in candidates:
        if all((Path(directory) / tool).exists() for tool in ("initdb", "pg_ctl", "pg_basebackup")):
            return Path(directory)
    return None


class Cluster:
    """Two PostgreSQL servers in a temporary directory, run as the `postgres` system user when we are root."""

    def __init__(self, bin_dir: Path, base: Path):
        self.bin, self.base = bin_dir, base
        self.user = "postgres" if os.geteuid() == 0 else None
        self.primary, self.standby = base / "primary", base / "standby"
        self.primary_port, self.standby_port = free_port(), None
        base.mkdir(parents=True, exist_ok=True)
        if self.user:
            account = pwd.getpwnam(self.user)
            os.chown(base, account.pw_uid, account.pw_gid)

    def run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / tool), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=check, cwd=self.base)

    def start_primary(self) -> None:
        self.run("initdb", "-D", str(self.primary), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        with open(self.primary / "postgresql.conf", "a") as conf:
            conf.write(f"port = {self.primary_port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
                       "wal_level = replica\nmax_wal_senders = 5\nfsync = off\n")
        with open(self.primary / "pg_hba.conf", "a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        self.run("pg_ctl", "-D", str(self.primary), "-l", str(self.base / "primary.log"), "-w", "start")

    def start_standby(self) -> None:
        self.standby_port = free_port()
        self.run("pg_basebackup", "-D", str(self.standby), "-h", "127.0.0.1", "-p", str(self.primary_port),
                 "-U", "postgres", "-R", "--wal-method=stream", "--checkpoint=fast")
        with open(self.standby / "postgresql.conf", "a") as conf:
            conf.write(f"port = {self.standby_port}\ncluster_name = 'standby1'\nhot_standby = on\n")
        self.run("pg_ctl", "-D", str(self.standby), "-l", str(self.base / "standby.log"), "-w", "start")

    def url(self, port: int, name: str = "tokenline") -> str:
        return f"postgres://postgres@127.0.0.1:{port}/{name}"

    def processes(self, data: Path) -> list[int]:
        """The postmaster of `data` and its children."""
        postmaster = int((data / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
        return [postmaster, *map(int, children)]

    def walsender(self) -> int:
        """The primary's process streaming WAL to the standby."""
        for pid in self.processes(self.primary)[1:]:
            with contextlib.suppress(OSError):
                if "walsender" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                    return pid
        raise RuntimeError("the primary has no walsender")

    def kill_primary(self) -> None:
        for pid in self.processes(self.primary):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def promote_standby(self) -> None:
        self.run("pg_ctl", "-D", str(self.standby), "-w", "promote")

    def stop(self) -> None:
        for data in (self.standby, self.primary):
            if (data / "postmaster.pid").exists():
                self.run("pg_ctl", "-D", str(data), "-m", "immediate", "stop", check=False)


@pytest.fixture
def cluster(tmp_path_factory):
    bin_dir = binaries()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) on PATH or in /usr/lib/postgresql")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run PostgreSQL as")
        if not shutil.which("runuser"):
            pytest.skip("running as root and runuser is missing")
    base = Path(f"/tmp/tokenline-failover-{os.getpid()}-{time.monotonic_ns()}")
    made = Cluster(bin_dir, base)
    yield made
    made.stop()
    shutil.rmtree(base, ignore_errors=True)


def step(what: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {what}", flush=True)


def load_schema(cluster: Cluster) -> None:
    """The test database (schema, built-in rows, the desk's user and token) copied into a `tokenline` database on the
    primary."""
    params = connection.get_connection_params()
    with psycopg.connect(cluster.url(cluster.primary_port, "postgres"), autocommit=True) as admin:
        admin.execute("CREATE DATABASE tokenline")
    dump = subprocess.run(
        ["pg_dump", "--no-owner", "--no-privileges", "-h", params["host"], "-p", str(params.get("port") or 5432),
         "-U", params["user"], params["dbname"]], capture_output=True, check=True, timeout=120)
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", cluster.url(cluster.primary_port)], input=dump.stdout,
                   capture_output=True, check=True, timeout=120)


def answers(port: int) -> bool:
    """Whether 8 requests at once to /health/live/ all answer 200 (so both workers are up)."""
    def live(_):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live/", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return all(pool.map(live, range(8)))


@contextlib.contextmanager
def server(cluster: Cluster, log: Path):
    """gunicorn -c config/gunicorn.py (2 workers) on the multi-host URL: primary first, then the standby."""
    port = free_port()
    url = (f"postgres://postgres@127.0.0.1:{cluster.primary_port},127.0.0.1:{cluster.standby_port}/tokenline"
           "?target_session_attrs=read-write")
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "false", "SECRET_KEY": "failover-" + "x" * 50,
           "ALLOWED_HOSTS": "127.0.0.1", "SECURE": "false", "THROTTLE_USER": "1000000/min", "WEB_CONCURRENCY": "2"}
    args = ["-c", "config/gunicorn.py", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    # Every worker booted before the load starts, so it starts at once everywhere.
    with gunicorn_server(args, env, log, ready=lambda: answers(port)):
        yield port


def failover(cluster: Cluster, *, synchronous: bool, tmp_path: Path) -> dict:
    """Build the pair, register from DESKS desks, stall the primary's WAL sender 1.5 s before SIGKILL of the
    primary, promote the standby, go on registering; return the figures checked against the promoted server."""
    # A reception user's token, in the test database that load_schema copies (with its groups and permissions).
    token = make_token(make_user(f"failover-desk-{time.monotonic_ns()}", "reception"))
    step("initdb and start the primary")
    cluster.start_primary()
    step("copy the schema")
    load_schema(cluster)
    step("base backup and start the standby")
    cluster.start_standby()
    step("wait for the standby to attach")
    with psycopg.connect(cluster.url(cluster.primary_port), autocommit=True) as db:
        if synchronous:  # only now: with no standby attached every commit would wait for ever
            db.execute("ALTER SYSTEM SET synchronous_standby_names = 'standby1'")
            db.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 30
        wanted = "sync" if synchronous else "async"
        while db.execute("SELECT count(*) FROM pg_stat_replication WHERE sync_state = %s",
                         [wanted]).fetchone()[0] == 0:
            assert time.monotonic() < deadline, f"the standby did not attach as {wanted}"
            time.sleep(0.2)
    results, stop = [], threading.Event()

    def desk(i: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            name = f"Desk {i} patient {n}"
            try:
                status, body = post_json(f"http://127.0.0.1:{port}/api/v1/patients/", {"full_name": name}, token)
            except OSError:
                status, body = 0, {}
            results.append((time.monotonic() - started, name, status, body.get("mrn") if status == 201 else None))

    def stall():  # the WAL stops reaching the standby (what reached its socket would still be written)
        os.kill(cluster.walsender(), signal.SIGSTOP)

    def crash():
        cluster.kill_primary()  # SIGKILL ends the stopped walsender too
        cluster.promote_standby()

    step("start gunicorn")
    with server(cluster, tmp_path / f"gunicorn-{'sync' if synchronous else 'async'}.log") as port:
        step("register, stall, kill, promote")
        started = time.monotonic()
        threads = [threading.Thread(target=desk, args=(i,)) for i in range(DESKS)]
        run_for(16, threads, stop, started, events=[(5, stall), (6.5, crash)])
    acknowledged = {name: mrn for _, name, status, mrn in results if status == 201}
    with psycopg.connect(cluster.url(cluster.standby_port)) as promoted:
        stored = dict(promoted.execute("SELECT full_name, mrn FROM patients_patient").fetchall())
    by_mrn: dict[str, list[str]] = {}
    for name, mrn in acknowledged.items():
        by_mrn.setdefault(mrn, []).append(name)
    after = [row for row in results if row[0] > 6.5]
    figures = {
        "acknowledged": len(acknowledged),
        "acknowledged before the crash": sum(1 for row in results if row[0] < 6.5 and row[2] == 201),
        "lost": sum(1 for name, mrn in acknowledged.items() if stored.get(name) != mrn),
        "reissued": sum(len(names) - 1 for names in by_mrn.values()),
        "answered 201 after the promotion": sum(1 for row in after if row[2] == 201),
        "5xx": sum(1 for row in results if row[2] >= 500),
        "500": sum(1 for row in results if row[2] == 500),
    }
    print(f"\nfailover, {'synchronous' if synchronous else 'asynchronous'} replication, {DESKS} desks: "
          + json.dumps(figures))
    return figures


def test_with_synchronous_replication_a_failover_loses_and_reissues_nothing(cluster, tmp_path, capsys):
    with capsys.disabled():
        figures = failover(cluster, synchronous=True, tmp_path=tmp_path)
    assert figures["acknowledged before the crash"] > DESKS
    assert figures["lost"] == figures["reissued"] == figures["500"] == 0
    assert figures["answered 201 after the promotion"] > 0  # the multi-host URL found the promoted standby


def test_with_asynchronous_replication_the_same_check_detects_the_loss(cluster, tmp_path, capsys):
    with capsys.disabled():
        figures = failover(cluster, synchronous=False, tmp_path=tmp_path)
    assert figures["acknowledged before the crash"] > DESKS
    assert figures["lost"] > 0 and figures["reissued"] > 0  # the negative control: the check can fail
