"""/health/ and /metrics behind real gunicorn with two worker processes sharing PROMETHEUS_MULTIPROC_DIR: the
scrape adds up what every worker measured."""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from prometheus_client.multiprocess import MultiProcessCollector

from tests.conftest import database_url, make_token, make_user, post_json, run_in_threads
from tests.monitoring.conftest import free_port, parse, value

BATCH = 12  # registrations sent at once


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn with 2 workers on the test database; yields (base URL, PROMETHEUS_MULTIPROC_DIR)."""
    multiproc_dir = tmp_path / "prometheus"
    multiproc_dir.mkdir()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(), "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir),
           "DEBUG": "false", "SECRET_KEY": "test-only-" + "x" * 50, "ALLOWED_HOSTS": "127.0.0.1", "SECURE": "false"}
    log = tmp_path / "gunicorn.log"
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
             "--no-control-socket"],  # not the one socket under ~/.gunicorn that every other gunicorn here uses
            cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=stderr,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while get(f"{url}/health/")[0] != 200:
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        yield url, multiproc_dir
    finally:
        server.terminate()  # graceful: a few seconds, more on a busy machine
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def mrn_lock_waits_per_worker(multiproc_dir: Path, workdir: Path) -> dict[str, float]:
    """{worker pid: mrn lock waits it measured}, read with prometheus_client from that worker's files alone."""
    waits = {}
    for pid in {path.stem.rsplit("_", 1)[1] for path in multiproc_dir.glob("*.db")}:
        alone = workdir / f"worker-{pid}"
        shutil.rmtree(alone, ignore_errors=True)
        alone.mkdir()
        for path in multiproc_dir.glob(f"*_{pid}.db"):
            shutil.copy(path, alone)
        waits[pid] = sum(
            sample.value
            for family in MultiProcessCollector(None, path=str(alone)).collect()
            for sample in family.samples
            if sample.name == "tokenline_counter_lock_wait_seconds_count" and sample.labels == {"counter": "mrn"}
        )
    return waits


@pytest.mark.django_db(transaction=True)
def test_two_workers_scrape_as_one(gunicorn, tmp_path):
    url, multiproc_dir = gunicorn
    status, body = get(f"{url}/health/")  # as `curl /health/`: no credentials
    assert status == 200 and json.loads(body)["status"] == "ok"
    token = make_token(make_user("desk", "reception"))

    registered = 0
    for _ in range(5):  # until both workers have served some (almost always the first round)
        results, errors = run_in_threads(
            lambda i: post_json(f"{url}/api/v1/patients/", {"full_name": f"Worker Patient {i}"}, token)[0], BATCH
        )
        assert not errors and results == [201] * BATCH
        registered += BATCH
        per_worker = mrn_lock_waits_per_worker(multiproc_dir, tmp_path)
        if len(per_worker) == 2 and all(per_worker.values()):
            break
    assert len(per_worker) == 2 and all(per_worker.values()), per_worker
    assert sum(per_worker.values()) == registered

    # One scrape, answered by either worker, adds up both.
    status, body = get(f"{url}/metrics")
    assert status == 200
    samples = parse(body.decode())
    assert value(samples, "tokenline_counter_lock_wait_seconds_count", counter="mrn") == registered
    assert value(samples, "tokenline_numbers_issued_total", sequence="mrn") == registered
    assert value(samples, "django_http_requests_latency_seconds_by_view_method_count", view="patient-list",
                 method="POST") == registered
