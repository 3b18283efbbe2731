"""Project-wide checks: the API docs render, the system check is clean, imports point only inward, the manual builds
and serves with nothing loaded from outside."""

import ast
import functools
import http.server
import os
import re
import subprocess
import sys
import threading
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

from django.core.management import call_command
from django.test import Client


def test_api_docs_and_schema_render_for_a_logged_in_user(reception):
    client = Client()
    client.force_login(reception)
    assert client.get("/api/docs/").status_code == 200
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/patients/" in schema.content


def test_the_system_check_is_clean(db):
    call_command("check", fail_level="WARNING")


# Which packages of the project each may import: arrows point down or inward, never back up. The kernel (core) is
# floor 0; idseq, the one source of numbers, sits on it; the apps build on patients; config composes them all.
ALLOWED_IMPORTS = {
    "core": set(),
    "idseq": {"core"},
    "patients": {"core", "idseq"},
    "terminals": {"core", "idseq", "patients"},
    "queues": {"core", "idseq", "patients"},
    "tokens": {"core", "idseq", "patients"},
    "monitoring": {"core", "idseq", "patients", "terminals", "queues", "tokens", "notifications", "today"},
    "fhir_api": {"core", "idseq", "patients"},
    "notifications": {"core", "patients"},
    "reminders": {"core", "patients", "queues", "tokens", "notifications"},
    "today": {"core", "patients", "queues", "tokens"},
}
PROJECT_PACKAGES = {*ALLOWED_IMPORTS, "config"}


def imported_packages(path: Path) -> set[str]:
    """The top-level names a module imports (module-level and inside functions alike)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add((node.module or "").split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED_IMPORTS))
def test_each_package_imports_only_the_floors_below_it(package):
    for path in Path(package).rglob("*.py"):
        wrong = (imported_packages(path) & PROJECT_PACKAGES) - ALLOWED_IMPORTS[package] - {package}
        assert not wrong, f"{path} imports {sorted(wrong)}"


BUILTIN_TAG_LIBRARIES = {"static", "i18n", "l10n", "tz", "humanize", "cache"}


@pytest.mark.parametrize("package", sorted(ALLOWED_IMPORTS))
def test_templates_of_an_app_load_only_its_own_or_django_template_tags(package):
    own = {path.stem for path in Path(package).glob("templatetags/*.py")}
    for path in Path("templates", package).rglob("*.html"):
        for libraries in re.findall(r"{%\s*load\s+([^%]+?)\s*%}", path.read_text()):
            wrong = set(libraries.split()) - own - BUILTIN_TAG_LIBRARIES
            assert not wrong, f"{path} loads {sorted(wrong)}"


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built_manual(tmp_path_factory):
    """The manual built by `mkdocs build --strict` (mkdocs.yml, docs/) into a temporary directory: `(result, site)`,
    the finished process and the site's directory. Strict turns every warning (a broken link or anchor, a page
    missing from the nav) into a failed build."""
    site = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    return result, site


def test_the_manual_builds_with_strict_link_checks(built_manual):
    result, site = built_manual
    assert result.returncode == 0, result.stdout + result.stderr
    assert (site / "index.html").is_file()
    assert (site / "numbers" / "guarantees" / "index.html").is_file()


@pytest.fixture
def served_manual(built_manual):
    """The built manual served over HTTP on 127.0.0.1 by Python's http.server in a thread: its base URL."""
    result, site = built_manual
    assert result.returncode == 0, result.stdout + result.stderr
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without printing a line per request."""

    def log_message(self, format, *args):
        pass


def fetch(url: str) -> tuple[int, str]:
    """GET `url`: `(status, body as text)`."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode("utf-8", errors="replace")


def test_the_served_manual_answers_its_home_page_and_a_guide_page(served_manual):
    status, body = fetch(f"{served_manual}/")
    assert status == 200
    assert "python3 bin/dev.py serve" in fetch(f"{served_manual}/getting-started/")[1]
    status, body = fetch(f"{served_manual}/numbers/guarantees/")
    assert status == 200
    assert "What voids them" in body
    assert fetch(f"{served_manual}/screenshots/board.png")[0] == 200


class LoadedResources(HTMLParser):
    """Collects what a browser would load by itself from a page: scripts, stylesheets and icons, images, frames."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "audio", "video") and attrs.get("src"):
            self.urls.append(attrs["src"])
        elif tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def test_the_built_manual_loads_nothing_from_outside(built_manual):
    """A hospital LAN may have no internet: no web fonts, CDN scripts or analytics in any page or stylesheet."""
    _, site = built_manual
    outside = re.compile(r"^(https?:)?//", re.IGNORECASE)
    loaded = []
    for page in site.rglob("*.html"):
        parser = LoadedResources()
        parser.feed(page.read_text())
        loaded += [f"{page.relative_to(site)}: {url}" for url in parser.urls if outside.match(url)]
    for stylesheet in site.rglob("*.css"):
        text = stylesheet.read_text()
        loaded += [f"{stylesheet.relative_to(site)}: {url}" for url in re.findall(r"url\(\s*['\"]?((?:https?:)?//[^)'\"]+)", text)]
    assert not loaded, loaded


# A reference to the tracker ("issue" or "issues", an optional "#", a number). Which ticket asked for a line belongs
# in the commit message; the code, templates and manual say what and why.
ISSUE_REFERENCE = re.compile(r"(?i)\bissues?\s*#?\d+")


def test_no_tracked_file_names_an_issue_number():
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    found = []
    for name in filter(None, tracked.decode().split("\0")):
        path = ROOT / name
        if not path.is_file():  # deleted in the work tree, or a submodule
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # images, compiled translations
            continue
        found += [f"{name}:{number}: {line.strip()}" for number, line in enumerate(text.splitlines(), 1)
                  if ISSUE_REFERENCE.search(line)]
    assert not found, "say why, not which issue:\n" + "\n".join(found)
