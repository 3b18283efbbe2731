"""Error pages (Django's handler400/403/404/500): a styled page for people, a JSON body for API clients.

Everything under /api/ answers `{"detail": ...}` like the rest of the API (plus `request_id` for a 500), so a client
never has to parse an HTML page. The pages are templates/error.html and templates/500.html; the 500 page is rendered
without context processors or the database, since either may be what failed.
"""

from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.utils.translation import gettext as _

from core.requests import current_request_id


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def _page(request, status: int, title: str, reason: str):
    return render(request, "error.html", {"title": title, "reason": reason}, status=status)


def bad_request(request, exception=None):
    """400: a request Django could not read (e.g. a body too large to parse, a malformed header)."""
    reason = _("The request could not be read.")
    if _is_api(request):
        return JsonResponse({"detail": reason}, status=400)
    return _page(request, 400, _("Bad request"), reason)


def permission_denied(request, exception=None):
    """403: the reason is the PermissionDenied's message when it has one (see core.pages.role_required)."""
    reason = str(exception or "") or _("Your role may not open this page.")
    if _is_api(request):
        return JsonResponse({"detail": reason}, status=403)
    return _page(request, 403, _("Not allowed"), reason)


def page_not_found(request, exception=None):
    """404: nothing at this address (or an id that names nothing)."""
    reason = _("There is nothing at this address.")
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return _page(request, 404, _("Not found"), reason)


def server_error(request):
    """500: an unexpected error, already logged with its traceback by django.request; shows the request id."""
    request_id = getattr(request, "id", None) or current_request_id()
    if _is_api(request):
        body = {"detail": "Server error; the error has been logged.", "request_id": request_id}
        return JsonResponse(body, status=500)
    # No RequestContext: context processors (user, messages, hospital) may need what failed.
    html = loader.get_template("500.html").render({"request_id": request_id})
    return HttpResponseServerError(html)
