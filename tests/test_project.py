"""Project-wide checks: the API docs render, the system check is clean, imports point only inward."""

import ast
import re
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
    "monitoring": {"core", "idseq", "patients", "terminals", "queues", "tokens", "notifications"},
    "fhir_api": {"core", "idseq", "patients"},
    "notifications": {"core", "patients"},
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
