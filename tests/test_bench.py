"""Every bench script runs (issue #13): `bench/<name>.py --smoke`, a few seconds each, against the test database.

A bench that no test runs rots (bench/opd.py once failed on its own fixture insert); the smoke runs also fail when a
raw-SQL ceiling stops sending the statements its code path sends (bench/common.py: check_same_statements).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

BENCHES = sorted(path.stem for path in Path("bench").glob("*.py") if path.stem not in {"__init__", "common", "settings"})


def test_every_bench_script_is_listed():
    assert BENCHES == ["allocate", "http", "notify", "offline_day", "opd", "queue", "search", "sequence"]


def test_importing_a_bench_leaves_the_settings_and_environment_alone():
    """tests/terminals/test_offline_day.py imports bench/offline_day.py here: bench.settings must not leak into the
    environment of the subprocesses later tests start (gunicorn would load its extra app, unmigrated: /health/ 503)."""
    import bench.offline_day  # noqa: F401
    from django.conf import settings

    assert os.environ["DJANGO_SETTINGS_MODULE"] == "config.settings"
    assert "sequences" not in settings.INSTALLED_APPS


@pytest.mark.django_db(transaction=True)  # the bench's rows are committed by other connections; flushed afterwards
@pytest.mark.parametrize("name", BENCHES)
def test_the_bench_runs_in_smoke_mode(name):
    connection.close()  # nothing of this process holds a lock the bench could wait on
    # The bench's own settings, named here: pytest-django's DJANGO_SETTINGS_MODULE is in this process's environment.
    env = {**os.environ, "BENCH_DATABASE": connection.settings_dict["NAME"], "DJANGO_SETTINGS_MODULE": "bench.settings"}
    run = subprocess.run(
        [sys.executable, f"bench/{name}.py", "--smoke"], env=env, capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "ratio" in run.stdout, run.stdout[-3000:]
