"""Logged-in pages end after TOKENLINE_SESSION_IDLE_MINUTES without a request (a reception PC left logged in).

A middleware rather than SESSION_SAVE_EVERY_REQUEST with a short SESSION_COOKIE_AGE: that pair writes the session
row back on every request (an UPDATE per page and per poll of the desk and board pages) and leaves the limit to the
browser's cookie expiry. Here the session holds the time of its last request, checked on the server, and written
back at most once a minute (TOUCH_SECONDS): an active desk costs one UPDATE a minute, and the limit holds to within
that minute. API requests with a token carry no session and are untouched (tokens end by their own expiry).
"""

import time

from django.conf import settings
from django.contrib.auth import logout

LAST_SEEN = "tokenline_last_seen"  # session key: Unix time (seconds) of the session's last request, to TOUCH_SECONDS
TOUCH_SECONDS = 60


class IdleTimeoutMiddleware:
    """Log out a session whose last request is more than TOKENLINE_SESSION_IDLE_MINUTES old (0: never), before the
    view runs, so the view sees an anonymous user (pages redirect to the login page, the API answers 401/403)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        idle_minutes = settings.TOKENLINE_SESSION_IDLE_MINUTES
        session = getattr(request, "session", None)
        # A request without a session cookie (the API with a token) reads nothing here.
        if idle_minutes > 0 and session is not None and session.session_key and request.user.is_authenticated:
            now = int(time.time())
            last_seen = session.get(LAST_SEEN)
            if last_seen is not None and now - last_seen > idle_minutes * 60:
                logout(request)
            elif last_seen is None or now - last_seen >= TOUCH_SECONDS:
                session[LAST_SEEN] = now
        return self.get_response(request)
