"""API authentication that costs one query per request.

DRF's TokenAuthentication loads the token with its user (one query); then every permission check
(`user.has_perm`, core.api.RolePermissions) costs two more: Django's ModelBackend reads the user's own permissions
and their groups' permissions on first use. Here the token, its user and both permission sets come back in one
query, and the sets are put where ModelBackend keeps its per-request cache (`_user_perm_cache`, `_group_perm_cache`,
`_perm_cache`), so `has_perm` answers from memory. The query is plain SQL: building it with the ORM on every request
cost more CPU than running it.

Tokens are knox's (core.auth.issue_token): the table holds the SHA-512 digest of each key, its primary key, so the
presented key is hashed here (microseconds) and found by one index lookup, in the same single query. Knox's own
authentication class would read the token, then the user, then write on refresh; it is not used. A token past its
`expiry` answers 401 "Token has expired; ..." (and stays until its user logs in again or an admin deletes it: no write
on the request path); a deleted (revoked) token answers 401 "Invalid token.".

What the query found is kept in the worker's memory for TOKENLINE_AUTH_CACHE_SECONDS, keyed by the digest (`Cached`),
so a desk's next requests send no authentication query and build no raw query (1.7-2.8 ms of CPU per request
measured). Each request gets its own User instance made from the kept row; the expiry is checked on every request.
Saving or deleting a user, a token, or a user's groups or permissions through Django empties the keeper of the
process that did it (`forget`, connected in core.apps); the other workers read again within the window. So a revoked
token, a deactivated user or a changed role counts everywhere within TOKENLINE_AUTH_CACHE_SECONDS (docs/security).
"""

import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS
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


@dataclass(frozen=True)
class Cached:
    """What the token query found for one digest: the user's row (`names`, `values`: its concrete fields' attnames
    and values), its permission names ("app_label.codename", None for a superuser), the token's prefix, creation
    and expiry, and when it was read (time.monotonic())."""

    names: tuple[str, ...]
    values: tuple
    permissions: tuple[frozenset[str], frozenset[str]] | None
    token_prefix: str
    token_created: object
    token_expiry: object
    read_at: float


_cache: dict[str, Cached] = {}
_cache_lock = threading.Lock()  # only around changes (reads of a dict are atomic)
_CACHE_LIMIT = 10_000  # tokens kept per process; past it the keeper is emptied (a hospital has hundreds of desks)


def forget(**_signal_kwargs) -> None:
    """Empty this process's keeper of token lookups (a receiver of post_save, post_delete and m2m_changed on users,
    tokens, groups and their permissions: rare writes, after which every token is read again)."""
    with _cache_lock:
        _cache.clear()


def _lookup(digest: str) -> Cached | None:
    """The token query's answer for `digest`, from the keeper when younger than TOKENLINE_AUTH_CACHE_SECONDS, else
    from the database (one query) and kept; None for an unknown digest (not kept: the next request asks again)."""
    window = settings.TOKENLINE_AUTH_CACHE_SECONDS
    now = time.monotonic()
    found = _cache.get(digest)
    if found is not None and now - found.read_at < window:
        return found
    User = get_user_model()
    user = next(iter(User.objects.raw(TOKEN_USER_PERMISSIONS_SQL.format(user_table=User._meta.db_table), [digest])),
                None)
    if user is None:
        return None
    names = tuple(field.attname for field in User._meta.concrete_fields)
    found = Cached(
        names=names, values=tuple(getattr(user, name) for name in names),
        permissions=None if user.is_superuser else (frozenset(user.user_permission_names),
                                                    frozenset(user.group_permission_names)),
        token_prefix=user.token_prefix, token_created=user.token_created, token_expiry=user.token_expiry,
        read_at=now,
    )
    if window > 0:
        with _cache_lock:
            if len(_cache) >= _CACHE_LIMIT:
                _cache.clear()
            _cache[digest] = found
    return found


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, with the user's permissions loaded in the same query as the token, kept for
    TOKENLINE_AUTH_CACHE_SECONDS per process.

    Same contract as DRF's class (401 for an unknown key or an inactive user, `WWW-Authenticate: Token`), plus 401
    "Token has expired; ..." past the token's expiry; returns `(user, token)` (a new User instance per request and a
    knox AuthToken, not re-read) where `user.has_perm()` needs no further query.
    """

    def authenticate_credentials(self, key):
        digest = hash_token(key)
        found = _lookup(digest)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if found.token_expiry is not None and found.token_expiry <= timezone.now():
            raise exceptions.AuthenticationFailed("Token has expired; log in again or ask for a new key.")
        user = get_user_model().from_db(DEFAULT_DB_ALIAS, found.names, found.values)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if found.permissions is not None:  # a superuser's has_perm() is always True without asking the backend
            # ModelBackend's cache attributes (django.contrib.auth.backends.ModelBackend._get_permissions).
            user._user_perm_cache, user._group_perm_cache = set(found.permissions[0]), set(found.permissions[1])
            user._perm_cache = user._user_perm_cache | user._group_perm_cache
        token = AuthToken(digest=digest, token_key=found.token_prefix, created=found.token_created,
                          expiry=found.token_expiry, user=user)
        return user, token
