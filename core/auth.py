"""Limits on password guessing: `/api/v1/auth/token/` and the login page share one DRF throttle per client address.

DRF's own throttles rather than django-axes: the API already counts every request with them (anon and user rates,
REST_FRAMEWORK settings), the login scope is one more rate in the same place, counted in the same cache (the
database cache, shared by all gunicorn workers), and no extra tables, middleware or authentication backend are
needed. Axes would lock accounts (a desk could lock out a colleague by mistyping her name); this limits a source.
"""

from django.contrib.auth import views as auth_views
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class LoginRateThrottle(SimpleRateThrottle):
    """Password attempts per client address, rate `login` of DEFAULT_THROTTLE_RATES (10/min by default); counts
    every attempt, right or wrong, whoever is logged in."""

    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenView(ObtainAuthToken):
    """`POST /api/v1/auth/token/` {username, password} -> {token}; DRF's view with the project's parsers (a body
    nested too deeply is a 400) and the login throttle (429 with Retry-After)."""

    parser_classes = api_settings.DEFAULT_PARSER_CLASSES
    throttle_classes = [LoginRateThrottle]


@method_decorator(sensitive_post_parameters(), name="dispatch")
class LoginView(auth_views.LoginView):
    """Django's login page; past the `login` rate a POST answers 429 with the form and a message, checking nothing."""

    def post(self, request, *args, **kwargs):
        throttle = LoginRateThrottle()
        if not throttle.allow_request(request, self):
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, f"Too many login attempts; try again in {int(throttle.wait() or 60)} seconds.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)
