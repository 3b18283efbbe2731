"""The checks of /health/, bounded in time whatever the database does.

A load balancer gives a health check 2-5 s and takes a time-out as "down"; a check queued behind busy workers or
stuck on a dead connection tells it nothing. So the checks run in one thread of their own on a database connection
of their own (never the pool's, which busy desks may all hold), opened per run with the connect timeout and a short
`statement_timeout`/`lock_timeout`, and the view waits for them at most `TOKENLINE_HEALTH_TIMEOUT` seconds (0.9):
what has not answered by then is a database that did not answer (503). Concurrent polls share the run in progress,
so a stalled database never piles up checking threads or connections.

Each check's failure says what anyone may read: a database error's text (host, port, database name, driver message)
is logged, never shown.
"""

import concurrent.futures
import functools
import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, connection, connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.utils import load_backend

from core.errors import DomainError
from core.replication import replication_state
from idseq.services import health_check as numbering_health

DATABASE_DOWN = "The database did not answer."
logger = logging.getLogger("tokenline.monitoring")


class Unavailable(Exception):
    """A check failed; the message is fit for anyone to read."""


@functools.cache
def _shipped_migrations() -> tuple[tuple[str, str], ...]:
    """Every migration on disk, in dependency order, read once per process (the files do not change while it runs).
    Every node of the graph, not only the plan to the leaves: a lost row of an early migration under an applied later
    one is missing schema too."""
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    return tuple(dict.fromkeys(node for leaf in graph.leaf_nodes() for node in graph.forwards_plan(leaf)))


def unapplied_migrations() -> list[str]:
    """The shipped migrations the database has not applied, as "app.name", in dependency order (one query). Raises
    DatabaseError when the database does not answer."""
    applied = MigrationRecorder(connection).applied_migrations()
    return [f"{app}.{name}" for app, name in _shipped_migrations() if (app, name) not in applied]


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {}


def check_migrations() -> dict:
    """Ready only once every shipped migration is applied: a worker that starts before `migrate` has finished (or
    runs newer code than the schema) must not get traffic."""
    unapplied = unapplied_migrations()
    if unapplied:
        raise Unavailable(f"{len(unapplied)} migration(s) not applied, first {unapplied[0]}.")
    return {}


def check_numbering() -> dict:
    """idseq's own check: a sample id issued in a savepoint that is rolled back, so no number is consumed. `level`
    (the worst sequence usage: ok, warning, critical) is shown but does not fail readiness: a filling sequence
    still issues numbers."""
    report = numbering_health()
    if report["status"] != "healthy":
        logger.warning("Numbering health check failed: %s", report["message"])
        raise Unavailable(DATABASE_DOWN)
    return {"level": report["level"]}


def check_replication() -> dict:
    """Whether a failover could take acknowledged numbers back: `mode` synchronous or asynchronous and the standbys
    attached (shown; asynchronous stays ready unless TOKENLINE_REQUIRE_SYNC_STANDBY). Not ready on a standby, or
    without a synchronous standby when one is required (numbering refuses then too)."""
    state = replication_state()
    if state.in_recovery or (settings.TOKENLINE_REQUIRE_SYNC_STANDBY and not state.synchronous):
        raise Unavailable(state.describe())
    return {"mode": "synchronous" if state.synchronous else "asynchronous", "sync_standbys": state.sync_standbys,
            "standbys": state.standbys}


REGISTRY: dict[str, Callable[[], dict]] = {
    "database": check_database, "migrations": check_migrations, "numbering": check_numbering,
    "replication": check_replication,
}


def run_checks() -> dict[str, dict]:
    """Run every check of REGISTRY in order on a connection of this thread's own, closed afterwards; once the
    database has not answered, the later checks are not tried (they say so). Returns {name: {"status": "ok" |
    "error", "seconds", "detail" (errors), ...details}}."""
    own = _own_connection()
    previous = connections["default"]
    connections["default"] = own  # this thread only: django.db.connections is thread-local
    results, down = {}, False
    try:
        for name, check in REGISTRY.items():
            started = time.perf_counter()
            try:
                if down:
                    raise Unavailable(DATABASE_DOWN)
                result = {"status": "ok", **check()}
            except DatabaseError as exc:
                logger.warning("/health/ %s check: the database did not answer: %s", name, exc)
                down, result = True, {"status": "error", "detail": DATABASE_DOWN}
            except (Unavailable, DomainError) as exc:  # e.g. numbering paused on a standby: said as it is
                result = {"status": "error", "detail": str(exc)}
            except Exception:  # noqa: BLE001 - a broken check must not take /health/ down; its traceback is logged
                logger.exception("/health/ %s check failed", name)
                result = {"status": "error", "detail": "The check failed; see the server log."}
            results[name] = {**result, "seconds": round(time.perf_counter() - started, 4)}
    finally:
        own.close()
        connections["default"] = previous
    return results


def _own_connection():
    """A new, unopened connection to the default database for the checks: the same settings without the pool, the
    statement and lock timeouts within the health budget."""
    base = connections.settings["default"]
    settings_dict = {**base, "OPTIONS": {**base.get("OPTIONS", {})}, "CONN_MAX_AGE": 0}
    options = settings_dict["OPTIONS"]
    options.pop("pool", None)
    budget_ms = max(10, round(settings.TOKENLINE_HEALTH_TIMEOUT * 1000))
    # Later -c settings win over the request's ones in the same options string.
    options["options"] = (
        f"{options.get('options', '')} -c statement_timeout={budget_ms} -c lock_timeout={budget_ms // 2}".strip()
    )
    return load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "default")


_lock = threading.Lock()
_executor: concurrent.futures.ThreadPoolExecutor | None = None
_running: concurrent.futures.Future | None = None


def readiness() -> dict[str, dict]:
    """The checks' results within `TOKENLINE_HEALTH_TIMEOUT` seconds: those of the run in progress (started now when
    none is), or, when it has not finished in time, every check as an error saying the database did not answer in
    time. The unfinished run goes on in its thread, bounded by its own timeouts, and the next poll waits for it."""
    global _executor, _running
    with _lock:
        if _executor is None:  # made in the process that serves (gunicorn forks its workers after import)
            _executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="health-check")
        if _running is None or _running.done():
            _running = _executor.submit(run_checks)
        running = _running
    timeout = settings.TOKENLINE_HEALTH_TIMEOUT
    try:
        return running.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        logger.warning("/health/: the database did not answer within %s s", timeout)
        detail = f"The database did not answer within {timeout:g} s."
        return {name: {"status": "error", "detail": detail, "seconds": timeout} for name in REGISTRY}
