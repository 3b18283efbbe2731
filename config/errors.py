"""Domain errors shared by the apps' services. Each carries the HTTP status the API answers with (see
`config.api.exception_handler`); pages show the message as a form error or a message instead."""


class DomainError(Exception):
    """A request the data forbids right now. `str(error)` is the message shown to the user; `status_code` the
    HTTP status the API answers with (409 unless a subclass says otherwise). Raised before anything is written, or
    inside the transaction so that it rolls back."""

    status_code = 409
