"""Allocating numbers. The contract (as in django-sequences): values are unique always, and gapless when the caller
saves them in the same transaction that allocated them, because a rollback returns them to the counter.

Two layers:
- `allocate(key, count)`: a bare counter, for ad-hoc keys such as `"bench-allocate"`; returns values
  (on a sequence's counter it writes their ledger rows too).
- `next_id(key)` / `next_ids(key, count)` / `issue(key, count, scope=...)`: a `Sequence`, returning
  formatted ids, one Counter per scope period (or per caller's scope: visit tokens, slot tokens), every id
  recorded in the ledger (`IssuedNumber`) in the same transaction, optional idempotency key.
Both lock a Counter row and advance it, and the lock is held until the caller commits: in one statement on the
common path (`_advance_in_place`, `UPDATE ... RETURNING`, with the Sequence cached per process and its version
checked in that statement), else with `SELECT ... FOR UPDATE` (`_lock_counter`) then `_advance`, which creates
missing counters, steps over reservations and refuses to pass the format's end.
"""

import contextlib
import datetime
import hashlib
import json
import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from core.busy import bounded_lock_wait, whole_wait_bounded
from idseq import selectors
from idseq.exceptions import (
    BackwardReset,
    CounterBehindLedger,
    IdempotencyConflict,
    IdseqError,
    InvalidId,
    NotInTransaction,
    NumberingBusy,
    SequenceExhausted,
    SequenceInactive,
    UnknownSequence,
)
from idseq.formats import PREFIX_PATTERN, PREFIX_RE, SCOPE_PATTERN, Kind, Period, check_scope, scope_of
from idseq.models import Counter, IdempotencyKey, IssuedNumber, Reservation, Sequence, UnrecordedRange
from idseq.signals import timed_lock

MAX_BLOCK = 10_000  # the most ids one next_ids() call may take
HEALTH_KEY = "HEALTH"  # the prefix sequence health_check() renders its sample id with, then rolls back
# The ledger's unique constraints (idseq/models.py IssuedNumber): a clash on either means the counter went back.
LEDGER_UNIQUE = ("idseq_issuednumber_value_unique", "idseq_issuednumber_formatted_unique")
log = logging.getLogger("tokenline.idseq")


def allocate(key: str, count: int = 1, *, start: int = 1) -> range:
    """Reserve `count` consecutive values of the counter `key` and return them as a range.

    A Sequence's counter (e.g. `"mrn"`) may be taken this way too: its values are then recorded in the ledger as
    well, formatted by the sequence, so the ledger stays complete whichever call took them.

    Args:
        key: counter name, up to 200 characters; a counter that does not exist yet is created race-free.
        count: how many values to reserve, at least 1.
        start: the first value a new counter hands out (ignored once the counter exists).
    Returns:
        `range(first, first + count)`; on a sequence's counter whose values straddle a reservation,
        the `count` free values in order as a list, the reserved ones stepped over.
    Raises:
        NotInTransaction: when called outside `transaction.atomic()`; the caller must own the transaction so the
            row lock lasts until the values are saved and a failure returns them.
        ValueError: when `count < 1` or `start < 1`.
        SequenceExhausted: a Sequence's counter passed the last value its format can show; nothing consumed.
    """
    if not connection.in_atomic_block:
        raise NotInTransaction("allocate() must run inside transaction.atomic()")
    if count < 1 or start < 1:
        raise ValueError(f"count and start must be at least 1 (got count={count}, start={start})")
    values = _advance_in_place(key, count)
    if values is not None:  # the common case: a bare counter that exists, one statement
        return values
    counter = _lock_counter(key, start)
    sequence = counter.sequence if counter.sequence_id is not None else None
    values = _advance(counter, count, limit=sequence.id_format.last_value if sequence else None)
    if values is None:  # checked before moving the counter, so nothing is taken
        raise SequenceExhausted(f"Sequence {sequence.key!r} has fewer than {count} id(s) left.")
    if sequence is not None:
        ids = [sequence.id_format.render(value, counter.scope) for value in values]
        _record(sequence, counter.scope, values, ids, at=timezone.now(), issued_by=None, purpose="allocate()",
                claim=None)
    return values


def _advance(counter: Counter, count: int, *, limit: int | None = None) -> range | list[int] | None:
    """Advance a counter locked by `_lock_counter`/`_locked_counter` by `count` free values; the lock lasts until
    commit.

    Reserved values (idseq.models.Reservation) are stepped over, free ones never: the counter at 709,999 with
    710,000-719,999 reserved hands out 720,000 next. On the common path (no reservation within reach, known from
    `counter.reserved_from`) this reads nothing. Returns the values taken (a range, or a list when they straddle a
    reservation), or None (nothing written) when they would pass `limit`.
    """
    first = counter.last_value + 1
    if counter.reserved_from is None or first + count - 1 < counter.reserved_from:
        if limit is not None and first + count - 1 > limit:
            return None
        values, reserved_from = range(first, first + count), counter.reserved_from
    else:
        values, reserved_from = _free_values(counter, first, count)
        if limit is not None and values[-1] > limit:
            return None
    counter.last_value = values[-1]
    counter.reserved_from = reserved_from
    counter.save(update_fields=["last_value", "reserved_from", "updated_at"])
    return values


def _free_values(counter: Counter, first: int, count: int) -> tuple[range | list[int], int | None]:
    """`count` unreserved values of the counter's sequence period from `first` on, and the first value of the
    next reservation above the last of them (None: none). One indexed query, walking reservations in order."""
    reservations = (
        Reservation.objects.filter(sequence_id=counter.sequence_id, scope=counter.scope, last_value__gte=first)
        .order_by("first_value")
        .values_list("first_value", "last_value")
    )
    values: list[int] = []
    value = first
    for reserved_first, reserved_last in reservations.iterator(chunk_size=100):
        values.extend(range(value, min(value + count - len(values), reserved_first)))
        if len(values) == count:
            return _compact(values), reserved_first
        value = max(value, reserved_last + 1)
    values.extend(range(value, value + count - len(values)))
    return _compact(values), None


def _compact(values: list[int]) -> range | list[int]:
    """`values` as a range when they are consecutive (allocate()'s usual answer), else unchanged."""
    return range(values[0], values[-1] + 1) if values[-1] - values[0] + 1 == len(values) else values


# The common case of allocation in one statement: lock the counter row and advance it. An UPDATE takes and holds
# the same row lock as SELECT ... FOR UPDATE (until the transaction ends); a concurrent caller waits on it, then
# re-reads the row it updates, so values never repeat. A row that does not meet the WHERE is left unlocked and
# unchanged, and the caller takes the general path (_lock_counter, _advance).
_ADVANCE_BARE = (
    f"UPDATE {Counter._meta.db_table} SET last_value = last_value + %(count)s, updated_at = statement_timestamp()"
    " WHERE key = %(key)s AND sequence_id IS NULL RETURNING last_value"
)
_ADVANCE_SEQUENCE = (
    f"UPDATE {Counter._meta.db_table} c SET last_value = c.last_value + %(count)s,"
    " updated_at = statement_timestamp()"
    f" FROM {Sequence._meta.db_table} s"
    " WHERE c.key = %(key)s AND c.sequence_id = %(sequence)s AND s.id = c.sequence_id AND s.version = %(version)s"
    " AND s.is_active AND c.last_value + %(count)s <= %(limit)s"
    " AND (c.reserved_from IS NULL OR c.last_value + %(count)s < c.reserved_from)"
    " RETURNING c.last_value"
)


@timed_lock  # tells listeners (monitoring) how long the lock took, and of lock timeouts
def _advance_in_place(key: str, count: int, *, sequence: Sequence | None = None) -> range | None:
    """Lock counter `key` and advance it by `count` in one round trip (`UPDATE ... RETURNING`), on the common path.

    Args:
        key: the Counter.key.
        count: values to take, at least 1.
        sequence: the counter's Sequence as cached by this process; None for a bare counter of `allocate()`.
    Returns:
        The values taken, `range(first, last + 1)`, the row locked until the transaction ends; or None, with nothing
        locked or written, when this is not the common path: no such counter yet, a reservation within reach
        (`Counter.reserved_from`), past the format's last value, or (with `sequence`) the sequence retired or changed
        since it was cached (`Sequence.version`). The caller then takes `_lock_counter` and `_advance`.
    Raises:
        NumberingBusy: the lock wait passed `TOKENLINE_LOCK_TIMEOUT` (503; the whole wait, however many desks queue
            ahead: core.busy.whole_wait_bounded); the transaction must roll back.
    """
    with bounded_lock_wait(f"counter {key!r}", error=NumberingBusy), connection.cursor() as cursor:
        if sequence is None:
            cursor.execute(whole_wait_bounded(_ADVANCE_BARE), {"count": count, "key": key})
        else:
            cursor.execute(whole_wait_bounded(_ADVANCE_SEQUENCE), {
                "count": count, "key": key, "sequence": sequence.pk, "version": sequence.version,
                "limit": sequence.id_format.last_value,
            })
        cursor.nextset()  # past set_config's row to the UPDATE's
        row = cursor.fetchone()
    return None if row is None else range(row[0] - count + 1, row[0] + 1)


@timed_lock
def _lock_counter(key: str, start: int) -> Counter:
    """Return the Counter row `key` locked FOR UPDATE (`SELECT ... FOR UPDATE`), held until the caller commits.

    A missing counter is created first (`INSERT ... ON CONFLICT DO NOTHING`, at `start - 1`): two first callers at
    once both insert, the second waits on the first's unique-index entry and then does nothing, so neither fails and
    both queue on the same row lock.

    Every counter lock of idseq is taken here or in `_advance_in_place`, with the wait bounded
    (core/busy.py): after `TOKENLINE_LOCK_TIMEOUT` seconds (default 2) it raises NumberingBusy (503) and logs the key;
    the caller's transaction rolls back, so nothing is taken.
    """
    with bounded_lock_wait(f"counter {key!r}", error=NumberingBusy):
        counter = Counter.objects.select_for_update().filter(key=key).first()
        if counter is None:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {Counter._meta.db_table} (key, last_value, updated_at)"
                    " VALUES (%s, %s, now()) ON CONFLICT (key) DO NOTHING",
                    [key, start - 1],
                )
            counter = Counter.objects.select_for_update().get(key=key)
    return counter


@dataclass(frozen=True)
class Issued:
    """What `issue()` returns: the ids, whether they are a retry's replay of an earlier request's ids, and their
    counter values in the same order."""

    ids: list[str]
    replayed: bool
    values: list[int]


def issue(
    key: str,
    count: int = 1,
    *,
    idempotency_key: str | None = None,
    fingerprint: str = "",
    purpose: str = "",
    issued_by=None,
    scope: str | None = None,
) -> Issued:
    """Issue `count` consecutive ids of sequence `key`, record each in the ledger, and return them.

    Runs in the caller's transaction when there is one (call it inside the `transaction.atomic()` that saves the
    record carrying the id, so a failure returns the number), else in its own. The counter row stays locked until
    that transaction ends.

    Args:
        key: a Sequence key; an unknown key that is a valid prefix (`^[A-Z][A-Z0-9]{0,9}$`) creates its
            letter-number sequence race-free on first use (seed 004).
        count: 1 to 10,000 ids, taken with one locked statement.
        idempotency_key: a client's `Idempotency-Key`; the same key with the same request returns the first
            request's ids (`replayed=True`) without taking new ones, even when copies arrive at once.
        fingerprint: what identifies the request body for the idempotency comparison (`request_fingerprint()`).
        purpose: free text kept in the ledger (up to 200 characters), e.g. "patient registration".
        issued_by: the user, kept in the ledger.
        scope: for a `scoped` sequence (and only for one), the caller's scope the numbers are counted in, e.g.
            `GEN-20261202` (a queue's day) or a slot's id (idseq.formats.SCOPE_PATTERN); each scope has its own
            counter from the start value, and its ids show it (`VT-GEN-20261202-0017`) so they stay unique.
    Returns:
        `Issued(ids, replayed, values)`: `values` are the counter values of `ids` (17 for `VT-GEN-20261202-0017`).
    Raises:
        IdseqError: count outside 1..10,000 (400); a scoped sequence without a valid `scope`, or a `scope` for
            another sequence.
        InvalidId: an unknown key that is not a valid prefix (400, names the pattern).
        SequenceInactive: the sequence is retired (409).
        SequenceExhausted: the format has fewer than `count` ids left in this period (409); nothing consumed.
        IdempotencyConflict: the key was used before with a different request (422).
    """
    if not 1 <= count <= MAX_BLOCK:
        raise IdseqError(f"count must be between 1 and {MAX_BLOCK:,} (got {count}).")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
        raise IdseqError("An Idempotency-Key has 1 to 255 characters.")
    # A savepoint only where a failure after a write must be undone without failing the caller's transaction.
    own = idempotency_key is not None or not connection.in_atomic_block
    with transaction.atomic() if own else nullcontext():
        # A key claim is written under the sequence's id, so it is never made with a cached (maybe deleted) row.
        sequence = _cached_sequence(key, fresh=idempotency_key is not None)
        now = timezone.now()
        scope = _scope(sequence, scope, now)
        claim = None
        if idempotency_key is not None:
            claim, replay = _claim(
                sequence, idempotency_key, _request_hash(count, purpose, fingerprint), now, user=issued_by
            )
            if replay is not None:
                return Issued(replay, replayed=True, values=[sequence.id_format.parse(id_)[0] for id_ in replay])
        values = _advance_in_place(sequence.counter_key(scope), count, sequence=sequence)
        if values is None:  # not the common case, or the cached sequence is stale: read it again and lock
            sequence = _cached_sequence(key, fresh=True)
            values = _advance(_locked_counter(sequence, scope), count, limit=sequence.id_format.last_value)
        id_format = sequence.id_format
        if values is None:
            period = f" on {scope}" if scope else ""
            raise SequenceExhausted(
                f"Sequence {sequence.key!r} has fewer than {count} id(s) left{period}: its format ends at "
                f"{id_format.render(id_format.last_value, scope)}."
            )
        ids = [id_format.render(value, scope) for value in values]
        _record(sequence, scope, values, ids, at=now, issued_by=issued_by, purpose=purpose, claim=claim)
    return Issued(ids, replayed=False, values=list(values))


def _scope(sequence: Sequence, scope: str | None, now: datetime.datetime) -> str:
    """The counter scope `issue()` takes numbers in: the caller's `scope` for a scoped sequence, else the period
    of `now` (the day in the hospital's time zone). Raises IdseqError for a missing, invalid or unwanted scope."""
    if sequence.reset != Period.SCOPED:
        if scope is not None:
            raise IdseqError(f"Sequence {sequence.key!r} is not counted per scope; send no scope.")
        return scope_of(sequence.reset, timezone.localdate(now))
    try:
        return check_scope(scope)
    except ValueError:
        raise IdseqError(
            f"Sequence {sequence.key!r} is counted per scope: name one matching {SCOPE_PATTERN} (got {scope!r})."
        ) from None


def next_id(
    key: str, *, idempotency_key: str | None = None, purpose: str = "", fingerprint: str = "", issued_by=None
) -> str:
    """Issue the next id of sequence `key` (e.g. `next_id("INV")` -> `"INV-AAA0001"`). See `issue()`."""
    return issue(
        key, idempotency_key=idempotency_key, purpose=purpose, fingerprint=fingerprint, issued_by=issued_by
    ).ids[0]


def next_ids(
    key: str,
    count: int,
    *,
    idempotency_key: str | None = None,
    purpose: str = "",
    fingerprint: str = "",
    issued_by=None,
) -> list[str]:
    """Issue `count` (1 to 10,000) consecutive ids of sequence `key` with one locked statement. See `issue()`."""
    return issue(
        key, count, idempotency_key=idempotency_key, purpose=purpose, fingerprint=fingerprint, issued_by=issued_by
    ).ids


def request_fingerprint(data) -> str:
    """A stable digest of a request body (any JSON-able data; key order does not matter) for `issue(fingerprint=)`.

    An endpoint that creates a record with a number passes it together with the `Idempotency-Key` header, so that
    a retry with the same key but a different body is refused (422) instead of answered with the first record.
    """
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _request_hash(count: int, purpose: str, fingerprint: str) -> str:
    return hashlib.sha256(f"{count}\x00{purpose}\x00{fingerprint}".encode()).hexdigest()


def _claim(
    sequence: Sequence, key: str, request_hash: str, now: datetime.datetime, *, user=None
) -> tuple[IdempotencyKey, list[str] | None]:
    """Insert the idempotency key of `user` (keys are scoped per user), or find the request that holds it.

    Concurrent copies: the first inserts; the others wait on its unique-index entry until it commits (then find it)
    or rolls back (then one of them inserts). Returns (key row, None) for a new request, or (key row, its ids) for a
    retry of an earlier one. Raises IdempotencyConflict when the earlier request differed.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {IdempotencyKey._meta.db_table} (sequence_id, user_id, key, request_hash, created_at)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (sequence_id, user_id, key) DO NOTHING RETURNING id",
            [sequence.pk, getattr(user, "pk", None), key, request_hash, now],
        )
        row = cursor.fetchone()
    if row:
        return IdempotencyKey(pk=row[0], sequence=sequence, user=user, key=key, request_hash=request_hash), None
    earlier = IdempotencyKey.objects.get(sequence=sequence, user=user, key=key)
    if earlier.request_hash != request_hash:
        raise IdempotencyConflict(
            f"Idempotency-Key {key!r} was already used with a different request; send a new key for a new request."
        )
    return earlier, list(earlier.issued.order_by("value").values_list("formatted", flat=True))


def _record(sequence, scope, values, ids, *, at, issued_by, purpose, claim) -> None:
    """Write the ledger rows of one allocation (one user, purpose and idempotency key for all). See `_record_rows`."""
    count = len(ids)
    _record_rows(sequence, scope, values, ids, at=at, issued_by_ids=[getattr(issued_by, "pk", None)] * count,
                 purposes=[purpose] * count, claim_ids=[claim and claim.pk] * count)


def _record_rows(sequence, scope, values, ids, *, at, issued_by_ids, purposes, claim_ids) -> None:
    """Write the ledger rows of one allocation with one INSERT ... SELECT FROM unnest, however many ids; each id with
    its user's id, purpose and idempotency key row's id (lists in the order of `ids`; coalesced allocation numbers
    several callers' requests at once).

    Raises:
        CounterBehindLedger: the ledger already holds one of the values: the counter was moved back (by hand or a
            restored backup). Issuing would print a number twice, so nothing is issued until `idseq_repair`.
    """
    with _ledger_clash_refused(sequence), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {IssuedNumber._meta.db_table} (sequence_id, scope, value, formatted, issued_at,"
            " issued_by_id, purpose, idempotency_key_id, voided_at, void_reason)"
            " SELECT %s, %s, v, f, %s, u, p, k, NULL, '' FROM unnest(%s::bigint[], %s::text[], %s::bigint[],"
            " %s::text[], %s::bigint[]) AS t(v, f, u, p, k)",
            [sequence.pk, scope, at, list(values), ids, issued_by_ids, [purpose[:200] for purpose in purposes],
             claim_ids],
        )


@contextlib.contextmanager
def _ledger_clash_refused(sequence: Sequence):
    try:
        yield
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", "")
        if constraint not in LEDGER_UNIQUE:
            raise
        log.error("Counter of sequence %r is behind its ledger (%s); run idseq_repair", sequence.key, exc)
        raise CounterBehindLedger(
            f"Sequence {sequence.key!r} cannot issue: its counter is behind the numbers already recorded (the "
            "counter was moved back). Nothing was issued. An administrator must run `manage.py idseq_repair`."
        ) from None


_sequences: dict[str, Sequence] = {}  # this process's cache of `_cached_sequence`, by key


def _cached_sequence(key: str, *, fresh: bool = False) -> Sequence:
    """The sequence `key` as this process last read it (read, or created for a new valid prefix, on first use), to
    be used only through `_advance_in_place`, whose statement checks that the row is still at the version read.

    With `fresh`, or when the cached copy is retired (it may have been reactivated), it is read again first.
    Raises:
        SequenceInactive: the sequence is retired (409), as read from the database.
        InvalidId: an unknown key that is not a valid prefix (400).
    """
    sequence = _sequences.get(key)
    if fresh or sequence is None or not sequence.is_active:
        sequence = _sequences[key] = _sequence(key, create=True)
        if not sequence.is_active:
            raise SequenceInactive(f"Sequence {sequence.key!r} is retired and issues no more numbers.")
    return sequence


def _sequence(key: str, *, create: bool = False) -> Sequence:
    """The sequence `key`; with `create`, an unknown valid prefix gets its letter-number sequence, race-free.

    Raises:
        UnknownSequence: unknown key and not `create` (404).
        InvalidId: unknown key that is not a valid prefix, with `create` (400).
    """
    sequence = Sequence.objects.filter(key=key).first()
    if sequence:
        return sequence
    if not create:
        raise UnknownSequence(f"No sequence {key!r}.")
    if not PREFIX_RE.match(key):
        raise InvalidId(
            f"No sequence {key!r}, and {key!r} is not a prefix a new sequence can have: "
            f"1-10 characters matching {PREFIX_PATTERN}, e.g. INV."
        )
    # ON CONFLICT DO NOTHING: two first users of a prefix at once both succeed and share one sequence.
    Sequence.objects.bulk_create([Sequence(key=key, kind=Kind.LETTER_NUMBER, prefix=key)], ignore_conflicts=True)
    return Sequence.objects.get(key=key)


def create_sequence(
    *,
    key: str,
    kind: str,
    prefix: str = "",
    padding: int = 4,
    start_value: int = 1,
    reset: str = "never",
    check_digit: bool = False,
    is_active: bool = True,
) -> Sequence:
    """Create a sequence: e.g. `create_sequence(key="mrn-dated", kind="dated", prefix="PAT",
    reset="daily")` issues `PAT-20241103-0001`, `PAT-20241103-0002`, ... starting again each day.

    Raises:
        django.core.exceptions.ValidationError: per field, for a taken key or prefix, a bad prefix, a reset on a
            kind whose ids do not show the period, etc. Nothing is saved.
    """
    sequence = Sequence(
        key=key,
        kind=kind,
        prefix=prefix,
        padding=padding,
        start_value=start_value,
        reset=reset,
        check_digit=check_digit,
        is_active=is_active,
    )
    sequence.full_clean()
    try:
        with transaction.atomic():
            sequence.save(force_insert=True)
    except IntegrityError:  # another create of the same key or kind+prefix won between full_clean and save
        raise ValidationError({"key": "A sequence with this key or kind and prefix already exists."}) from None
    return sequence


def _locked_counter(sequence: Sequence, scope: str) -> Counter:
    """The counter of `sequence` in `scope`, created if missing, locked FOR UPDATE until the transaction ends."""
    counter = _lock_counter(sequence.counter_key(scope), sequence.start_value)
    if (counter.sequence_id, counter.scope) != (sequence.pk, scope):  # new, or left unlinked (e.g. by a migration)
        counter.sequence, counter.scope = sequence, scope
        # Reservations made before the counter existed (a terminal's range on a fresh install) must be known to it.
        counter.reserved_from = (
            Reservation.objects.filter(sequence=sequence, scope=scope, last_value__gt=counter.last_value)
            .order_by("first_value")
            .values_list("first_value", flat=True)
            .first()
        )
        counter.save(update_fields=["sequence", "scope", "reserved_from"])
    return counter


def reset_sequence(key: str, last_id: str, *, reset_by=None) -> str | None:
    """Move sequence `key` forward so that `last_id` counts as the last id issued; return the next id (None when
    `last_id` is the last one the format can show).

    Seed 004: `reset_sequence("TEST", "TEST-ZZZ9999")` makes the next id `TEST-AAAA0001`. The skipped values are
    recorded as an UnrecordedRange (so `idseq_check` stays clean); a dated `last_id` resets the period it names.
    A key that is a new valid prefix creates its sequence, as seed 004 did.

    Raises:
        InvalidId: `last_id` is not in the sequence's format (the message gives the pattern) or is below its start
            value (400). Never "corrected".
        BackwardReset: `last_id` is below an id already issued (409, naming the highest issued id).
        UnknownSequence / InvalidId: unknown key that is not a valid prefix.
    """
    with transaction.atomic():
        sequence = _sequence(key, create=True)
        id_format = sequence.id_format
        value, scope = id_format.parse(last_id)
        if value < sequence.start_value:
            raise InvalidId(
                f"{last_id!r} is below the first id of {sequence.key!r}, "
                f"{id_format.render(sequence.start_value, scope)}."
            )
        counter = _locked_counter(sequence, scope)
        ledger_last = IssuedNumber.objects.filter(sequence=sequence, scope=scope).aggregate(m=Max("value"))["m"] or 0
        highest = max(counter.last_value, ledger_last)
        if value < highest:
            raise BackwardReset(
                f"Cannot reset {sequence.key!r} back to {last_id}: {id_format.render(highest, scope)} was already "
                "issued, and a printed number is never issued twice."
            )
        if value > counter.last_value:
            UnrecordedRange.objects.create(
                sequence=sequence,
                scope=scope,
                first_value=counter.last_value + 1,
                last_value=value,
                reason=UnrecordedRange.Reasons.RESET,
                created_by=reset_by,
            )
            counter.last_value = value
            counter.save(update_fields=["last_value", "updated_at"])
    return id_format.render(value + 1, scope) if value < id_format.last_value else None


def peek(key: str, *, scope: str | None = None) -> str:
    """The id sequence `key` would issue next (in the current period, or `scope`; a scoped sequence needs its
    caller's `scope`), without taking it.

    Raises:
        UnknownSequence: no sequence `key` (404).
        IdseqError: a scoped sequence without a valid `scope` (400).
        SequenceExhausted: its format has no id left in that period.
    """
    sequence = _sequence(key)
    if scope is None or sequence.reset == Period.SCOPED:
        scope = _scope(sequence, scope, timezone.now())
    counter = Counter.objects.filter(key=sequence.counter_key(scope)).first()
    last = counter.last_value if counter else sequence.start_value - 1
    return sequence.id_format.render(last + 1, scope)


def void_id(key: str, formatted: str, *, reason: str, voided_by=None) -> IssuedNumber:
    """Mark id `formatted` of sequence `key` void: its record was removed or cancelled. The number stays taken and
    is never issued again; voiding twice keeps the first reason, time and user (`voided_by`, for the audit).

    Raises:
        IdseqError: blank reason (400).
        UnknownSequence: `key` issued no such id (404).
    """
    if not reason.strip():
        raise IdseqError("Give the reason for voiding the number.")
    with transaction.atomic():
        # of=self: lock the ledger row only; locking the joined Sequence row would block every issue of this key.
        number = (
            IssuedNumber.objects.select_for_update(of=("self",))
            .filter(sequence__key=key, formatted=formatted)
            .first()
        )
        if number is None:
            raise UnknownSequence(f"Sequence {key!r} issued no id {formatted!r}.")
        if number.voided_at is None:
            number.voided_at = timezone.now()
            number.void_reason = reason.strip()[:200]
            number.voided_by = voided_by
            number.save(update_fields=["voided_at", "void_reason", "voided_by"])
    return number


def unvoid_id(key: str, formatted: str, *, reason: str) -> bool:
    """Take back the voiding of id `formatted` of sequence `key` made with exactly `reason` (the record it named came
    back: an unmerged patient record takes its number again). The number was never issued to anyone else meanwhile,
    as voided numbers never are; a voiding made for another reason stays. Runs in the caller's transaction.

    Returns: True when the voiding was taken back, False when the id is not voided with `reason` (or unknown).
    """
    return bool(
        IssuedNumber.objects.filter(sequence__key=key, formatted=formatted, voided_at__isnull=False,
                                    void_reason=reason.strip()[:200])
        .update(voided_at=None, void_reason="", voided_by=None)
    )


class _Rollback(Exception):
    """Raised to roll back health_check()'s savepoint."""


def health_check() -> dict:
    """Is numbering working? Seed 004's check, without its flaw: the sample id is issued inside a savepoint that is
    rolled back, so the check consumes no number and leaves every counter and the ledger as they were.

    Returns:
        `{"status": "healthy" | "unhealthy", "message", "sequence_count", "db_roundtrip_ms", "sample_id",
        "timestamp", "level": worst usage level, "sequences": [usage rows of selectors.sequence_usage()]}`;
        "unhealthy" when the database does not answer (its error is logged, never returned).
    """
    now = timezone.now()
    try:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        roundtrip_ms = (time.perf_counter() - started) * 1000
        sample = None
        try:
            with transaction.atomic():
                sample = next_id(HEALTH_KEY, purpose="health check (rolled back)")
                raise _Rollback
        except _Rollback:
            pass
        usage = selectors.sequence_usage()
    except DatabaseError as exc:
        log.error("Health check: the database did not answer: %s", exc)  # the details stay in the log
        return {"status": "unhealthy", "message": "The database did not answer.", "timestamp": now.isoformat()}
    return {
        "status": "healthy",
        "message": "Numbering is operational.",
        "sequence_count": len(usage),
        "db_roundtrip_ms": round(roundtrip_ms, 2),
        "sample_id": sample,
        "timestamp": now.isoformat(),
        "level": selectors.worst_level(usage),
        "sequences": [row.as_dict() for row in usage],
    }


def repair_counters() -> list[str]:
    """Move every sequence counter that lags behind its ledger forward to the ledger's highest value, never back.

    A lagging counter would issue a recorded number again. Returns one line per counter moved.
    """
    moved = []
    for lag in selectors.lagging_counters():
        with transaction.atomic():
            sequence = Sequence.objects.get(pk=lag.sequence_id)
            counter = _locked_counter(sequence, lag.scope)
            if counter.last_value < lag.recorded_last:
                moved.append(
                    f"{counter.key}: moved from {counter.last_value} to {lag.recorded_last} "
                    f"({sequence.id_format.render(lag.recorded_last, lag.scope)})"
                )
                counter.last_value = lag.recorded_last
                counter.save(update_fields=["last_value", "updated_at"])
    return moved


# Seed 004's names, as thin aliases.
generate_id = next_id
bulk_generate_ids = next_ids
