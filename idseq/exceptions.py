"""Errors raised by idseq. Callers at the edge (API, forms, commands) turn them into user-facing messages.

Each `IdseqError` is a `core.errors.DomainError` (the kernel, floor 0: idseq imports no app of the project) and
carries `status_code`, the HTTP status the API answers with, so the mapping has one home (core/api.py) and a new
error needs no new handler.
"""

from core.busy import Busy
from core.errors import DomainError


class IdseqError(DomainError):
    """Base of idseq's domain errors. Raised before anything is written, or with the transaction rolled back."""

    status_code = 400


class SequenceExhausted(IdseqError):
    """A counter has passed the last value its format can show. Nothing was consumed: the transaction rolls back."""

    status_code = 409


class InvalidId(IdseqError, ValueError):
    """An id, prefix or sequence setting does not match the expected pattern (the message names it). Never guessed
    or corrected: seed 004 silently "fixed" corrupted ids, which could issue a printed number twice."""

    status_code = 400


class UnknownSequence(IdseqError, LookupError):
    """No sequence has this key, and the call may not create one."""

    status_code = 404


class SequenceInactive(IdseqError):
    """The sequence is retired (`is_active` off) and issues no more numbers."""

    status_code = 409


class BackwardReset(IdseqError):
    """A reset would move a counter back below a value already issued, so a printed number could be issued twice."""

    status_code = 409


class IdempotencyConflict(IdseqError):
    """An Idempotency-Key was used before with a different request; the first request's numbers stand."""

    status_code = 422


class CounterBehindLedger(IdseqError):
    """A counter would issue a value its ledger already records (it was moved back); `idseq_repair` moves it
    forward. Answered 503: the client did nothing wrong, and numbering for that sequence is down until repaired."""

    status_code = 503


class NumberingBusy(Busy, IdseqError):
    """503: the counter row stayed locked longer than `TOKENLINE_LOCK_TIMEOUT` (core/busy.py). The transaction rolls
    back, so nothing was taken; the client retries after `Retry-After` seconds."""


class NotInTransaction(RuntimeError):
    """`allocate()` was called outside `transaction.atomic()`, so the number could be lost or issued twice."""


class ReservationOverlap(IdseqError):
    """Values asked for overlap another owner's reservation or values already issued; the message and the API
    body's `owner` name the other owner."""

    status_code = 400


class ReservedValue(IdseqError):
    """A value lies in a reservation of another owner (a lab terminal's range, the offline pool): only its owner
    may issue it. The message and the API body's `owner` name that owner."""

    status_code = 409


class AlreadyIssued(IdseqError):
    """The value was issued before (its ledger row exists, maybe voided): a number is never issued twice."""

    status_code = 409


class NotReserved(IdseqError):
    """A value an owner wants to issue lies in none of its reservations."""

    status_code = 422
