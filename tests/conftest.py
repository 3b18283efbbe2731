"""Shared fixtures: users in each role and API clients authenticated with their tokens, and a local HTTP receiver
standing in for the outside world (an SMS gateway, a webhook endpoint)."""

import contextlib
import http.client
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psycopg
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from core.database import url as database_url  # noqa: F401  (tests import it from here)

ROOT = Path(__file__).resolve().parent.parent  # the repository


# Debian's chromium, driven by Playwright in the browser tests (no browser download), and its headless flags.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


# The caches as the settings make them (production's: the login throttle in the database, the API's rates in each
# process's memory), before any test changes them.
PRODUCTION_CACHES = django_settings.CACHES


@pytest.fixture
def seed_terminals(db) -> None:
    """The four terminals of seed 001's table with their ranges reserved, as the migrations leave them
    (tests.terminals.conftest.create_seed_terminals): a transactional test that ran before in the same process
    emptied every table, the migrations' rows included."""
    from tests.terminals.conftest import create_seed_terminals

    create_seed_terminals()


def worker_ports(first: int, count: int) -> range:
    """`count` ports from `first` for the servers a test starts, shifted by 1000 per pytest-xdist worker (`gw0`,
    `gw1`, ...): tests running side by side never probe the same ports and then race to bind them."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    return range(first + 1000 * worker, first + 1000 * worker + count)


@pytest.fixture(scope="session", autouse=True)
def _flush_by_delete():
    """Transactional tests are emptied afterwards with DELETE instead of TRUNCATE (same end state, a fraction of the
    time; tests/fast_flush.py says why and when it falls back)."""
    from tests import fast_flush

    with fast_flush.installed():
        yield


@pytest.fixture(autouse=True)
def _test_settings(settings):
    """Tests speak plain HTTP to 127.0.0.1 whatever DEBUG says (no HTTPS redirect or secure-only cookies), and count
    the login throttle in a per-process memory cache too (the API's rates already are, as in production), both
    emptied before each test, so no test is throttled by the requests of another (tests/core/test_security.py tests
    the limits themselves; `production_caches` puts the database cache back)."""
    from django.core.cache import caches

    settings.SECURE_SSL_REDIRECT = settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    settings.CACHES = {**PRODUCTION_CACHES, "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    for cache in caches.all():
        cache.clear()


@pytest.fixture
def production_caches(settings, transactional_db):
    """The caches of config/settings.py (the database cache included), emptied: for tests that count the statements
    a request sends in production."""
    from django.core.cache import caches

    settings.CACHES = PRODUCTION_CACHES
    for cache in caches.all():
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
    return token_client(reception)


def migrate(*targets):
    """Migrate to `targets` ((app, migration) pairs; default: every app's latest); returns the app registry of
    that state (for tests of data migrations)."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    targets = list(targets) or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def make_token(user: User, **options) -> str:
    """A new API key of `user` (as POST /api/v1/auth/token/ gives: knox, only its digest stored); `options` go to
    core.auth.issue_token (`ttl=timedelta(...)`)."""
    from core.auth import issue_token

    return issue_token(user, **options)[1]


def token_client(user: User) -> APIClient:
    """An API client of `user`, authenticated with `Authorization: Token ...` (a new key)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(user)}")
    return client


@pytest.fixture
def carrier(db):
    """A receptionist an admin allowed to carry over numbers issued before Tokenline."""
    user = make_user("carrier", "reception")
    user.user_permissions.add(Permission.objects.get(codename="carry_over_mrn"))
    return user


@pytest.fixture
def carrier_api(carrier):
    """An API client of `carrier`."""
    return token_client(carrier)


@pytest.fixture
def fhir_reader(db) -> APIClient:
    """An API client of a user in the fhir_reader role."""
    return token_client(make_user("his", "fhir_reader"))


class Receiver:
    """An HTTP server on 127.0.0.1 (a free port) that records every request it gets.

    `answers`: the status of each request in turn (e.g. `[500, 500]`), or "hang" to hold the request until the
    receiver is closed; once used up, every request gets 200. `requests`: dicts with method, path, query (dict of
    lists), headers, body (bytes), at (time.monotonic() of arrival), in arrival order. `arrived` is set at each request (clear it to wait again).
    """

    def __init__(self, answers=()):
        self.answers = list(answers)
        self.requests: list[dict] = []
        self.arrived = threading.Event()
        self.released = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                path, _, query = self.path.partition("?")
                with receiver._lock:
                    receiver.requests.append({
                        "method": self.command, "path": path, "query": urllib.parse.parse_qs(query),
                        "headers": dict(self.headers), "body": self.rfile.read(length), "at": time.monotonic(),
                    })
                    answer = receiver.answers.pop(0) if receiver.answers else 200
                receiver.arrived.set()
                if answer == "hang":
                    receiver.released.wait(60)
                    return
                self.send_response(answer)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    """A factory of Receivers (`receiver(answers=[500])`), all closed after the test."""
    made = []

    def make(answers=()):
        made.append(Receiver(answers))
        return made[-1]

    yield make
    for each in made:
        each.close()


def start_worker(*args: str, **settings: str) -> subprocess.Popen:
    """`manage.py db_worker` (django-tasks) in its own process on the test database, for the notifications queue.

    `args` go to the command (e.g. "--batch"); `settings` are environment variables such as NOTIFY_SMS_URL.
    """
    env = {**os.environ, "DATABASE_URL": database_url(), **settings}
    command = [sys.executable, "manage.py", "db_worker", "--queue-name", "notifications", "--interval", "0.05",
               "--no-startup-delay", "--no-reload", *args]
    log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty worker never blocks on a full pipe
    worker = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    worker.log = log
    return worker


def worker_output(worker: subprocess.Popen) -> str:
    """What a worker started by start_worker printed so far."""
    worker.log.seek(0)
    return worker.log.read().decode(errors="replace")


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


@contextlib.contextmanager
def gunicorn_server(args: list[str], env: dict, log, ready):
    """`python -m gunicorn *args` run from the repository root with `env`, its output appended to `log` (a Path);
    yields the process once `ready()` is true (RuntimeError with the log's end after 60 s, or if it exits), and
    terminates it afterwards."""
    with open(log, "ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", *args], cwd=ROOT, env=env, stdout=out,
                                   stderr=out)
    try:
        deadline = time.monotonic() + 60
        while not ready():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def run_for(seconds: float, threads: list[threading.Thread], stop: threading.Event, started: float,
            events=()) -> None:
    """Start `threads` (each loops until `stop` is set), run `events` ((second since `started`, callable)) at their
    time, set `stop` `seconds` after `started` and wait for the threads."""
    for thread in threads:
        thread.start()
    for at, event in sorted(events, key=lambda e: e[0]):
        time.sleep(max(0.0, at - (time.monotonic() - started)))
        event()
    time.sleep(max(0.0, seconds - (time.monotonic() - started)))
    stop.set()
    for thread in threads:
        thread.join()


def post_json(url: str, body: dict, token: str) -> tuple[int, dict]:
    """POST `body` as JSON over real HTTP with `Authorization: Token`; returns (status, decoded body), errors too.

    Raises OSError when no whole HTTP answer comes back (refused, reset, or cut off mid-body by a killed worker)."""
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
    except http.client.HTTPException as exc:  # e.g. IncompleteRead: the worker died while answering
        raise OSError(f"incomplete answer: {exc!r}") from exc


def raw_connection(**kwargs) -> psycopg.Connection:
    """A psycopg connection of its own to the test database, outside Django (like a psql session); `kwargs` go to
    psycopg.connect (`autocommit=True`, or `dbname="postgres"` for the server's maintenance database)."""
    params = connection.get_connection_params()
    wanted = ("dbname", "user", "password", "host", "port")
    return psycopg.connect(**{**{key: params[key] for key in wanted if params.get(key)}, **kwargs})


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


@pytest.fixture
def admin_api(db):
    """An API client of a user in the admin role (every permission of the project's apps)."""
    return token_client(make_user("boss", "admin"))


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
