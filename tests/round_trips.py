"""Every round trip to PostgreSQL, counted on the wire, and Django's connection as gunicorn's workers have it.

Django's query log (CaptureQueriesContext) holds what goes through Django's cursors: it misses what psycopg and its
pool send themselves, such as psycopg_pool's check of a connection it lends (an empty query, with
CONN_HEALTH_CHECKS) or a reset when one comes back. `RoundTrips` counts from libpq's own trace of the protocol
(PQtrace): every exchange that ends in ReadyForQuery, whoever sent it, so the query-count tests (tests/patients and
tests/queues test_query_count.py) and the benches' raw ceilings (bench/common.py: check_same_statements) count what
production sends, whatever sends it. `production_connections` gives Django's connection the settings that
config/settings.py gives a gunicorn worker (a pool, its checks), so a request in process makes the same round trips.
"""

import contextlib
import os
import re
import runpy
import tempfile
from pathlib import Path
from unittest import mock

import psycopg
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connection, connections

SETTINGS = Path(__file__).resolve().parent.parent / "config" / "settings.py"
# One protocol message of the trace: direction (F from us, B from the server), length, type, then its fields; a
# message's text may run over several lines (SQL with newlines).
_MESSAGE = re.compile(r"\n(?=[FB]\t\d+\t)")
_PARSE = re.compile(r' "[^"]*" "(.*)" \d+(?: \S+)*$', re.DOTALL)


class RoundTrips:
    """A block's round trips to PostgreSQL on this thread's Django connection, counted from libpq's trace.

    Traced: the psycopg connection Django holds when the block starts, every idle connection of Django's pool (the
    pool checks one before lending it, before Django sees it), and every connection Django gets in the block (a new
    one counts one more round trip for its start-up, which happens before it can be traced). After the block,
    `statements` lists one entry per round trip, connection by connection, in order: its SQL as sent (`""` for the
    pool's empty check query, several statements when sent in one message), or `(connect)`. `len()` is their number.
    A connection Django closes in the block is read before it closes; one closed another way raises RuntimeError
    after the block (its last round trips would be lost). Linux only (psycopg's trace)."""

    def __init__(self):
        self.statements: list[str] = []
        self._traces: list[tuple[psycopg.Connection, object]] = []
        self._closed = 0

    def _trace(self, conn) -> None:
        if conn is None or conn.closed or any(traced is conn for traced, _ in self._traces):
            return
        log = tempfile.TemporaryFile()
        conn.pgconn.trace(os.dup(log.fileno()))  # psycopg closes the copy on untrace
        conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
        self._traces.append((conn, log))

    def __enter__(self):
        wrapper = connections[DEFAULT_DB_ALIAS]
        self._trace(wrapper.connection)
        pool = wrapper.pool
        for idle in list(pool._pool) if pool is not None else []:  # psycopg_pool keeps its idle connections there
            self._trace(idle)
        new_connection, close = wrapper.get_new_connection, wrapper._close

        def traced(params):
            conn = new_connection(params)
            if not any(traced is conn for traced, _ in self._traces):
                self.statements.append("(connect)")  # not from a traced pool: a connection made for this block
            self._trace(conn)
            return conn

        def read_then_close():
            if wrapper.pool is None:  # closed for good, not handed back to the pool (where it stays traced)
                self._read(wrapper.connection)
            return close()

        self._patches = [mock.patch.object(wrapper, "get_new_connection", traced),
                         mock.patch.object(wrapper, "_close", read_then_close)]
        for patch in self._patches:
            patch.start()
        return self

    def _read(self, conn) -> None:
        """Stop tracing `conn` and add its round trips."""
        for traced, log in self._traces:
            if traced is conn:
                self._traces.remove((traced, log))
                if conn.closed:
                    self._closed += 1
                    return
                conn.pgconn.untrace()
                log.seek(0)
                self.statements += _round_trips(log.read().decode())
                log.close()
                return

    def __exit__(self, *exc):
        for patch in self._patches:
            patch.stop()
        for conn, _ in list(self._traces):
            self._read(conn)
        if self._closed and not any(exc):
            raise RuntimeError(f"{self._closed} traced connection(s) closed in the block: their round trips are lost")

    def __len__(self) -> int:
        return len(self.statements)


def _round_trips(trace: str) -> list[str]:
    """The round trips of a libpq trace: the SQL of each exchange's first Query or Parse message (or its first
    message's type), one per ReadyForQuery."""
    trips, sent = [], None
    for message in _MESSAGE.split(trace.rstrip("\n")):
        direction, _, kind, *fields = message.split("\t", 3)
        if direction == "F" and sent is None:
            text = fields[0] if fields else ""
            if kind == "Query":
                sent = text.strip()[1:-1]
            elif kind == "Parse" and (parsed := _PARSE.match(text)):
                sent = parsed.group(1)
            else:
                sent = f"({kind})"
        elif direction == "B" and kind == "ReadyForQuery":
            trips.append(sent if sent is not None else "(no message)")
            sent = None
    return trips


@contextlib.contextmanager
def production_connections(**environment):
    """Django's default connection, for the block, as config/settings.py sets it up for a gunicorn worker
    (config/gunicorn.py sets DB_POOL_SIZE): its OPTIONS (the pool's included), CONN_MAX_AGE and CONN_HEALTH_CHECKS,
    read from the settings file run again with DB_POOL_SIZE=1 and `environment` (more variables, e.g. DB_POOL_SIZE=0
    and CONN_MAX_AGE for a worker without a pool); the database's name stays this process's. A pool's connections
    are made first (as in a worker that has started); afterwards the pool is closed and the settings put back.
    `production_request` sends a request as a worker does."""
    with mock.patch.dict(os.environ, {"DB_POOL_SIZE": "1", **environment}):
        production = runpy.run_path(str(SETTINGS))["DATABASES"]["default"]
    keys = ("OPTIONS", "CONN_MAX_AGE", "CONN_HEALTH_CHECKS")
    saved = {key: connection.settings_dict[key] for key in keys}
    connection.close()
    connection.settings_dict.update({key: production[key] for key in keys})
    try:
        if connection.pool is not None:
            connection.pool.open(wait=True)  # its connections made, as in a worker that has started
        yield
    finally:
        connection.close()
        connection.close_pool()
        connection.settings_dict.update(saved)


def production_request(send):
    """`send()` (one request through Django's test client, say) between the request_started and request_finished
    work of Django's handler on connections, which the test client leaves out (`close_old_connections`: the
    connection handed back to the pool, closed or kept for the next request, its health check due again), as in a
    gunicorn worker (inside `production_connections`); returns (its answer, RoundTrips of the whole)."""
    close_old_connections()
    with RoundTrips() as trips:
        answer = send()
        close_old_connections()
    return answer, trips
