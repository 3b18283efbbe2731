#!/usr/bin/env python3
"""Set up a development checkout and run it. Needs only Python 3.11+.

    python3 bin/dev.py serve   # venv, runtime packages, migrations, demo data (a morning in progress), then the server on http://127.0.0.1:8000/
    python3 bin/dev.py serve 127.0.0.1:8080   # the same on another address
    python3 bin/dev.py test    # venv, runtime and test packages, then the whole test suite (extra arguments go to pytest)

`serve` installs requirements.txt only; `test` installs requirements-test.txt (which includes it). Without
DATABASE_URL (environment or .env) both use the embedded PostgreSQL under var/pgdata/; `serve` starts it once, hands
its URL to the server and the worker, and stops it when they stop (Ctrl-C or SIGTERM).
"""

import hashlib
import os
import secrets
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
RUNTIME = ROOT / "requirements.txt"
TESTS = ROOT / "requirements-test.txt"
STOP_SECONDS = 4  # after SIGTERM, the server and the worker get this long before SIGKILL


def ensure_venv(requirements: Path) -> None:
    """Create .venv and install `requirements` (with the files it includes), again only when one of them changed.

    A stamp per requirements file in .venv records the digest installed, so `serve` after `test` installs nothing.
    """
    if sys.version_info < (3, 11):
        sys.exit(f"Tokenline needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        print("Creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in (RUNTIME, requirements))).hexdigest()
    stamp = VENV / f".{requirements.name}.sha256"
    if not stamp.exists() or stamp.read_text() != digest:
        print(f"Installing {requirements.name} into .venv (a minute or two the first time) ...", flush=True)
        # pip's own lines ("Collecting ...") are the progress; only the pip-upgrade notice is left out.
        run(PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "on", "-r", requirements)
        stamp.write_text(digest)


def ensure_env_file() -> None:
    """Write .env from .env.example with a fresh SECRET_KEY the first time (a development checkout)."""
    env_file = ROOT / ".env"
    if not env_file.exists():
        example = (ROOT / ".env.example").read_text()
        env_file.write_text(example.replace("SECRET_KEY=change-me", f"SECRET_KEY={secrets.token_urlsafe(40)}"))
        print("Wrote .env (DEBUG on, embedded PostgreSQL unless DATABASE_URL is set).", flush=True)


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=ROOT, check=True, **kwargs)


def database_env() -> dict[str, str]:
    """The environment for the server, the worker and the setup commands: DATABASE_URL of the embedded server,
    started here once (none of them then starts or stops it on its own), unless DATABASE_URL is configured."""
    url = run(PYTHON, "-m", "config.embedded_db", "start", stdout=subprocess.PIPE, text=True).stdout.strip()
    if not url:
        return dict(os.environ)
    print("Database: the embedded PostgreSQL in var/pgdata/ (set DATABASE_URL in .env for another server).",
          flush=True)
    return {**os.environ, "DATABASE_URL": url}


def serve(args: list[str]) -> None:
    """Migrate, seed the demo data, run the development server and the task worker until Ctrl-C or SIGTERM, then
    stop them (SIGTERM, then SIGKILL after STOP_SECONDS) and the embedded PostgreSQL (a no-op with DATABASE_URL)."""
    address = args[0] if args else "127.0.0.1:8000"
    env = database_env()
    try:
        manage = (PYTHON, ROOT / "manage.py")
        run(*manage, "migrate", "--no-input", "-v", "0", env=env)
        run(*manage, "seed_demo", env=env)
        run(*manage, "seed_demo_terminals", env=env)
        run(*manage, "seed_opd", "--morning", env=env)  # today's bookings, consultations, a waiting list
        run(*manage, "seed_demo_queues", "--morning", env=env)  # today's visits: served, at the desks, waiting
        print(f"\nTokenline is starting at http://{address}/ (log in with a demo user above; admin at /admin/)\n",
              flush=True)
        # Each child in its own process group, so that SIGTERM reaches runserver's reloader child too.
        # TOKENLINE_PROCESS=web: requests get the statement timeout, as under gunicorn (config/settings.py).
        server = subprocess.Popen([str(PYTHON), str(ROOT / "manage.py"), "runserver", address], cwd=ROOT,
                                  env={**env, "TOKENLINE_PROCESS": "web"}, start_new_session=True)
        # The background worker (django-tasks' database backend) of every queue: the import page and notifications.
        worker = subprocess.Popen([str(PYTHON), str(ROOT / "manage.py"), "db_worker", "--queue-name", "*",
                                   "--no-reload"], cwd=ROOT, env=env, start_new_session=True)
        children, kill_at = [server, worker], []

        def stop(*_) -> None:
            # Only signals here: waiting for a child inside a signal handler can deadlock on the wait the handler
            # interrupted. The loop below does the waiting.
            if not kill_at:
                kill_at.append(time.monotonic() + STOP_SECONDS)
                print("\nStopping the server and the task worker ...", flush=True)
                for child in children:
                    signal_group(child, signal.SIGTERM)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while any(child.poll() is None for child in children):
            if server.poll() is not None:
                stop()  # the server ended on its own: the worker goes too
            if kill_at and time.monotonic() > kill_at[0]:
                for child in children:
                    signal_group(child, signal.SIGKILL)
            time.sleep(0.1)
        for child in children:
            signal_group(child, signal.SIGKILL)  # anything left in a child's process group
    finally:
        run(PYTHON, "-m", "config.embedded_db", "stop")


def signal_group(child: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(child.pid, signum)
    except ProcessLookupError:
        pass


def test(args: list[str]) -> None:
    os.execv(PYTHON, [str(PYTHON), "-m", "pytest", *args])


def main() -> None:
    command, *rest = sys.argv[1:] or ["help"]
    if command not in ("serve", "test"):
        sys.exit(__doc__)
    os.chdir(ROOT)
    ensure_env_file()
    ensure_venv(RUNTIME if command == "serve" else TESTS)
    serve(rest) if command == "serve" else test(rest)


if __name__ == "__main__":
    main()
