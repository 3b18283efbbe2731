"""Bounded waits: one home for limiting a lock wait, recognising a database timeout, and the error every
edge answers it with.

Seed 000 asks to "watch for timeouts on database locks": without a limit, one transaction holding a counter row (a
stuck request, an import, a psql session) stalls every desk. So every transaction that takes a number sets
`lock_timeout` (`TOKENLINE_LOCK_TIMEOUT`, seconds) before it locks, and web processes run with `statement_timeout`
(`TOKENLINE_STATEMENT_TIMEOUT`, config/settings.py). PostgreSQL then cancels the wait (SQLSTATE 55P03
LockNotAvailable, or 57014 QueryCanceled); the transaction rolls back, so nothing is consumed, and the request is
answered 503 with `Retry-After` (core/api.py for the API; on pages the view's form message, else BusyMiddleware's
503 page).
"""

import contextlib
import logging
import math

from django.conf import settings
from django.db import OperationalError, connection
from django.shortcuts import render
from django.utils.translation import gettext as _
from psycopg import errors as pg_errors

from core.errors import DomainError

logger = logging.getLogger("tokenline.busy")

TIMEOUT_ERRORS = (pg_errors.LockNotAvailable, pg_errors.QueryCanceled)  # SQLSTATE 55P03, 57014


def lock_timeout_ms() -> int:
    """`TOKENLINE_LOCK_TIMEOUT` in milliseconds (PostgreSQL's `lock_timeout`; 0 would mean no limit, so at least 1)."""
    return max(1, round(settings.TOKENLINE_LOCK_TIMEOUT * 1000))


def retry_after() -> int:
    """Seconds a client should wait before retrying (the `Retry-After` header): the lock timeout, rounded up, >= 1."""
    return max(1, math.ceil(settings.TOKENLINE_LOCK_TIMEOUT))


class Busy(DomainError):
    """503: a lock or statement timed out; the transaction rolled back and nothing was taken. Retry later.

    `retry_after` (seconds) becomes the API's `Retry-After` header.
    """

    status_code = 503

    @property
    def retry_after(self) -> int:
        return retry_after()


def timed_out(exc: BaseException | None) -> bool:
    """True when `exc` (a Django database error, or the psycopg error itself) is a lock or statement timeout."""
    return _cause(exc, TIMEOUT_ERRORS) is not None


def _cause(exc: BaseException | None, types) -> BaseException | None:
    """`exc` or the first error in its `__cause__` chain (Django wraps psycopg's) that is one of `types`."""
    while exc is not None and not isinstance(exc, types):
        exc = exc.__cause__
    return exc


@contextlib.contextmanager
def bounded_lock_wait(what: str, *, error: type[Busy] = Busy):
    """Run a locking statement with the wait limited to `TOKENLINE_LOCK_TIMEOUT` seconds.

    Every connection starts with `lock_timeout` = `TOKENLINE_LOCK_TIMEOUT` (config/settings.py); when the setting
    changed since (a test), this issues `SET LOCAL lock_timeout` (it lasts until the current transaction ends; a
    rolled-back savepoint undoes it) and turns a lock or statement timeout raised
    inside into `error` with a message naming nothing internal, after logging a WARNING that names `what` (e.g. the
    counter key). Must run inside `transaction.atomic()`: SET LOCAL outside a transaction does nothing.

    Args:
        what: the contended thing, for the log, e.g. `"counter 'mrn'"`.
        error: the Busy subclass to raise (idseq raises NumberingBusy).
    Raises:
        `error` (503) on a timeout; other database errors pass through unchanged.
        core.replication.NotSafeToIssue (503) before locking anything, when this server must not issue numbers.
    """
    from core.replication import check_may_issue  # imported here: core.replication builds on Busy

    check_may_issue()  # never on a standby, nor without a synchronous one when that is required
    if lock_timeout_ms() != settings.TOKENLINE_SESSION_LOCK_TIMEOUT_MS:  # else the connection started with it
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{lock_timeout_ms()}ms"])
    try:
        yield
    except OperationalError as exc:
        busy = as_busy(exc, what, error=error)
        if busy is None:
            raise
        raise busy from exc


def whole_wait_bounded(sql: str) -> str:
    """`sql` (one statement that locks a row) sent with its whole wait bounded, in the same round trip.

    PostgreSQL's `lock_timeout` bounds each lock a statement waits for, not the statement: behind a held row, the
    first waiter waits on the holder's transaction and the others queue on the row's tuple lock, so each one in turn
    waits up to the timeout for the tuple lock and then up to the timeout again for the holder (16 desks behind a
    held counter: 503s after 4 s, measured). So the statement runs with `statement_timeout` = the lock timeout
    + 0.25 s (`SET LOCAL`, in the same message: a client-side-binding cursor sends the three statements as one simple
    query), and the timeout goes back to the connection's own after it. Returns the three statements; the caller
    reads the locking statement's rows after `cursor.nextset()`. A timeout raises QueryCanceled (57014), which
    `bounded_lock_wait` turns into Busy like a lock timeout.
    """
    return (
        f"SELECT set_config('statement_timeout', '{lock_timeout_ms() + 250}', true); {sql};"
        " SET LOCAL statement_timeout TO DEFAULT"
    )


def as_busy(exc: BaseException, what: str, *, error: type[Busy] = Busy) -> Busy | None:
    """The 503 error for a lock or statement timeout `exc`, logged as a WARNING naming `what` (a counter key, or
    the request path for a statement timeout met elsewhere); None when `exc` is no timeout."""
    if isinstance(exc, Busy):
        return exc
    if not timed_out(exc):
        return None
    logger.warning("%s timed out on %s; answered busy (503), nothing taken", _kind(exc), what)
    return error(
        _("Numbering is busy: another desk or a long job holds the counter. Nothing was taken; try again in "
          "%(seconds)s s.") % {"seconds": retry_after()}
    )


def _kind(exc: BaseException) -> str:
    if _cause(exc, pg_errors.LockNotAvailable):
        return f"Lock wait (lock_timeout {settings.TOKENLINE_LOCK_TIMEOUT} s)"
    return "A statement (statement_timeout)"


class BusyMiddleware:
    """Pages: a lock or statement timeout that no view turned into a form message (and any Busy error) becomes a
    503 page with `Retry-After`, saying numbering is busy and nothing was taken, instead of a 500. (The API answers
    the same through core/api.py before this is reached.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        busy = as_busy(exception, request.path)
        if busy is None:
            return None
        response = render(request, "busy.html", {"message": str(busy)}, status=503)
        response["Retry-After"] = str(busy.retry_after)
        return response
