"""Shared fixtures: users in each role and API clients authenticated with their tokens."""

import contextlib
import json
import threading
import urllib.error
import urllib.parse
import urllib.request

import psycopg
import pytest
from django.contrib.auth.models import Group, User
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
    """POST `body` as JSON over real HTTP with `Authorization: Token`; returns (status, decoded body), errors too.

    Raises OSError when no HTTP answer comes back (refused, reset)."""
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
        content = exc.read()
        try:
            return exc.code, json.loads(content)
        except ValueError:  # not our API's JSON, e.g. gunicorn's own error page
            return exc.code, {"detail": content.decode(errors="replace")}


def raw_connection(**kwargs) -> psycopg.Connection:
    """A psycopg connection of its own to the test database, outside Django (like a psql session)."""
    params = connection.get_connection_params()
    wanted = ("dbname", "user", "password", "host", "port")
    return psycopg.connect(**{key: params[key] for key in wanted if params.get(key)}, **kwargs)


def database_url() -> str:
    """The test database as a DATABASE_URL for subprocesses (TCP, or the embedded server's Unix socket directory)."""
    params = connection.get_connection_params()
    user = urllib.parse.quote(params.get("user") or "", safe="")
    password = f":{urllib.parse.quote(params['password'], safe='')}" if params.get("password") else ""
    host = params.get("host") or ""
    if host.startswith("/"):
        return f"postgres://{user}{password}@/{params['dbname']}?host={host}"
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgres://{user}{password}@{host}{port}/{params['dbname']}"


def over_tcp() -> bool:
    """Whether the test database is reached over TCP (not a Unix socket): then backends have client ports."""
    return not (connection.get_connection_params().get("host") or "/").startswith("/")


@contextlib.contextmanager
def hold_row(table: str, column: str, value, *, at_most: float = 6.0):
    """A second session (as psql would) holding a row locked for the block, and `at_most` seconds: without a lock
    timeout the request under test would otherwise wait for ever instead of failing the test."""
    holder = raw_connection()
    holder.execute(f"SELECT 1 FROM {table} WHERE {column} = %s FOR UPDATE", [value])
    release = threading.Timer(at_most, holder.rollback)
    release.start()
    try:
        yield
    finally:
        release.cancel()
        holder.rollback()
        holder.close()
