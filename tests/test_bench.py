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
    assert BENCHES == ["allocate", "http", "offline_day", "opd", "queue", "search", "sequence"]


@pytest.mark.django_db(transaction=True)  # the bench's rows are committed by other connections; flushed afterwards
@pytest.mark.parametrize("name", BENCHES)
def test_the_bench_runs_in_smoke_mode(name):
    connection.close()  # nothing of this process holds a lock the bench could wait on
    env = {**os.environ, "BENCH_DATABASE": connection.settings_dict["NAME"]}
    run = subprocess.run(
        [sys.executable, f"bench/{name}.py", "--smoke"], env=env, capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "ratio" in run.stdout, run.stdout[-3000:]
