"""core.database: the URL another process uses to reach this database, and the words a log line uses for it."""

import logging
import os
import subprocess
import sys

import environ
import pytest
from django.db import OperationalError

import core.database
from core.api import exception_handler

SHOW_SERVER = (
    "import django; django.setup(); from django.db import connection; "
    "print(*connection.cursor().execute(\"SELECT current_database(), current_setting('data_directory')\").fetchone())"
)


class Params:
    """A connection that only answers get_connection_params(), as Django's does."""

    def __init__(self, **params):
        self.params = {"dbname": "tokenline", "user": "postgres", **params}

    def get_connection_params(self):
        return self.params


def test_a_process_started_with_the_url_reaches_the_same_server_and_database(db):
    here = subprocess.run(
        [sys.executable, "-c", SHOW_SERVER], capture_output=True, text=True, timeout=60, check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": core.database.url()},
    ).stdout.split()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database(), current_setting('data_directory')")
        assert here == list(cursor.fetchone())


def test_a_unix_socket_directory_survives_the_round_trip_through_the_settings():
    url = core.database.url(Params(host="/srv/tokenline/var/pgdata", port=5433, password="p w"))
    parsed = environ.Env.db_url_config(url)
    assert parsed["OPTIONS"] == {"host": "/srv/tokenline/var/pgdata", "port": 5433}
    assert (parsed["NAME"], parsed["USER"], parsed["PASSWORD"]) == ("tokenline", "postgres", "p w")


def test_a_tcp_server_keeps_host_and_port():
    parsed = environ.Env.db_url_config(core.database.url(Params(host="db.lan", port=6432)))
    assert (parsed["HOST"], parsed["PORT"], parsed["NAME"]) == ("db.lan", 6432, "tokenline")


@pytest.fixture
def pgdata(tmp_path):
    (tmp_path / "PG_VERSION").write_text("18\n")
    return tmp_path


def postmaster_pid(pgdata, pid: int) -> None:
    (pgdata / "postmaster.pid").write_text(f"{pid}\n{pgdata}\n0\n5432\n{pgdata}\n\n0 0\nready   \n")


def test_the_embedded_server_is_named_with_its_state(pgdata):
    connection = Params(host=str(pgdata))
    assert core.database.describe(connection) == (
        f"the embedded PostgreSQL in {pgdata} (not running: no postmaster.pid), database tokenline"
    )
    postmaster_pid(pgdata, os.getpid())
    assert f"(running (pid {os.getpid()}, ready))" in core.database.describe(connection)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    postmaster_pid(pgdata, int(gone.stdout))
    assert f"(not running: pid {int(gone.stdout)} is gone)" in core.database.describe(connection)


def test_other_servers_are_named_by_address_or_socket():
    tcp = Params(host="10.0.0.5", port=5432)
    assert core.database.describe(tcp) == "PostgreSQL at 10.0.0.5:5432, database tokenline"
    assert core.database.describe(Params()) == (
        "PostgreSQL on the Unix socket in /var/run/postgresql (port 5432), database tokenline"
    )


def test_an_api_request_without_a_database_is_logged_with_the_server_it_tried(caplog):
    with caplog.at_level(logging.ERROR, logger="tokenline"):
        response = exception_handler(OperationalError("connection refused"), {})
    assert response.status_code == 503
    assert "not answering" in response.data["detail"]
    assert "PostgreSQL" not in str(response.data)  # hosts and paths stay in the log
    assert f"Database unavailable ({core.database.describe()}): connection refused" in caplog.text
