"""Request ids: every request gets one, every log record written while it runs carries it, and the response (and
the 500 page or API error body) shows it, so a desk's report of an error leads to its traceback in the log."""

import contextvars
import io
import logging
import re
import uuid

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
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
    """Answer 413 with a `detail` to a request whose body exceeds DATA_UPLOAD_MAX_MEMORY_SIZE bytes, before anything
    parses it (DRF's parsers do not apply Django's limit themselves).

    A body with a Content-Length is judged by it, unread. A chunked body (Transfer-Encoding, no Content-Length), which
    gunicorn decodes and ends (`wsgi.input_terminated`), is read here, at most the limit + 1 bytes: past the limit
    it is refused, else it becomes the request's body with its Content-Length (Django would read no body without
    one). A server that does not end the input (runserver) is not read from: Django sees an empty body there."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and self.body_length(request, limit) > limit:
            return JsonResponse({"detail": f"The body is larger than {limit:,} bytes."}, status=413)
        return self.get_response(request)

    @staticmethod
    def body_length(request, limit: int) -> int:
        """The body's length in bytes: its Content-Length, or a chunked body's length read up to `limit` + 1."""
        meta = request.META
        if meta.get("CONTENT_LENGTH") or "HTTP_TRANSFER_ENCODING" not in meta or not meta.get("wsgi.input_terminated"):
            try:
                return int(meta.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return 0
        body = meta["wsgi.input"].read(limit + 1)
        if len(body) <= limit:
            # What WSGIRequest.__init__ would have made from a Content-Length (HttpRequest.body swaps _stream too).
            meta["CONTENT_LENGTH"] = str(len(body))
            request._stream = LimitedStream(io.BytesIO(body), len(body))
        return len(body)
