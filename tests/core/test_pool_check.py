"""The pool's check of a connection it lends (config/postgresql/base.py): no round trip for a healthy one, a new
connection instead of one the server ended."""

import time

import psycopg
import pytest
from django.db import connection

from config.postgresql.base import DatabaseWrapper, check_connection


@pytest.fixture
def pooled(db, tmp_path):
    """A DatabaseWrapper on the test database with a pool of one connection, as production settings make it."""
    settings = {**connection.settings_dict, "CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": True,
                "OPTIONS": {**connection.settings_dict["OPTIONS"], "pool": {"min_size": 1, "max_size": 1}}}
    wrapper = DatabaseWrapper(settings, alias="pool-check")
    yield wrapper
    wrapper.close_pool()


def lend(wrapper) -> psycopg.Connection:
    wrapper.pool.open()
    return wrapper.pool.getconn(timeout=5)


def end_on_the_server(pid: int) -> None:
    with psycopg.connect(**connection.get_connection_params()) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    time.sleep(0.3)  # the FATAL message and the close reach the pooled connection's socket


def test_the_pool_checks_with_the_cheap_check(pooled):
    assert pooled.pool._check is check_connection


def test_lending_a_healthy_connection_sends_nothing(pooled, tmp_path):
    conn = lend(pooled)
    pooled.pool.putconn(conn)
    trace = tmp_path / "trace"
    with trace.open("w") as out:
        conn.pgconn.trace(out.fileno())
        again = lend(pooled)
        conn.pgconn.untrace()
    assert again is conn
    assert trace.read_text() == ""  # no message to the server, so no round trip
    assert conn.execute("SELECT 1").fetchone() == (1,)
    pooled.pool.putconn(conn)


def test_a_connection_the_server_ended_is_replaced_when_lent(pooled):
    conn = lend(pooled)
    pid = conn.info.backend_pid
    pooled.pool.putconn(conn)
    end_on_the_server(pid)
    again = lend(pooled)
    assert again.info.backend_pid != pid
    assert again.execute("SELECT 1").fetchone() == (1,)
    pooled.pool.putconn(again)


def test_without_a_check_the_ended_connection_is_lent_and_fails(pooled):
    # The negative control: what the check prevents.
    pooled.pool._check = None
    conn = lend(pooled)
    pooled.pool.putconn(conn)
    end_on_the_server(conn.info.backend_pid)
    again = lend(pooled)
    with pytest.raises(psycopg.OperationalError):
        again.execute("SELECT 1")
    pooled.pool.putconn(again)
