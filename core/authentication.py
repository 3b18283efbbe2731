"""API authentication that costs one query per request (issue #13).

DRF's TokenAuthentication loads the token with its user (one query); then every permission check
(`user.has_perm`, core.api.RolePermissions) costs two more: Django's ModelBackend reads the user's own permissions
and their groups' permissions on first use. Here the token, its user and both permission sets come back in the one
query, and the sets are put where ModelBackend keeps its per-request cache (`_user_perm_cache`, `_group_perm_cache`,
`_perm_cache`), so `has_perm` answers from memory. Nothing outlives the request: a role changed in the admin counts
on the next request.
"""

from django.contrib.auth.models import Permission
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import CharField, F, OuterRef, Value
from django.db.models.functions import Concat
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


def _permission_names(**lookup) -> ArraySubquery:
    """`ARRAY(SELECT app_label || '.' || codename ...)` of the permissions matching `lookup` (with OuterRef)."""
    return ArraySubquery(
        Permission.objects.filter(**lookup)
        .annotate(perm=Concat(F("content_type__app_label"), Value("."), F("codename"), output_field=CharField()))
        .values("perm")
    )


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, with the user's permissions loaded in the same query as the token.

    Same contract as DRF's class (401 for an unknown key or an inactive user, `WWW-Authenticate: Token`); returns
    `(user, token)` where `user.has_perm()` needs no further query.
    """

    def authenticate_credentials(self, key):
        token = (
            Token.objects.select_related("user")
            .annotate(
                user_permissions=_permission_names(user=OuterRef("user_id")),
                group_permissions=_permission_names(group__user=OuterRef("user_id")),
            )
            .filter(key=key)
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if not user.is_superuser:  # a superuser's has_perm() is always True without asking the backend
            # ModelBackend's cache attributes (django.contrib.auth.backends.ModelBackend._get_permissions).
            user._user_perm_cache = set(token.user_permissions)
            user._group_perm_cache = set(token.group_permissions)
            user._perm_cache = user._user_perm_cache | user._group_perm_cache
        return user, token
