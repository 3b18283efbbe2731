"""API plumbing shared by every app: permissions and the error shape (`{"detail": ...}` or per-field messages)."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, permissions, status

from core.busy import as_busy
from core.errors import DomainError


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
    elif isinstance(exc, (OperationalError, InterfaceError)):
        exc = ServiceUnavailable(f"The database did not answer: {exc}")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    return drf_exception_handler(exc, context)


def v1_only(endpoints):
    """drf-spectacular preprocessing hook: document `/api/v1/` once, not its seed-compatible aliases."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]
