"""Errors raised by queue services. Each is a 409 `Conflict` (config/api.py), as terminals' are: the API answers
409 with the message as `detail`, and pages show `str(error)` as an error message."""

from config.api import Conflict


class QueueInactive(Conflict):
    """The queue issues no tokens (issue #7: inactive queue -> 409)."""


class OpenVisitExists(Conflict):
    """The patient already holds an open visit in that queue today; the message names its token."""


class ActionNotAllowed(Conflict):
    """The visit's status does not allow the action (e.g. completing a waiting visit); the message names it."""


class DeskBusy(Conflict):
    """The desk still has a patient called or in consultation: complete or mark no-show first (seed 003)."""


class NobodyWaiting(Conflict):
    """Call-next found no waiting visit in the desk's queues today."""
