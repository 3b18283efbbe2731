"""API authentication that costs one query per request.

DRF's TokenAuthentication loads the token with its user (one query); then every permission check
(`user.has_perm`, core.api.RolePermissions) costs two more: Django's ModelBackend reads the user's own permissions
and their groups' permissions on first use. Here the token, its user and both permission sets come back in one
query, and the sets are put where ModelBackend keeps its per-request cache (`_user_perm_cache`, `_group_perm_cache`,
`_perm_cache`), so `has_perm` answers from memory. Nothing outlives the request: a role changed in the admin counts
on the next request. The query is plain SQL: building it with the ORM on every request cost more CPU than running it.

Tokens are knox's (core.auth.issue_token): the table holds the SHA-512 digest of each key, its primary key, so the
presented key is hashed here (microseconds) and found by one index lookup, in the same single query. Knox's own
authentication class would read the token, then the user, then write on refresh; it is not used. A token past its
`expiry` answers 401 "Token has expired; ..." (and stays until its user logs in again or an admin deletes it: no write
on the request path); a deleted (revoked) token answers 401 "Invalid token.".
"""

from django.contrib.auth import get_user_model
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken
from rest_framework import authentication, exceptions

# "app_label.codename" of the permissions reached through `joins` (ModelBackend's names), for the token's user.
_PERMISSIONS = """ARRAY(SELECT ct.app_label || '.' || p.codename FROM {joins}
    JOIN auth_permission p ON p.id = link.permission_id
    JOIN django_content_type ct ON ct.id = p.content_type_id
    WHERE {user} = t.user_id)"""
TOKEN_USER_PERMISSIONS_SQL = f"""
SELECT u.*, t.digest AS token_digest, t.token_key AS token_prefix, t.created AS token_created,
    t.expiry AS token_expiry,
    {_PERMISSIONS.format(joins="auth_user_user_permissions link", user="link.user_id")} AS user_permission_names,
    {_PERMISSIONS.format(joins="auth_user_groups ug JOIN auth_group_permissions link ON link.group_id = ug.group_id",
                         user="ug.user_id")} AS group_permission_names
FROM knox_authtoken t JOIN {{user_table}} u ON u.id = t.user_id
WHERE t.digest = %s
"""


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, with the user's permissions loaded in the same query as the token.

    Same contract as DRF's class (401 for an unknown key or an inactive user, `WWW-Authenticate: Token`), plus 401
    "Token has expired; ..." past the token's expiry; returns `(user, token)` (a knox AuthToken, not re-read) where
    `user.has_perm()` needs no further query.
    """

    def authenticate_credentials(self, key):
        User = get_user_model()
        sql = TOKEN_USER_PERMISSIONS_SQL.format(user_table=User._meta.db_table)
        user = next(iter(User.objects.raw(sql, [hash_token(key)])), None)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if user.token_expiry is not None and user.token_expiry <= timezone.now():
            raise exceptions.AuthenticationFailed("Token has expired; log in again or ask for a new key.")
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if not user.is_superuser:  # a superuser's has_perm() is always True without asking the backend
            # ModelBackend's cache attributes (django.contrib.auth.backends.ModelBackend._get_permissions).
            user._user_perm_cache = set(user.user_permission_names)
            user._group_perm_cache = set(user.group_permission_names)
            user._perm_cache = user._user_perm_cache | user._group_perm_cache
        token = AuthToken(digest=user.token_digest, token_key=user.token_prefix, created=user.token_created,
                          expiry=user.token_expiry, user=user)
        return user, token
