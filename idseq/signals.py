"""What idseq tells listeners, so that monitoring can measure numbering while idseq knows nothing of who listens
(the `monitoring` app turns these into Prometheus metrics; idseq imports no metrics library)."""

import functools
import time

from django.dispatch import Signal

from core.busy import timed_out

# Sent each time a counter row lock was taken or given up on, with keyword arguments:
#   key (str): the Counter.key, e.g. "mrn", "mrn-dated@2026-11-25", "visit-token@GEN-20261125";
#   seconds (float): how long taking the lock took (waiting behind other transactions included);
#   timed_out (bool): True when the wait ended with PostgreSQL's lock_timeout or statement_timeout, not the lock.
# Receivers run while the lock is held: they must be quick and must not touch the database.
counter_locked = Signal()


def timed_lock(lock):
    """Decorate `lock(key, ...)`, a function that takes a counter's row lock, so that it sends `counter_locked`.

    Sent when `lock` returns a result (timed_out=False; None means it took no lock and sends nothing) or raises a
    timeout (timed_out=True; the error is re-raised unchanged, whether it is the database's or a domain error
    chained to it). Other errors send nothing. Receivers are called
    with `send_robust`, so a failing listener can never fail a number.
    """

    @functools.wraps(lock)
    def wrapper(*args, **kwargs):
        key = kwargs["key"] if "key" in kwargs else args[0]
        started = time.perf_counter()
        try:
            result = lock(*args, **kwargs)
        except Exception as exc:
            if timed_out(exc):
                counter_locked.send_robust(
                    sender=None, key=key, seconds=time.perf_counter() - started, timed_out=True
                )
            raise
        if result is not None:
            counter_locked.send_robust(sender=None, key=key, seconds=time.perf_counter() - started, timed_out=False)
        return result

    return wrapper

# Sent by `restore.skip_after_restore` with keyword arguments `since` and `until` (days in TIME_ZONE, inclusive: from
# the newest ledger row's day to the restore's). Each receiver returns the (sequence key, scope) pairs numbers may have
# been issued in on those days, e.g. every queue's `("visit-token", "GEN-20261207")` and every slot's
# `("slot-token", "<slot id>")` (slots are booked ahead, so later days' too): a scope whose first number came after
# the backup has no counter in the restored database, and idseq cannot name it, knowing no queue or slot.
restore_scopes = Signal()
