"""Errors raised by idseq. Callers at the edge (API, forms, commands) turn them into user-facing messages."""


class SequenceExhausted(Exception):
    """A counter has passed the last value its format can show. Nothing was consumed: the transaction rolls back."""


class NotInTransaction(RuntimeError):
    """`allocate()` was called outside `transaction.atomic()`, so the number could be lost or issued twice."""
