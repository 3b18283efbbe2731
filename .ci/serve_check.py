#!/usr/bin/env python3
"""README's first command, as a newcomer runs it: `python3 bin/dev.py serve` with no DATABASE_URL (the embedded
PostgreSQL), checked end to end. Standard library only: it runs before and outside the project's virtualenv.

    python3 .ci/serve_check.py [--port 8765] [--timeout 600]

Starts the server, waits for `/health/` to answer 200, opens the login page, takes an API token for the demo
reception user and registers one patient through `POST /api/v1/patients/`, then sends SIGTERM and checks that the
server exits and the embedded PostgreSQL under var/pgdata/ is stopped. Prints each step with its time; exits 1 on the
first failure, with the server's output.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PGDATA = ROOT / "var" / "pgdata"
STOP_SECONDS = 15  # bin/dev.py kills what is left 4 s after SIGTERM, then stops the embedded PostgreSQL


def request(url: str, body: dict | None = None, token: str = "") -> tuple[int, bytes]:
    """(status, body) of a GET, or of a JSON POST when `body` is given; (0, reason) when nothing answers."""
    headers = {"Content-Type": "application/json", **({"Authorization": f"Token {token}"} if token else {})}
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError as exc:
        return 0, str(exc).encode()


def embedded_server_running() -> bool:
    """Whether var/pgdata/postmaster.pid names a live process (the embedded PostgreSQL runs)."""
    try:
        pid = int((PGDATA / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except PermissionError:
        return True
    except (OSError, ValueError, IndexError):
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--timeout", type=float, default=600, help="seconds for setup and start (default 600)")
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    log = tempfile.NamedTemporaryFile("w+b", prefix="serve-", suffix=".log", delete=False)
    started = time.monotonic()

    def step(message: str) -> None:
        print(f"serve check [{time.monotonic() - started:6.1f} s] {message}", flush=True)

    def fail(message: str) -> None:
        step(f"FAILED: {message}")
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.seek(0)
        sys.stdout.write(log.read().decode(errors="replace")[-6000:])
        sys.exit(1)

    server = subprocess.Popen([sys.executable, "bin/dev.py", "serve", f"127.0.0.1:{args.port}"], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    step(f"started `python3 bin/dev.py serve 127.0.0.1:{args.port}` without DATABASE_URL (output in {log.name})")
    while (status := request(f"{base}/health/")[0]) != 200:
        if server.poll() is not None:
            fail(f"the server exited with {server.returncode} before /health/ answered")
        if time.monotonic() - started > args.timeout:
            fail(f"/health/ did not answer 200 within {args.timeout:.0f} s (last: {status})")
        time.sleep(1)
    step("/health/ answered 200")
    status, page = request(f"{base}/login/")
    if status != 200 or b'name="password"' not in page:
        fail(f"the login page answered {status} without a password field")
    step("the login page answered 200 with its form")
    status, body = request(f"{base}/api/v1/auth/token/", {"username": "reception", "password": "reception-demo"})
    if status != 200:
        fail(f"the demo reception user got no token: {status} {body[:200]!r}")
    token = json.loads(body)["token"]
    status, body = request(f"{base}/api/v1/patients/", {"full_name": "Serve Check Patient"}, token)
    if status != 201:
        fail(f"registration answered {status} {body[:200]!r}")
    step(f"registered a patient through the API: MRN {json.loads(body)['mrn']}")
    os.kill(server.pid, signal.SIGTERM)  # bin/dev.py itself, as `kill` or a service manager would
    stop_sent = time.monotonic()
    try:
        server.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        fail(f"the server did not exit within {STOP_SECONDS} s of SIGTERM")
    step(f"SIGTERM: the server exited with {server.returncode} after {time.monotonic() - stop_sent:.1f} s")
    if server.returncode != 0:
        fail(f"the server exited with {server.returncode}")
    if embedded_server_running():
        fail("the embedded PostgreSQL still runs after the server stopped")
    step("the embedded PostgreSQL is stopped")


if __name__ == "__main__":
    main()
