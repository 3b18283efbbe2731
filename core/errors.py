"""Domain errors that services raise and every edge (API, pages, commands) turns into a clear message."""


class DomainError(Exception):
    """A request the rules refuse. `status_code` is the HTTP status the API answers with (409 unless a subclass
    says otherwise); the message is the `detail` shown to the user. Raised before anything is written, or inside
    the transaction that a failure rolls back, so nothing is half-written.

    `extra` (keyword arguments) are further fields of the API's error body next to `detail`, e.g.
    `{"mrn": "001-00-042"}` for the patient a duplicate points to.
    """

    status_code = 409

    def __init__(self, message: str, *, status_code: int | None = None, **extra):
        super().__init__(message)
        if status_code is not None:
            self.status_code = status_code
        self.extra = extra


class NotFound(DomainError):
    """An id names nothing (answered with 404)."""

    status_code = 404
