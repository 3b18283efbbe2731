"""Project-wide checks: the API docs render, the system check is clean, idseq stays independent."""

import ast
from pathlib import Path

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


def test_idseq_imports_no_other_app_of_the_project():
    others = {"patients", "terminals", "queues", "tokens", "config"}
    for path in Path("idseq").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not {name.split(".")[0] for name in names} & others, path
