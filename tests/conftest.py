"""Shared fixtures: users in each role and API clients authenticated with their tokens."""

import contextlib
import json
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
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


CHROMIUM = "/usr/bin/chromium"  # Debian's chromium; Playwright downloads no browser
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


@contextlib.contextmanager
def browser_context(live_server, user=None, **options):
    """A Playwright browser context (Debian's chromium) on `live_server`, logged in as `user` when given.

    Every request to a host other than 127.0.0.1/localhost is aborted and recorded in `context.blocked` (a list of
    URLs), so a page that needs the internet fails its test: the hospital LAN may have none. `options` go to
    `browser.new_context` (e.g. `viewport`). Open it after the test's database work: while Playwright's event loop
    runs, the ORM would give this thread a second connection that outlives the test.
    """
    from playwright.sync_api import sync_playwright

    session = None
    if user is not None:
        client = Client()
        client.force_login(user)
        session = client.cookies["sessionid"].value
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=live_server.url, **options)
            context.set_default_timeout(5_000)
            context.blocked = []

            def local_only(route):
                if urllib.parse.urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
                    route.continue_()
                else:
                    context.blocked.append(route.request.url)
                    route.abort()

            context.route("**/*", local_only)
            if session:
                context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
            yield context
        finally:
            browser.close()


def press_shortcut(page, key: str) -> None:
    """Press a desk shortcut (static/js/keys.js) once the page's deferred scripts have run: a key pressed while the
    new page is still loading reaches no listener."""
    page.wait_for_load_state("load")
    page.keyboard.press(key)
