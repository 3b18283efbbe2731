"""Terminal fixtures: the seed terminals (created by migration) with API keys issued as the admin would."""

from importlib import import_module

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from terminals import services
from terminals.models import LabTerminal

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


@pytest.fixture
def seed_terminals(db) -> None:
    """The four terminals of seed 001's table. The migration creates them, but transactional tests empty every
    table afterwards, so each test that needs them makes sure they are there."""
    seed_migration.create_terminals(apps, None)
    reservation_migration.reserve_ranges(apps, None)


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
