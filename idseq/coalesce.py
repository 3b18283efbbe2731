"""Coalesced allocation: many callers' numbers of one sequence taken in one transaction, past the ceiling of one
commit per number (`TOKENLINE_COALESCE`, off by default; docs/numbers/index.md).

A gapless counter row serialises its callers: each holds the row lock from its `UPDATE` to its `COMMIT`, flush
included, so at most one number commits per flush. Here a caller does not lock the counter. It queues its request
with its validated record (a `PendingIssue` row, committed at once) and then, in a loop:

1. tries to lead: in a transaction of its own, `pg_try_advisory_xact_lock` on the sequence; the leader takes the
   queued rows `FOR UPDATE SKIP LOCKED` (its own among them), claims their idempotency keys, locks and advances the
   counter once for all of them (`services._advance_in_place`, one `UPDATE ... RETURNING`), writes their ledger rows
   and records with one multi-row statement each, marks their rows done with the id and record, and commits;
2. collects its row: `DELETE ... WHERE state <> 'queued' RETURNING`. A row the leader is numbering is locked, so
   this waits for the leader's commit (or rollback) and reads the row as the leader left it;
3. a row still queued arrived after the leader took its batch: the caller waits for that leader (a shared advisory
   lock, granted when the leader's transaction ends) and goes back to 1.

Guarantees, and why they hold:
- Unique and gapless as `issue()`: the numbers come from the same counter statement, under the same row lock, and
  the ledger rows and records commit in the transaction that advanced the counter; a rollback returns the block.
- Acknowledged only after the commit: a caller answers with a number only from its row marked done, which only the
  leader's committed transaction can show.
- A leader that dies before its commit leaves nothing: PostgreSQL rolls its transaction back (counter, ledger,
  records, marks) and releases its locks; the rows are queued again and the next leader numbers them.
- A caller that times out (`TOKENLINE_LOCK_TIMEOUT` after queueing) deletes its row; the delete waits while a leader
  holds the row, so either the caller removed it before any leader took it (nothing numbered: 503), or the leader
  committed first and the caller answers with that number. A leader skips rows a caller is deleting
  (SKIP LOCKED), and never takes rows queued longer ago than the wait allows, nor rows whose caller's connection
  has ended (its process died).
- A bad row does not fail the batch: on a constraint violation the batch is rolled back to a savepoint (nothing
  numbered) and numbered again row by row, each in its own savepoint; a row that still fails is marked `direct`
  and its caller takes the ordinary path (`issue()` in its own transaction), which raises the same domain error
  as without coalescing (a duplicate CNIC: 409) and takes no number.
- Idempotency keys: a key claimed before (or twice in one batch) is not numbered here: its row goes `direct`, and
  the ordinary path replays the first request's number or refuses a different request (422).
- Anything the leader cannot number on its one-statement path (a reservation within reach, the format's end, a
  retired or changed sequence) sends the whole batch `direct`, where `issue()` handles it as always.
"""

import datetime
import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from core.busy import lock_timeout_ms, retry_after, timed_out
from idseq.exceptions import NumberingBusy
from idseq.models import IdempotencyKey, PendingIssue

MAX_BATCH = 256  # rows one leader numbers in one transaction
# The first key of the two-key advisory locks (pg_advisory_xact_lock(int, int)) of this module, so that they never
# meet another user's advisory locks; the second key is a hash of the sequence key.
LOCK_SPACE = 0x1D5E
# A leader's transaction idle this long (its process frozen between two statements) is ended by the server, so a
# caller's last wait for its row (`_abandon`, which waits without a lock timeout) ends too.
LEADER_IDLE_MS = 5_000
# Rows left behind by callers that died (a row queued by a process killed while it waited, or numbered after its
# caller's connection ended) are removed by a leader once they are this old; a leader sweeps at most this often.
LEFTOVER_SECONDS = 60
_next_sweep = 0.0  # time.monotonic() of this process's next sweep
QUEUED, DONE, DIRECT = PendingIssue.States.QUEUED, PendingIssue.States.DONE, PendingIssue.States.DIRECT
_TABLE = PendingIssue._meta.db_table

# A writer inserts the records of a batch: given their payloads and their ids (same order), it inserts them with
# one statement and returns their primary keys (same order). It raises IntegrityError for a row that breaks a
# constraint (the batch is then retried row by row).
Writer = Callable[[list[dict], list[str]], list[int]]
_writers: dict[str, Writer] = {}


def register_writer(kind: str, write: Writer) -> None:
    """Make `write` the writer of records of `kind` (e.g. "patients.registration"), in this process. Call it where
    the app loads (AppConfig.ready), so that any process that leads can write every kind."""
    _writers[kind] = write


def enabled() -> bool:
    """Whether callers coalesce (`TOKENLINE_COALESCE`); only outside a transaction, since the numbers commit in the
    leader's transaction, not in the caller's."""
    return settings.TOKENLINE_COALESCE and not connection.in_atomic_block


@dataclass(frozen=True)
class Coalesced:
    """A number issued by coalesced allocation: the id and the primary key of the record written with it."""

    formatted: str
    record_id: int


def issue_with_record(
    key: str,
    *,
    kind: str,
    payload: dict,
    purpose: str = "",
    issued_by=None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> Coalesced | None:
    """Issue the next id of sequence `key` and insert its record, coalesced with other callers' (see the module).

    Args:
        key: a Sequence key (non-scoped: the period is the day the leader commits on, as for `issue()`).
        kind: the registered writer of the record (`register_writer`).
        payload: the record's validated fields, JSON-able (dates and times as DjangoJSONEncoder writes them).
        purpose, issued_by, idempotency_key, fingerprint: as for `services.issue()`, kept in the ledger.
    Returns:
        The id and record written and committed; or None when this request was not numbered here (its key was used
        before, its record breaks a constraint, the counter is off its common path): the caller then issues the
        ordinary way (`issue()` in its own transaction), which replays, refuses or numbers it as always.
    Raises:
        NumberingBusy: no leader numbered the request within `TOKENLINE_LOCK_TIMEOUT` (503); it was withdrawn and
            nothing was taken.
        Whatever the leader's transaction raised when this caller led (e.g. CounterBehindLedger); its own request
            withdrawn first, nothing taken.
    """
    from idseq.services import _request_hash  # the same hash as issue(), so either path compares alike

    request_hash = _request_hash(1, purpose, fingerprint) if idempotency_key is not None else ""
    row_id = _enqueue(key, kind, payload, purpose[:200], getattr(issued_by, "pk", None), idempotency_key,
                      request_hash)
    deadline = time.monotonic() + settings.TOKENLINE_LOCK_TIMEOUT
    try:
        while True:
            led = _lead(key)
            row = _collect(row_id, _left_ms(deadline))  # in the batch of a leader still at work: waits for its commit
            if row is not None:
                break
            if time.monotonic() >= deadline:
                row = _abandon(row_id)
                if row is None or row[0] == QUEUED:  # withdrawn before any leader took it: nothing numbered
                    raise NumberingBusy(
                        "Numbering is busy: no number could be taken in time. Nothing was taken; "
                        f"try again in {retry_after()} s."
                    )
                break
            if not led:  # queued after the leader took its batch: wait for it to finish, then try to lead
                _wait_for_leader(key, _left_ms(deadline))
    except BaseException:
        row = _abandon(row_id)  # gone already when the time-out above withdrew it
        if row is None or row[0] != DONE:
            raise
    state, formatted, record_id = row
    return Coalesced(formatted, record_id) if state == DONE else None


def _enqueue(key, kind, payload, purpose, issued_by_id, idempotency_key, request_hash) -> int:
    """Insert the caller's queue row, committed at once (autocommit). `synchronous_commit` off for it: a row lost in a
    server crash was never numbered (a leader's commit flushes every earlier commit it saw)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('synchronous_commit', 'off', true);"
            f" INSERT INTO {_TABLE} (sequence_key, kind, payload, purpose, issued_by_id, idempotency_key,"
            " request_hash, state, formatted, record_id, created_at, owner_pid)"
            " VALUES (%s, %s, %s::jsonb, %s, %s, %s, %s, %s, '', NULL, statement_timestamp(), pg_backend_pid())"
            " RETURNING id",
            [key, kind, json.dumps(payload, cls=DjangoJSONEncoder), purpose, issued_by_id, idempotency_key,
             request_hash, QUEUED],
        )
        cursor.nextset()
        return cursor.fetchone()[0]


def _lock_key(key: str) -> int:
    """The second advisory-lock key of sequence `key` (a signed 32-bit CRC)."""
    crc = zlib.crc32(key.encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


# One round trip: bound how long the leader's transaction may sit idle, try the leader's lock and, when it is taken,
# lock the batch, oldest first, skipping rows a caller is withdrawing. Rows queued longer ago than a caller waits, or
# whose caller's connection ended (its process died), are left alone. Always one row at least: (ok, NULL...) when no
# batch.
_DRAIN = (
    "SELECT set_config('idle_in_transaction_session_timeout', %(idle)s, true);"
    " SELECT lead.ok, p.* FROM (SELECT pg_try_advisory_xact_lock(%(space)s, %(lock)s) AS ok) lead"
    " LEFT JOIN LATERAL (SELECT id, kind, payload, purpose, issued_by_id, idempotency_key, request_hash"
    f" FROM {_TABLE} WHERE lead.ok AND sequence_key = %(key)s AND state = 'queued'"
    " AND created_at > statement_timestamp() - %(window)s * interval '1 millisecond'"
    " AND EXISTS (SELECT FROM pg_stat_get_activity(owner_pid))"
    " ORDER BY id LIMIT %(batch)s FOR UPDATE SKIP LOCKED) p ON true"
)


@dataclass
class _Row:
    id: int
    kind: str
    payload: dict
    purpose: str
    issued_by_id: int | None
    idempotency_key: str | None
    request_hash: str
    claim_id: int | None = None
    state: str = DIRECT
    formatted: str = ""
    record_id: int | None = None


def _lead(key: str) -> bool:
    """Lead one batch of sequence `key` if no other caller leads it: number the queued rows and commit.
    Returns False when another caller leads (nothing done)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_DRAIN, {"idle": str(LEADER_IDLE_MS), "space": LOCK_SPACE, "lock": _lock_key(key),
                                    "key": key, "window": lock_timeout_ms() + 1000, "batch": MAX_BATCH})
            cursor.nextset()
            found = cursor.fetchall()
        # (payload: Django reads jsonb as text and leaves the decoding to the field; here there is no field.)
        rows = [_Row(row[1], row[2], json.loads(row[3]), *row[4:]) for row in found if row[1] is not None]
        if rows:
            _number_batch(key, rows)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {_TABLE} p SET state = t.s, formatted = t.f, record_id = t.r FROM unnest(%s::bigint[],"
                    " %s::text[], %s::text[], %s::bigint[]) AS t(i, s, f, r) WHERE p.id = t.i",
                    [[r.id for r in rows], [r.state for r in rows], [r.formatted for r in rows],
                     [r.record_id for r in rows]],
                )
        if found[0][0] and time.monotonic() >= _next_sweep:
            sweep(key)
    return found[0][0]


def sweep(key: str, *, older_than: float = LEFTOVER_SECONDS) -> int:
    """Delete the queue rows of sequence `key` older than `older_than` seconds: rows whose callers died (a live
    caller removes its row within its lock timeout). Run by a leader, at most every LEFTOVER_SECONDS per process.
    Returns how many were removed."""
    global _next_sweep
    _next_sweep = time.monotonic() + LEFTOVER_SECONDS
    return PendingIssue.objects.filter(
        sequence_key=key, created_at__lt=timezone.now() - datetime.timedelta(seconds=older_than)
    ).delete()[0]


def _number_batch(key: str, rows: list[_Row]) -> None:
    """Number `rows` (locked) in the leader's transaction: claims, one block, ledger and records; set each row's
    state. A constraint violation sends the batch row by row, each in a savepoint, so a bad row fails alone."""
    from idseq.services import _cached_sequence, _scope

    keyed = any(row.idempotency_key is not None for row in rows)
    sequence = _cached_sequence(key, fresh=keyed)  # a key claim is made under a freshly read sequence, as issue()
    now = timezone.now()
    scope = _scope(sequence, None, now)
    to_number = _claim_keys(sequence, rows, now)
    if not to_number:
        return
    try:
        with transaction.atomic():
            _number(sequence, scope, to_number, now)
    except IntegrityError:
        for row in to_number:
            try:
                with transaction.atomic():
                    _number(sequence, scope, [row], now)
            except IntegrityError:
                row.state = DIRECT
    # A row sent the ordinary way leaves no claim behind: its caller claims its key there, with its number.
    unused = [row.claim_id for row in to_number if row.state == DIRECT and row.claim_id is not None]
    if unused:
        IdempotencyKey.objects.filter(pk__in=unused).delete()


def _claim_keys(sequence, rows: list[_Row], now) -> list[_Row]:
    """Claim the idempotency keys of `rows` with one statement; return the rows to number: those without a key and
    those whose key was new (the first of copies in one batch). Keys used before stay `direct` (the ordinary path
    replays or refuses them)."""
    firsts: dict[tuple, _Row] = {}
    for row in rows:
        if row.idempotency_key is not None:
            firsts.setdefault((row.issued_by_id, row.idempotency_key), row)
    if firsts:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {IdempotencyKey._meta.db_table} (sequence_id, user_id, key, request_hash, created_at)"
                " SELECT %s, u, k, h, %s FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS t(u, k, h)"
                " ON CONFLICT (sequence_id, user_id, key) DO NOTHING RETURNING id, user_id, key",
                [sequence.pk, now, [user for user, _ in firsts], [k for _, k in firsts],
                 [row.request_hash for row in firsts.values()]],
            )
            for claim_id, user, k in cursor.fetchall():
                firsts[user, k].claim_id = claim_id
    return [row for row in rows if row.idempotency_key is None or row.claim_id is not None]


def _number(sequence, scope: str, rows: list[_Row], now) -> None:
    """Take `len(rows)` values with one counter statement, write their ledger rows and records, set the rows done.
    Off the counter's common path, every row goes `direct` and nothing is taken."""
    from idseq.services import _advance_in_place, _record_rows

    values = _advance_in_place(sequence.counter_key(scope), len(rows), sequence=sequence)
    if values is None:
        for row in rows:
            row.state = DIRECT
        return
    ids = [sequence.id_format.render(value, scope) for value in values]
    _record_rows(sequence, scope, values, ids, at=now, issued_by_ids=[row.issued_by_id for row in rows],
                 purposes=[row.purpose for row in rows], claim_ids=[row.claim_id for row in rows])
    record_ids = []
    for kind in dict.fromkeys(row.kind for row in rows):  # each kind's records with one statement, in queue order
        of_kind = [i for i, row in enumerate(rows) if row.kind == kind]
        record_ids += zip(of_kind, _writers[kind]([rows[i].payload for i in of_kind], [ids[i] for i in of_kind]))
    for i, record_id in record_ids:
        rows[i].state, rows[i].formatted, rows[i].record_id = DONE, ids[i], record_id


def _left_ms(deadline: float) -> int:
    """Milliseconds until `deadline` (time.monotonic()), at least 1 (PostgreSQL's lock_timeout 0 means none)."""
    return max(1, round((deadline - time.monotonic()) * 1000))


def _wait_for_leader(key: str, wait_ms: int) -> None:
    """Wait until the current leader of `key` commits or rolls back (a shared lock on the leader's advisory lock,
    released at once), at most `wait_ms`."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true); SELECT pg_advisory_xact_lock_shared(%s, %s)",
                           [str(wait_ms), LOCK_SPACE, _lock_key(key)])
    except OperationalError as exc:
        if not timed_out(exc):
            raise


def _collect(row_id: int, wait_ms: int) -> tuple | None:
    """Delete the caller's row once a leader has decided it, returning (state, formatted, record_id); None while it
    is queued. Waits (at most `wait_ms`) while a leader holds the row, i.e. until the leader's commit."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true), set_config('synchronous_commit', 'off', true);"
                f" DELETE FROM {_TABLE} WHERE id = %s AND state <> 'queued' RETURNING state, formatted, record_id",
                [str(wait_ms), row_id],
            )
            cursor.nextset()
            return cursor.fetchone()
    except OperationalError as exc:
        if timed_out(exc):  # a leader holds the row longer than that: still deciding
            return None
        raise


def _abandon(row_id: int) -> tuple | None:
    """Withdraw the caller's row, whatever its state, returning (state, formatted, record_id) as it was (None: gone).

    Waits without a lock or statement timeout while a leader holds the row, so it never withdraws a row a leader
    is about to commit: it then reads the committed mark instead. That wait is bounded by the leader's transaction,
    which the server ends when it sits idle (LEADER_IDLE_MS) or its connection is lost."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('lock_timeout', '0', true), set_config('statement_timeout', '0', true),"
            " set_config('synchronous_commit', 'off', true);"
            f" DELETE FROM {_TABLE} WHERE id = %s RETURNING state, formatted, record_id",
            [row_id],
        )
        cursor.nextset()
        return cursor.fetchone()
