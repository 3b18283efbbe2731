"""Logging in: the login page, the API's token endpoint and its revocation, and the answer to a locked-out login.

Password guessing is limited by django-axes (8.3, Jazzband, the usual Django choice) rather than by a rate per
client address: axes hooks Django's own `authenticate()` (an authentication backend plus the `user_login_failed`
signal), so the login page, `/admin/login/` (with or without the second factor) and this module's token endpoint are
all counted by one mechanism, in the database every worker shares, with no view of ours counting anything. It keys
on (username, client address) together (AXES_LOCKOUT_PARAMETERS): a rate per address made one stranger at a shared
reception PC lock every colleague out; per pair he locks out only the name he types, from his address, for
AXES_COOLOFF_MINUTES. The answer never says whether the name or the password was wrong, and a lockout answers the
same for a name that does not exist. Settings and their reasons: config/settings.py (AXES_*), docs/security/logins.md.
"""

import datetime

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.contrib.auth import authenticate, user_logged_in
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Max
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import exceptions, permissions, serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from core.throttling import client_address

LOCKED_OUT = "Too many failed logins for this name from this computer; try again in {minutes} minute(s)."
WRONG_CREDENTIALS = "Unable to log in with the name and password given."


class LockoutBackend(AxesStandaloneBackend):
    """First of AUTHENTICATION_BACKENDS: refuses a locked-out (username, address) before any password is checked.

    Counts logins over HTTP, which always pass their request to `authenticate()` (the login page's and the admin's
    forms, TokenView). A call without a request (the shell, a command, the test client's `login()`) has no client
    address to count or lock; axes' own backend raises for it, this one lets the next backend decide.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_seconds_left(request, username: str | None) -> int:
    """Seconds until (username, client address) may try again: the cool-off counted from the failure that locked it
    (failures during a lockout are not recorded, AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False). At least 1."""
    cool_off = get_cool_off(request) or datetime.timedelta(minutes=15)
    last = AccessAttempt.objects.filter(username=username, ip_address=client_address(request)).aggregate(
        last=Max("attempt_time"))["last"]
    left = cool_off if last is None else last + cool_off - timezone.now()
    return max(1, int(left.total_seconds() + 0.999))


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: 429 with `Retry-After` (seconds) for a locked-out login, JSON `{"detail": ...}` under
    /api/, a page otherwise (the login page, /admin/login/). Same words whatever was wrong; nothing checked."""
    seconds = lockout_seconds_left(request, get_client_username(request, credentials))
    message = LOCKED_OUT.format(minutes=-(-seconds // 60))
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(seconds)
    return response


def issue_token(user, *, ttl: datetime.timedelta | None = None) -> tuple[AuthToken, str]:
    """A new API token of `user`; returns (the stored row, the key to hand out once).

    Only the key's SHA-512 digest is stored (knox), so the key cannot be read back from the database or a backup.
    `ttl`: lifetime (default REST_KNOX TOKEN_TTL, i.e. TOKENLINE_TOKEN_HOURS); the user's already expired tokens are
    deleted on the way, so expired rows do not pile up.
    """
    AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
    return AuthToken.objects.create(user=user, **({} if ttl is None else {"expiry": ttl}))


class ApiLoginIn(serializers.Serializer):
    """The token endpoint's body: a user's name and password (JSON or form)."""

    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class ApiTokenOut(serializers.Serializer):
    """The token endpoint's answer: the new key (only its digest is kept) and when it ends."""

    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`; shown only this once.")
    expiry = serializers.DateTimeField(help_text="After this the token answers 401; log in again.")


@method_decorator(sensitive_post_parameters(), name="dispatch")
class TokenView(APIView):
    """`POST /api/v1/auth/token/` {username, password} -> 200 {token, expiry}.

    Wrong name or password: 400 `detail` (the same words for both). Locked out (AXES_FAILURE_LIMIT failures of this
    name from this address within AXES_COOLOFF_MINUTES): 429 with Retry-After, the right password included. Each
    login makes a new token, valid TOKENLINE_TOKEN_HOURS; `POST /api/v1/auth/logout/` revokes it earlier.
    """

    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = []  # the lockout limits guessing; a rate per address would lock out a shared PC
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES

    @extend_schema(request=ApiLoginIn, responses={200: ApiTokenOut}, summary="Log in: a new API token")
    def post(self, request):
        data = ApiLoginIn(data=request.data)
        data.is_valid(raise_exception=True)
        http_request = request._request  # axes marks the Django request (its middleware reads the same object)
        user = authenticate(http_request, **data.validated_data)
        if getattr(http_request, "axes_locked_out", False):
            seconds = lockout_seconds_left(http_request, data.validated_data["username"])
            raise exceptions.Throttled(wait=seconds, detail=LOCKED_OUT.format(minutes=-(-seconds // 60)))
        if user is None:
            raise exceptions.ValidationError({"detail": WRONG_CREDENTIALS})
        # As a page login does: last_login, and axes clears this pair's failures (AXES_RESET_ON_SUCCESS).
        user_logged_in.send(sender=type(user), request=http_request, user=user)
        token, key = issue_token(user)
        return Response(ApiTokenOut({"token": key, "expiry": token.expiry}).data)


class LogoutView(APIView):
    """`POST /api/v1/auth/logout/`: the token this request carries stops working at once (204). A session or no
    token: nothing to revoke, 204 too."""

    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = []

    @extend_schema(request=None, responses={204: None}, summary="Revoke the token this request carries")
    def post(self, request):
        if isinstance(request.auth, AuthToken):
            AuthToken.objects.filter(digest=request.auth.digest).delete()
        return Response(status=204)


class LoginForm(AuthenticationForm):
    """Django's login form with its labels in the page's language (Tokenline's catalogue, not Django's)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Username")
        self.fields["password"].label = _("Password")


@method_decorator(sensitive_post_parameters(), name="dispatch")
class LoginView(auth_views.LoginView):
    """Django's login page; a locked-out name and address get core.auth.lockout_response (axes' middleware)."""

    authentication_form = LoginForm
