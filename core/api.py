"""API plumbing shared by every app: permissions and the error shape (`{"detail": ...}` or per-field messages)."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from psycopg import errors as pg_errors
from rest_framework import exceptions, parsers, permissions, status

import core.database
from core.busy import as_busy, retry_after
from core.errors import DomainError

log = logging.getLogger("tokenline.api")


class RolePermissions(permissions.DjangoModelPermissions):
    """Authenticated users with the model permission of their role (see core/roles.py), reads included."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class BadRequest(exceptions.APIException):
    """400 with a single `detail` message, for errors that belong to no one field."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Bad request."
    default_code = "bad_request"


class ServiceUnavailable(exceptions.APIException):
    """503: the database does not answer; the client may retry (with its Idempotency-Key)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Service unavailable."
    default_code = "service_unavailable"


def exception_handler(exc, context):
    """DRF's handler, plus domain errors raised by services mapped to clear statuses instead of a 500.

    - django ValidationError -> 400 with per-field messages (or `detail` for non-field errors)
    - domain errors (core.errors.DomainError, idseq's IdseqError among them) -> their own `status_code` with
      `detail` (plus a DomainError's `extra` fields): SequenceExhausted 409,
      InvalidId 400, UnknownSequence 404, ...
    - a lock or statement timeout (core/busy.py) -> 503 "busy" with `Retry-After`, like a Busy domain error
    - a database that does not answer (OperationalError, InterfaceError) -> 503
    - a row a database constraint refuses (IntegrityError) -> 409 naming the constraint; a value the database
      cannot store (DataError, e.g. out of range) -> 400. The transaction was rolled back: nothing half-written.
    Database errors are logged with their driver message; the body never shows hosts, names or driver text.
    """
    # Imported here: rest_framework.views reads the API settings, which name this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            exc = exceptions.ValidationError(exc.message_dict)
        else:
            exc = BadRequest(" ".join(exc.messages))
    if isinstance(exc, OperationalError):
        exc = as_busy(exc, context["request"].path if context.get("request") else "the API") or exc
    if isinstance(exc, DomainError):
        body = {"detail": str(exc), **getattr(exc, "extra", {})}
        domain_error, exc = exc, exceptions.APIException(body)
        exc.status_code = domain_error.status_code
        exc.wait = getattr(domain_error, "retry_after", None)  # DRF sends it as Retry-After
    elif isinstance(exc, (OperationalError, InterfaceError)) or _read_only(exc):
        log.error("Database unavailable (%s): %s", core.database.describe(), exc, exc_info=exc)
        exc = ServiceUnavailable("The database is not answering; try again shortly.")
        exc.wait = retry_after()  # DRF sends it as Retry-After; a retry keeps its Idempotency-Key
    elif isinstance(exc, IntegrityError):
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or "a database rule"
        log.warning("Refused by %s: %s", constraint, exc)
        exc = exceptions.APIException({"detail": f"The change conflicts with {constraint}; nothing was saved."})
        exc.status_code = status.HTTP_409_CONFLICT
    elif isinstance(exc, DataError):
        log.warning("Value refused by the database: %s", exc)
        exc = BadRequest("A value is out of the range the database can store; nothing was saved.")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    return drf_exception_handler(exc, context)


def _read_only(exc) -> bool:
    """Whether `exc` is a write refused by a read-only server (SQLSTATE 25006: a standby, e.g. reached before a
    failover finished): the client did nothing wrong, so 503, not 500."""
    return isinstance(getattr(exc, "__cause__", None), pg_errors.ReadOnlySqlTransaction)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; a body nested too deeply for Python's parser is a 400 like any malformed JSON, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - the body is nested too deeply.")


PARSER_CLASSES = [JSONParser, parsers.FormParser, parsers.MultiPartParser]


def v1_only(endpoints):
    """drf-spectacular preprocessing hook: document `/api/v1/` once, not its seed-compatible aliases."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]


# Error statuses any operation may answer, documented on every one (document_errors) with the shape of
# exception_handler's bodies, so clients and schemathesis' conformance checks know them.
ERROR_RESPONSES = {
    "400": "Malformed or invalid input: `detail`, or one list of messages per field.",
    "401": "No or invalid credentials.",
    "403": "The role may not do this.",
    "404": "No such object (or a malformed id), or no such page.",
    "409": "Refused by the rules (conflict with the current state); nothing was written.",
    "413": "The body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE.",
    "415": "Unsupported Content-Type.",
    "422": "The Idempotency-Key was used with a different request.",
    "429": "Too many requests; retry after `Retry-After` seconds.",
    "503": "The database is not answering or the numbering is busy; retry (with the same Idempotency-Key).",
}
# Only `detail` is common to every error body; the other keys are per-field messages (400) or extra fields of a
# domain error (e.g. `mrn`), so a field named like anything else (a lease's `request_id`) stays valid.
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}


def document_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: add ERROR_RESPONSES (schema `Error`) to every operation that does not
    document the status itself."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_RESPONSES.items():
                responses.setdefault(code, {"description": description, "content": error})
    return result


def refuse_empty_filters(filterset_class, query_params) -> None:
    """Refuse a filter parameter given with no value (`?slot=`, `?date=`): django-filter would silently ignore it
    and answer the unfiltered list, which a client that meant to filter takes for its answer.

    Args: a FilterSet class, and the request's query parameters.
    Raises:
        rest_framework.exceptions.ValidationError: 400 with one message per empty filter parameter.
    """
    empty = [name for name in filterset_class.base_filters if "" in query_params.getlist(name)]
    if empty:
        raise exceptions.ValidationError({name: ["Give a value, or leave the parameter out."] for name in empty})


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, answering 400 for a filter parameter without a value (`refuse_empty_filters`)."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            refuse_empty_filters(filterset_class, request.query_params)
        return super().filter_queryset(request, queryset, view)
