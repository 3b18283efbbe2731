"""The database this process uses: as a `DATABASE_URL` for another process, and in words for a log line.

A server started in another process (gunicorn in the fault tests and benches, `db_worker`, a management command)
must reach the very database this process uses. For the embedded PostgreSQL that is a Unix socket directory,
which django-environ keeps in `OPTIONS["host"]`, not in `HOST`: a URL built from `HOST` alone sends the other
process to libpq's default socket (`/var/run/postgresql`), i.e. to another server, where the database is missing.
"""

import os
import urllib.parse
from pathlib import Path

from django.db import connection as default_connection


def url(connection=default_connection) -> str:
    """`connection`'s database as a `DATABASE_URL` that config/settings.py reads back to the same server.

    Returns:
        `postgres://user[:password]@host[:port]/name` over TCP, or `postgres://user@/name?host=/socket/dir[&port=N]`
        over a Unix socket (the embedded server): the form django-environ turns into `OPTIONS["host"]`.
    """
    params = connection.get_connection_params()
    quote = urllib.parse.quote
    auth = quote(params.get("user") or "", safe="")
    if params.get("password"):
        auth += f":{quote(params['password'], safe='')}"
    host, port = params.get("host") or "", params.get("port")
    if host and not host.startswith("/"):
        return f"postgres://{auth}@{host}{f':{port}' if port else ''}/{params['dbname']}"
    query = urllib.parse.urlencode({"host": host, **({"port": port} if port else {})}, safe="/") if host else ""
    return f"postgres://{auth}@/{params['dbname']}{f'?{query}' if query else ''}"


def describe(connection=default_connection) -> str:
    """Which server `connection` talks to, and for a Unix socket whose directory is a PostgreSQL data directory
    (the embedded server keeps its socket in `var/pgdata`) whether that server runs, e.g.
    `PostgreSQL at 127.0.0.1:5432, database tokenline` or
    `the embedded PostgreSQL in /srv/tokenline/var/pgdata (not running: no postmaster.pid), database tokenline`.
    For log lines: never shown to a client (it names hosts and paths)."""
    params = connection.get_connection_params()
    host, port, name = params.get("host") or "", params.get("port") or 5432, params.get("dbname")
    if host and not host.startswith("/"):
        return f"PostgreSQL at {host}:{port}, database {name}"
    socket_dir = Path(host or "/var/run/postgresql")
    if (socket_dir / "PG_VERSION").exists():
        return f"the embedded PostgreSQL in {socket_dir} ({embedded_state(socket_dir)}), database {name}"
    return f"PostgreSQL on the Unix socket in {socket_dir} (port {port}), database {name}"


def embedded_state(pgdata: Path) -> str:
    """The state of the server whose data directory is `pgdata`, from its `postmaster.pid`: `running (pid N,
    ready)`, `not running: no postmaster.pid`, or `not running: pid N is gone` (a server killed without cleanup)."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return "not running: no postmaster.pid"
    pid = int(lines[0]) if lines and lines[0].strip().isdigit() else 0
    status = lines[7].strip() if len(lines) > 7 else "unknown"  # the 8th line: starting, ready, stopping, standby
    try:
        if pid <= 0:
            raise ProcessLookupError
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except PermissionError:  # alive, owned by another user
        pass
    except OSError:
        return f"not running: pid {pid} is gone"
    return f"running (pid {pid}, {status})"
