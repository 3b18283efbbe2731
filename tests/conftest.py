"""Shared fixtures: users in each role and API clients authenticated with their tokens."""

import json
import threading
import urllib.error
import urllib.request

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


# Debian's chromium, driven by Playwright in the browser tests (no browser download), and its headless flags.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


@pytest.fixture(autouse=True)
def _test_settings(settings):
    """Tests speak plain HTTP to 127.0.0.1 whatever DEBUG says (no HTTPS redirect or secure-only cookies), and count
    throttled requests in a per-process memory cache emptied before each test, so no test is throttled by the
    requests of another (tests/core/test_security.py tests the limits themselves)."""
    from django.core.cache import cache

    settings.SECURE_SSL_REDIRECT = settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()


def make_user(username: str, role: str | None = None, **extra) -> User:
    """A user in the group `role` (see core/roles.py); None for a user with no role."""
    user = User.objects.create_user(username=username, password="pw-" + username, **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def reception(db):
    return make_user("desk1", "reception")


@pytest.fixture
def api(reception):
    """An API client of a reception user, authenticated with `Authorization: Token ...`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=reception).key}")
    return client


def run_in_threads(target, count: int) -> tuple[list, list]:
    """Run `target(i)` in `count` threads at once, each with its own database connection.

    Returns (results, errors): what the calls returned, and what they raised. Threads start together behind a
    barrier so the calls really overlap.
    """
    barrier = threading.Barrier(count)
    results, errors = [], []

    def work(i):
        try:
            barrier.wait()
            results.append(target(i))
        except Exception as exc:  # collected and asserted by the caller
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def post_json(url: str, body: dict, token: str) -> tuple[int, dict]:
    """POST `body` as JSON over real HTTP with `Authorization: Token`; returns (status, decoded body), errors too."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def admin_api(db):
    """An API client of a user in the admin role (every permission of the project's apps)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=make_user('boss', 'admin')).key}")
    return client
