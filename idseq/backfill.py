"""Bringing numbers issued from bare counters into a scoped sequence's ledger, for data migrations
(visit tokens in queues 0004, slot tokens in tokens 0004). Raw SQL, set-based: one statement per step however many
scopes (queues and days, slots) a database holds. Knows no other app: the callers pass their own SQL.

The ids are written in SQL as `IdFormat.render` writes a scoped plain id without check digit,
`<prefix>-<scope>-<value padded to padding digits>` (tests/queues/test_token_migration.py compares them).
"""

from django.db.backends.utils import CursorWrapper


def adopt_counters(cursor: CursorWrapper, *, sequence_key: str, old_keys: str, scope: str) -> None:
    """Make the ad-hoc counters whose key matches the regular expression `old_keys` counters of the scoped sequence
    `sequence_key`: scope = the SQL expression `scope` (of the column `key`), key = `<sequence_key>@<scope>`."""
    cursor.execute(
        f"""
        UPDATE idseq_counter SET sequence_id = (SELECT id FROM idseq_sequence WHERE key = %s), scope = {scope},
            key = %s || '@' || {scope}
        WHERE key ~ %s
        """,
        [sequence_key, sequence_key, old_keys],
    )


def record_issued(cursor: CursorWrapper, *, sequence_key: str, issued: str, purpose: str) -> None:
    """Write a ledger row for every number the query `issued` returns (columns scope, value, issued_at,
    issued_by_id), then make each scope's counter hold at least its highest value (creating missing counters) and
    record the values below it that no row holds as issued before the ledger (UnrecordedRange), so that
    `idseq_check` is clean.

    Raises:
        RuntimeError: a value is past what the sequence's format can show (nothing written: the migration's
            transaction rolls back), or the sequence is not a scoped plain one without check digit.
    """
    cursor.execute(
        "SELECT id, prefix, padding, start_value FROM idseq_sequence"
        " WHERE key = %s AND kind = 'plain' AND reset = 'scoped' AND NOT check_digit",
        [sequence_key],
    )
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError(f"No scoped plain sequence {sequence_key!r} without check digit to record numbers in.")
    sequence_id, prefix, padding, start = row
    cursor.execute(f"SELECT scope, value FROM ({issued}) i WHERE value >= %s OR value < %s LIMIT 1",
                   [10**padding, start])
    beyond = cursor.fetchone()
    if beyond:
        raise RuntimeError(
            f"{sequence_key} {beyond[0]}: value {beyond[1]} does not fit {padding} digits (or is below the start "
            f"value {start}); widen the sequence's padding first."
        )
    head = f"{prefix}-" if prefix else ""
    cursor.execute(
        f"""
        INSERT INTO idseq_issuednumber (sequence_id, scope, value, formatted, issued_at, issued_by_id, purpose,
            idempotency_key_id, voided_at, void_reason)
        SELECT %s, scope, value, %s || scope || '-' || lpad(value::text, %s, '0'), issued_at, issued_by_id, %s,
            NULL, NULL, ''
        FROM ({issued}) i
        """,
        [sequence_id, head, padding, purpose],
    )
    # A number recorded above its counter (or without one) would be issued again: the counter moves up to it.
    cursor.execute(
        """
        INSERT INTO idseq_counter (key, last_value, updated_at, sequence_id, scope)
        SELECT s.key || '@' || i.scope, max(i.value), now(), s.id, i.scope
        FROM idseq_issuednumber i JOIN idseq_sequence s ON s.id = i.sequence_id WHERE s.id = %s GROUP BY s.id, i.scope
        ON CONFLICT (key) DO UPDATE SET last_value = greatest(idseq_counter.last_value, excluded.last_value)
        """,
        [sequence_id],
    )
    # Per scope, the runs of values from the start to the counter that no ledger row holds: the counter's next
    # value closes the last run.
    cursor.execute(
        """
        INSERT INTO idseq_unrecordedrange (sequence_id, scope, first_value, last_value, reason, created_at)
        SELECT %s, scope, previous + 1, value - 1, 'before_ledger', now() FROM (
            SELECT scope, value, lag(value, 1, %s) OVER (PARTITION BY scope ORDER BY value) AS previous FROM (
                SELECT scope, value FROM idseq_issuednumber WHERE sequence_id = %s
                UNION ALL SELECT scope, last_value + 1 FROM idseq_counter WHERE sequence_id = %s
            ) v
        ) w WHERE value > previous + 1
        """,
        [sequence_id, start - 1, sequence_id, sequence_id],
    )


def unlink(cursor: CursorWrapper, *, sequence_key: str, old_key: str) -> None:
    """The way back of `adopt_counters` + `record_issued`: the sequence's counters get the ad-hoc key the SQL
    expression `old_key` makes of their `scope` (so the counting goes on where it was) and no sequence; its ledger
    rows, unrecorded ranges and idempotency keys are deleted."""
    cursor.execute("SELECT id FROM idseq_sequence WHERE key = %s", [sequence_key])
    row = cursor.fetchone()
    if row is None:
        return
    cursor.execute(
        f"UPDATE idseq_counter SET key = {old_key}, sequence_id = NULL, scope = '' WHERE sequence_id = %s", row
    )
    for table in ("idseq_issuednumber", "idseq_unrecordedrange", "idseq_idempotencykey"):
        cursor.execute(f"DELETE FROM {table} WHERE sequence_id = %s", row)
