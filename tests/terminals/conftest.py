"""Terminal fixtures: the seed terminals (created by migration) with API keys issued as the admin would."""

import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps
from django.test import Client
from rest_framework.test import APIClient

from django.db.models import F

from idseq.formats import format_grouped
from idseq.models import Reservation
from terminals import services
from terminals.models import LabTerminal, TerminalRange
from tests.conftest import make_user

# Seed 001's offline example, without its CNIC: tests register this many times, and one CNIC is one patient.
PATIENT = {
    "full_name": "Jane Doe",
    "father_name": "John Doe",
    "dob": "1992-05-15",
    "sex": "F",
    "phone": "03009876543",
    "address": "456 Lab St",
}


seed_migration = import_module("terminals.migrations.0002_seed_terminals")
reservation_migration = import_module("terminals.migrations.0005_range_reservations")


def create_seed_terminals() -> None:
    """The four terminals of seed 001's table with their ranges reserved in idseq and nothing handed out, as the
    migrations leave them. They create them, but transactional tests empty every table afterwards."""
    seed_migration.create_terminals(apps, None)
    unreserved = list(TerminalRange.objects.filter(reservation__isnull=True).values_list("pk", flat=True))
    reservation_migration.reserve_ranges(apps, None)
    # 0005 reserved them as handed out whole (the cursor was the range's own then); 0006 put the cursor first.
    Reservation.objects.filter(terminal_range__in=unreserved).update(next_value=F("first_value"))


def hand_out_up_to(current: int, **range_filter) -> None:
    """Make the ranges matching `range_filter` look as if their numbers up to `current` were handed out (seed
    001's `offline_current`): their reservations' cursor moves to `current` + 1."""
    ranges = TerminalRange.objects.filter(**range_filter)
    Reservation.objects.filter(terminal_range__in=ranges).update(next_value=current + 1)


def terminal_client(code: str) -> APIClient:
    """An API client authenticated with terminal `code`'s own key."""
    client = APIClient()
    key = services.issue_terminal_key(terminal=LabTerminal.objects.get(code=code))
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def lab1(seed_terminals) -> APIClient:
    return terminal_client("LAB1-PC")


@pytest.fixture
def lab2(seed_terminals) -> APIClient:
    return terminal_client("LAB2-PC")


def lab1_user():
    return LabTerminal.objects.get(code="LAB1-PC").user


@pytest.fixture(autouse=True)
def device_dir(tmp_path, monkeypatch) -> str:
    """Where terminal clients of a test keep their device identity (never the user's ~/.config)."""
    path = str(tmp_path / "device")
    monkeypatch.setenv("TOKENLINE_DEVICE_DIR", path)
    return path


# --- the terminal's client as a real process -------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


class Terminal:
    """A terminal's client (LAB1-PC unless `code`) run as a process: `run("lease", "5")` returns (exit status,
    stdout, stderr)."""

    def __init__(self, url: str, key: str, outbox: Path, device_dir: Path, code: str = "LAB1-PC"):
        self.url, self.key, self.outbox, self.device_dir, self.code = url, key, outbox, device_dir, code

    def run(self, *args: str) -> tuple[int, str, str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TOKENLINE_URL": self.url, "TOKENLINE_KEY": self.key,
               "TOKENLINE_TERMINAL": self.code, "TOKENLINE_OUTBOX": str(self.outbox),
               "TOKENLINE_DEVICE_DIR": str(self.device_dir)}
        done = subprocess.run([sys.executable, "-m", "terminals.client", *args], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        return done.returncode, done.stdout, done.stderr

    def ok(self, *args: str, status: int = 0) -> str:
        """Run a command that must exit with `status` (0: done; 4: done, but a person must act); its stdout."""
        code, out, err = self.run(*args)
        assert code == status, (args, out, err)
        return out

    def register(self, name: str, *extra: str) -> str:
        return self.ok("register", "--name", name, *extra).strip()


@pytest.fixture
def key(seed_terminals) -> str:
    return services.issue_terminal_key(terminal=LabTerminal.objects.get(code="LAB1-PC"))


@pytest.fixture
def machine_a(live_server, key, tmp_path) -> Terminal:
    return Terminal(live_server.url, key, tmp_path / "a" / "outbox.sqlite3", tmp_path / "a" / "device")


@pytest.fixture
def machine_b(live_server, key, tmp_path) -> Terminal:
    return Terminal(live_server.url, key, tmp_path / "b" / "outbox.sqlite3", tmp_path / "b" / "device")


@pytest.fixture
def admin() -> Client:
    client = Client()
    client.force_login(make_user("ops", "admin", is_staff=True))
    return client


def printed(value: int) -> str:
    """MRN `value` as the client prints it and the server stores it: grouped, as every MRN."""
    return format_grouped(value)


class DropReplies(BaseHTTPRequestHandler):
    """A proxy to the test server that forwards every request, but cuts the connection instead of answering those
    whose path contains `dropping` (the server did the work: only the reply is lost)."""

    upstream = ""
    dropping = ""
    once = False  # drop only the first such reply
    dropped = threading.Event()

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.forward(None)

    def do_POST(self):  # noqa: N802
        self.forward(self.rfile.read(int(self.headers["Content-Length"] or 0)))

    def forward(self, body):
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        request = urllib.request.Request(self.upstream + self.path, data=body, headers=headers, method=self.command)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, answer = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, exc.read()
        if self.dropping and self.dropping in self.path and not (self.once and self.dropped.is_set()):
            self.dropped.set()
            self.close_connection = True
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def proxy(live_server):
    DropReplies.upstream, DropReplies.dropping, DropReplies.once = live_server.url, "", False
    DropReplies.dropped.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), DropReplies)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
