#!/usr/bin/env python3
"""Set up a development checkout and run it. Needs only Python 3.11+.

    python3 bin/dev.py serve   # venv, packages, migrations, demo data (seed_demo, seed_opd and seed_demo_queues with a morning in progress), then the server on http://127.0.0.1:8000/
    python3 bin/dev.py test    # venv, packages, then the whole test suite (extra arguments go to pytest)

Without DATABASE_URL (environment or .env) both use the embedded PostgreSQL under var/pgdata/.
"""

import hashlib
import os
import secrets
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


def serve() -> None:
    manage = (PYTHON, ROOT / "manage.py")
    run(*manage, "migrate", "--no-input")
    run(*manage, "seed_demo")
    run(*manage, "seed_demo_terminals")
    run(*manage, "seed_opd", "--morning")  # today's bookings, consultations, a waiting list, an emergency
    run(*manage, "seed_demo_queues", "--morning")  # today's visits: served, at the desks, waiting
    # The background worker of the import page (django-tasks' database backend); it stops with the server (Ctrl-C
    # reaches the whole process group).
    subprocess.Popen([str(PYTHON), str(ROOT / "manage.py"), "db_worker"])
    print("\nTokenline is starting at http://127.0.0.1:8000/ (log in with a demo user above; admin at /admin/)\n", flush=True)
    os.execv(PYTHON, [str(PYTHON), str(ROOT / "manage.py"), "runserver", "127.0.0.1:8000"])


def test(args: list[str]) -> None:
    os.execv(PYTHON, [str(PYTHON), "-m", "pytest", *args])


def main() -> None:
    command, *rest = sys.argv[1:] or ["help"]
    if command not in ("serve", "test"):
        sys.exit(__doc__)
    os.chdir(ROOT)
    ensure_env_file()
    ensure_venv()
    serve() if command == "serve" else test(rest)


if __name__ == "__main__":
    main()
