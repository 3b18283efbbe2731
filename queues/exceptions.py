"""Errors raised by queue services: domain errors answered 409 with the message as `detail` (core/api.py);
pages show `str(error)` as an error message."""

from core.errors import DomainError


class QueueInactive(DomainError):
    """The queue issues no tokens (an inactive queue: 409)."""


class OpenVisitExists(DomainError):
    """The patient already holds an open visit in that queue today; the message names its token."""


class ActionNotAllowed(DomainError):
    """The visit's status does not allow the action (e.g. completing a waiting visit); the message names it."""


class DeskBusy(DomainError):
    """The desk still has a patient called or in consultation: complete or mark no-show first (seed 003)."""


class NobodyWaiting(DomainError):
    """Call-next found no waiting visit in the desk's queues today."""
