"""Request ids: every request gets one, every log record written while it runs carries it, and the response (and
the 500 page or API error body) shows it, so a desk's report of an error leads to its traceback in the log."""

import contextvars
import logging
import re
import uuid

from django.conf import settings
from django.http import JsonResponse

HEADER = "X-Request-ID"
# An id a proxy (nginx's $request_id) already set is kept when it is this harmless; anything else is replaced.
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
_current = contextvars.ContextVar("request_id", default="-")


def current_request_id() -> str:
    """The id of the request being handled on this thread, or "-" outside a request."""
    return _current.get()


class RequestIdMiddleware:
    """Set `request.id` (the incoming X-Request-ID when it is a safe token, else a new uuid4 hex), expose it to
    logging for the request's duration, and send it back in the X-Request-ID response header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(HEADER, "")
        request.id = incoming if _SAFE_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = _current.set(request.id)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response[HEADER] = request.id
        return response


class RequestIdFilter(logging.Filter):
    """Logging filter: adds `request_id` to every record (use `%(request_id)s` in a format)."""

    def filter(self, record):
        record.request_id = current_request_id()
        return True


class BodySizeLimitMiddleware:
    """Answer 413 to a request whose Content-Length exceeds DATA_UPLOAD_MAX_MEMORY_SIZE, before anything reads or
    parses the body (DRF's parsers do not apply Django's limit themselves)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            return JsonResponse({"detail": f"The body is larger than {limit:,} bytes."}, status=413)
        return self.get_response(request)
