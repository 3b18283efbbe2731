"""The API's request rates (DRF's anon and user throttles), counted per worker process, off the database.

Every API request passes the anon or the user throttle. Counted in the database cache (CACHES["default"]) that was
six statements per request (read the history; count the rows for culling; in a transaction read the key and write
it back), more than a call-next itself sends. These limits only guard against a runaway client (a script stuck in a
loop), so they count in CACHES["throttle"]: by default a memory cache of each gunicorn worker, which costs no
statement and needs nothing installed (`bin/dev.py serve` on a fresh clone keeps working). A user is refused once
one worker has counted the rate; requests spread over the workers, so at most WEB_CONCURRENCY times the rate gets
through a minute. THROTTLE_CACHE_URL (e.g. redis://127.0.0.1:6379/1) names a cache all workers share instead.

Password guessing is stopped by the login lockout (django-axes, core/auth.py), counted in the database, which every
worker shares. Both key on `client_address`.
"""

from django.core.cache import caches
from rest_framework import throttling
from rest_framework.settings import api_settings

CACHE_ALIAS = "throttle"


def client_address(request) -> str:
    """The address a request came from, as the throttles and the login lockout count it.

    `REMOTE_ADDR` (the peer of the TCP connection) unless NUM_PROXIES (REST_FRAMEWORK, from the environment) says
    that many trusted proxies stand in front of the server: then the address the outermost of them saw, the
    NUM_PROXIES-th entry from the right of `X-Forwarded-For` (each proxy appends the peer it saw; whatever the client
    itself sent stands further left and is never believed). With NUM_PROXIES = 0 the header is ignored, so a client
    cannot become a new address by sending a new header. Returns "" when the request carries no address.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = api_settings.NUM_PROXIES or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    addresses = [address.strip() for address in forwarded.split(",")]
    return addresses[-min(proxies, len(addresses))] or remote


class ProcessCountMixin:
    """Count in CACHES[CACHE_ALIAS] instead of DRF's default cache (looked up on each use, so a changed CACHES
    setting in tests is followed), per `client_address` rather than DRF's own reading of X-Forwarded-For."""

    @property
    def cache(self):
        return caches[CACHE_ALIAS]

    def get_ident(self, request):
        return client_address(request)


class AnonRateThrottle(ProcessCountMixin, throttling.AnonRateThrottle):
    """Requests without credentials per client address, rate `anon` (THROTTLE_ANON, 120/min by default)."""


class UserRateThrottle(ProcessCountMixin, throttling.UserRateThrottle):
    """Requests per authenticated user, rate `user` (THROTTLE_USER, 1200/min by default)."""
