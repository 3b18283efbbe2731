"""Shared fixtures: users in each role and API clients authenticated with their tokens."""

import json
import threading
import urllib.error
import urllib.request

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


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


@pytest.fixture
def carrier(db):
    """A receptionist an admin allowed to carry over numbers issued before Tokenline (issue #12)."""
    user = make_user("carrier", "reception")
    user.user_permissions.add(Permission.objects.get(codename="carry_over_mrn"))
    return user


@pytest.fixture
def carrier_api(carrier):
    """An API client of `carrier`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=carrier).key}")
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
