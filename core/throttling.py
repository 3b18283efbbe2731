"""The API's request rates (DRF's anon and user throttles), counted per worker process, off the database.

Every API request passes the anon or the user throttle. Counted in the database cache (CACHES["default"]) that was
six statements per request (read the history; count the rows for culling; in a transaction read the key and write
it back), more than a call-next itself sends. These limits only guard against a runaway client (a script stuck in a
loop), so they count in CACHES["throttle"]: by default a memory cache of each gunicorn worker, which costs no
statement and needs nothing installed (`bin/dev.py serve` on a fresh clone keeps working). A user is refused once
one worker has counted the rate; requests spread over the workers, so at most WEB_CONCURRENCY times the rate gets
through a minute. THROTTLE_CACHE_URL (e.g. redis://127.0.0.1:6379/1) names a cache all workers share instead.

The login throttle (core.auth.LoginRateThrottle) is the one that stops password guessing: its count must not be
multiplied by the workers, so it stays in the shared default cache; it is only consulted on a login.
"""

from django.core.cache import caches
from rest_framework import throttling

CACHE_ALIAS = "throttle"


class ProcessCountMixin:
    """Count in CACHES[CACHE_ALIAS] instead of DRF's default cache; looked up on each use, so a changed CACHES
    setting (tests) is followed."""

    @property
    def cache(self):
        return caches[CACHE_ALIAS]


class AnonRateThrottle(ProcessCountMixin, throttling.AnonRateThrottle):
    """Requests without credentials per client address, rate `anon` (THROTTLE_ANON, 120/min by default)."""


class UserRateThrottle(ProcessCountMixin, throttling.UserRateThrottle):
    """Requests per authenticated user, rate `user` (THROTTLE_USER, 1200/min by default)."""
