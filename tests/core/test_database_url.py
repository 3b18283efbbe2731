"""DATABASE_URL: the multi-host failover form is read as libpq expects; forms that would be misread stop startup."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.database_url import database_config

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.parametrize(("url", "host", "port"), [
    ("postgres://u@db1:5432,db2:5433/tl?target_session_attrs=read-write", "db1,db2", "5432,5433"),
    ("postgres://u@db1,db2:5433/tl?target_session_attrs=primary", "db1,db2", "5432,5433"),
    ("postgres://u:secret@db1:6432/tl", "db1", 6432),
    ("postgres://u@[::1]:5432/tl", "::1", 5432),
    ("postgres://u@db1/tl", "db1", ""),
])
def test_it_reads_single_and_multi_host_urls(url, host, port):
    config = database_config(url)
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == (host, port, "tl", "u")


def test_a_unix_socket_url_keeps_its_host_option():
    assert database_config("postgres://u@/tl?host=/run/postgresql")["OPTIONS"] == {"host": "/run/postgresql"}


@pytest.mark.parametrize(("url", "message"), [
    ("postgres://u@db1,db2:5432,5433/tl?target_session_attrs=read-write", "'5433' is not a host[:port]"),
    ("postgres://u@db1:5432,db2:5432/tl", "without target_session_attrs=read-write"),
    ("postgres://u@db1:5432,db2:5432/tl?target_session_attrs=any", "without target_session_attrs=read-write"),
])
def test_it_refuses_forms_that_would_be_misread_or_reach_a_standby(url, message):
    with pytest.raises(ImproperlyConfigured, match=message.replace("[", r"\[").replace("]", r"\]")):
        database_config(url)


def test_a_misread_url_stops_startup_with_the_message():
    env = {**os.environ, "DATABASE_URL": "postgres://u@db1,db2:5432,5433/tl", "DEBUG": "true"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    assert "'5433' is not a host[:port]" in result.stderr
