"""Django's PostgreSQL backend (ENGINE "config.postgresql"), with every new connection fenced: a server on an older
timeline than one this process already used is refused (core.replication.fence), so an old primary restarted as a
primary after its standby was promoted never issues a number again. A pooled connection is checked when lent without
a round trip (`check_connection`)."""

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool

from core.replication import fence


def check_connection(conn) -> None:
    """psycopg_pool's `check` for a connection about to be lent: raise if it is closed, or if the server dropped it.

    An idle connection has nothing to read from its socket. A server that ends a connection (restart, crash,
    failover, `pg_terminate_backend`, idle timeout) sends its FATAL message and closes the socket, and the socket
    turns readable; so does a peer's TCP reset. Only then is the connection asked (psycopg_pool's own check, an
    empty statement), which reads what arrived and raises for a dead one; the pool then discards it and lends another
    or opens a new one. A healthy connection costs one `poll()` with no wait instead of a round trip per request
    (psycopg_pool's check on every checkout was one statement more per request than the query counts showed). A peer
    gone silent (cable cut) is not readable: TCP keepalives and tcp_user_timeout (config/settings.py) end it.

    Args:
        conn: a psycopg Connection, idle (the pool has reset it).
    Raises:
        psycopg.OperationalError (or another psycopg error): the connection cannot be used.
    """
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    if poller.poll(0):
        ConnectionPool.check_connection(conn)


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        """Django's pool (made on first use, shared by the process), with `check_connection` as its check when
        CONN_HEALTH_CHECKS asks for one (Django installs psycopg_pool's round-trip check; `_check` is where
        psycopg_pool keeps it)."""
        pool = super().pool
        if pool is not None and pool._check is ConnectionPool.check_connection:
            pool._check = check_connection
        return pool

    def _configure_connection(self, connection):
        """Django's setup of a new connection (also psycopg_pool's `configure`, once per pooled connection), then
        `fence`. Returns whether the caller must commit (the fence's query opened a transaction when the connection
        is not in autocommit yet)."""
        commit = super()._configure_connection(connection)
        fence(connection)
        return commit or not connection.autocommit
