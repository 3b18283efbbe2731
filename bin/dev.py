#!/usr/bin/env python3
"""Set up a development checkout and run it. Needs only Python 3.11+.

    python3 bin/dev.py serve   # venv, packages, migrations, demo data (a morning in progress), then the server on http://127.0.0.1:8000/
    python3 bin/dev.py serve 127.0.0.1:8080   # the same on another address
    python3 bin/dev.py test    # venv, packages, then the whole test suite (extra arguments go to pytest)

Without DATABASE_URL (environment or .env) both use the embedded PostgreSQL under var/pgdata/; `serve` stops it when
the server stops (Ctrl-C or SIGTERM).
"""

import contextlib
import hashlib
import os
import secrets
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
REQUIREMENTS = ROOT / "requirements.txt"
STAMP = VENV / ".requirements.sha256"


def ensure_venv() -> None:
    """Create .venv and install requirements.txt, again only when the file changed."""
    if sys.version_info < (3, 11):
        sys.exit(f"Tokenline needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        print("Creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != digest:
        print("Installing requirements ...", flush=True)
        run(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", REQUIREMENTS)
        STAMP.write_text(digest)


def ensure_env_file() -> None:
    """Write .env from .env.example with a fresh SECRET_KEY the first time (a development checkout)."""
    env_file = ROOT / ".env"
    if not env_file.exists():
        example = (ROOT / ".env.example").read_text()
        env_file.write_text(example.replace("SECRET_KEY=change-me", f"SECRET_KEY={secrets.token_urlsafe(40)}"))
        print("Wrote .env (DEBUG on, embedded PostgreSQL unless DATABASE_URL is set).", flush=True)


def run(*args) -> None:
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True)


def serve(args: list[str]) -> None:
    """Migrate, seed the demo data, run the development server until Ctrl-C or SIGTERM, then stop the embedded
    PostgreSQL (a no-op with DATABASE_URL)."""
    address = args[0] if args else "127.0.0.1:8000"
    manage = (PYTHON, ROOT / "manage.py")
    run(*manage, "migrate", "--no-input")
    run(*manage, "seed_demo")
    run(*manage, "seed_demo_terminals")
    run(*manage, "seed_opd", "--morning")  # today's bookings, consultations, a waiting list, an emergency
    run(*manage, "seed_demo_queues", "--morning")  # today's visits: served, at the desks, waiting
    print(f"\nTokenline is starting at http://{address}/ (log in with a demo user above; admin at /admin/)\n",
          flush=True)
    # Children, not exec: this process outlives the server to stop the embedded PostgreSQL after it. Each in its own
    # process group, so that SIGTERM reaches runserver's reloader child too (else it would serve on, orphaned).
    # TOKENLINE_PROCESS=web: requests get the statement timeout, as under gunicorn (config/settings.py).
    server = subprocess.Popen([str(PYTHON), str(ROOT / "manage.py"), "runserver", address], cwd=ROOT,
                              env={**os.environ, "TOKENLINE_PROCESS": "web"}, start_new_session=True)
    # The background worker (django-tasks' database backend) of every queue: the import page and notifications.
    worker = subprocess.Popen([str(PYTHON), str(ROOT / "manage.py"), "db_worker", "--queue-name", "*"], cwd=ROOT,
                              start_new_session=True)
    children = (server, worker)

    def stop(*_) -> None:
        # One after the other (worker first): each child's embedded-PostgreSQL client tidies a shared pid file on
        # exit, and two at once race on it.
        for child in reversed(children):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)  # runserver and its reloader child both
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=15)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        server.wait()
    finally:
        stop()
        worker.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)  # anything of the group still there
        subprocess.run([str(PYTHON), "-m", "config.embedded_db", "stop"], cwd=ROOT)


def test(args: list[str]) -> None:
    os.execv(PYTHON, [str(PYTHON), "-m", "pytest", *args])


def main() -> None:
    command, *rest = sys.argv[1:] or ["help"]
    if command not in ("serve", "test"):
        sys.exit(__doc__)
    os.chdir(ROOT)
    ensure_env_file()
    ensure_venv()
    serve(rest) if command == "serve" else test(rest)


if __name__ == "__main__":
    main()
