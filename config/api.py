"""API plumbing shared by every app: permissions and the error shape (`{"detail": ...}` or per-field messages)."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, permissions, status

from idseq.exceptions import SequenceExhausted


class RolePermissions(permissions.DjangoModelPermissions):
    """Authenticated users with the model permission of their role (see config/roles.py), reads included."""

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


class Conflict(exceptions.APIException):
    """409: the request clashes with what is already recorded (a number in use, an action not allowed now)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict."
    default_code = "conflict"


class Unprocessable(exceptions.APIException):
    """422: the request is well-formed but names something it may not use (e.g. an MRN outside a terminal's lease)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "Unprocessable request."
    default_code = "unprocessable"


def exception_handler(exc, context):
    """DRF's handler, plus domain errors raised by services mapped to clear statuses instead of a 500.

    - django ValidationError -> 400 with per-field messages (or `detail` for non-field errors)
    - SequenceExhausted -> 409 with `detail`
    """
    # Imported here: rest_framework.views reads the API settings, which name this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            exc = exceptions.ValidationError(exc.message_dict)
        else:
            exc = BadRequest(" ".join(exc.messages))
    elif isinstance(exc, SequenceExhausted):
        exc = Conflict(str(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    return drf_exception_handler(exc, context)



def v1_only(endpoints):
    """drf-spectacular preprocessing hook: document `/api/v1/` once, not its seed-compatible aliases."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]
