"""Allocating numbers. The contract (as in django-sequences): values are unique always, and gapless when the caller
saves them in the same transaction that allocated them, because a rollback returns them to the counter."""

from django.db import connection, transaction

from idseq.exceptions import NotInTransaction
from idseq.models import Counter


def allocate(key: str, count: int = 1, *, start: int = 1) -> range:
    """Reserve `count` consecutive values of the counter `key` and return them as a range.

    Args:
        key: counter name, up to 200 characters; a counter that does not exist yet is created race-free.
        count: how many values to reserve, at least 1.
        start: the first value a new counter hands out (ignored once the counter exists).
    Returns:
        `range(first, first + count)`.
    Raises:
        NotInTransaction: when called outside `transaction.atomic()`; the caller must own the transaction so the
            row lock lasts until the values are saved and a failure returns them.
        ValueError: when `count < 1` or `start < 1`.
    """
    if not connection.in_atomic_block:
        raise NotInTransaction("allocate() must run inside transaction.atomic()")
    if count < 1 or start < 1:
        raise ValueError(f"count and start must be at least 1 (got count={count}, start={start})")
    counter = _lock_counter(key, start)
    first = counter.last_value + 1
    counter.last_value += count
    counter.save(update_fields=["last_value", "updated_at"])
    return range(first, first + count)


def _lock_counter(key: str, start: int) -> Counter:
    """Return the counter row for `key`, locked FOR UPDATE, creating it first if needed.

    Two first callers at once: both INSERT ... ON CONFLICT DO NOTHING; the second waits on the first's unique-index
    entry and then does nothing, so neither fails and both then queue on the same row lock.
    """
    try:
        return Counter.objects.select_for_update().get(key=key)
    except Counter.DoesNotExist:
        pass
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Counter._meta.db_table} (key, last_value, updated_at) VALUES (%s, %s, now())"
            " ON CONFLICT (key) DO NOTHING",
            [key, start - 1],
        )
    return Counter.objects.select_for_update().get(key=key)
