"""Staff listed as a terminal's browser users lease and sync as that terminal through the terminals' own endpoints,
with a session (as the offline page does); nobody else, and no other terminal."""

import uuid

import pytest
from django.test import Client

from patients.models import Patient
from patients.validators import validate_cnic
from terminals import views
from terminals.models import LabTerminal, TerminalLease
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

DEVICE = {"HTTP_X_TOKENLINE_DEVICE": "browser-" + "a" * 32, "HTTP_X_TOKENLINE_EPOCH": ""}


@pytest.fixture
def clerk(seed_terminals):
    return make_user("labdesk", "reception")


def session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_receptionist_not_listed_may_not_lease(clerk):
    answer = session(clerk).post("/api/v1/terminals/LAB1-PC/leases/", {"count": 10},
                                 content_type="application/json", **DEVICE)
    assert answer.status_code == 403
    assert not TerminalLease.objects.exists()


def test_a_listed_receptionist_leases_and_syncs_as_that_terminal_only(clerk):
    LabTerminal.objects.get(code="LAB1-PC").browser_users.add(clerk)
    client = session(clerk)
    answer = client.post("/api/v1/terminals/LAB1-PC/leases/", {"count": 10}, content_type="application/json",
                         **DEVICE)
    assert answer.status_code == 201, answer.json()
    lease = TerminalLease.objects.get()
    assert (lease.terminal.code, lease.device_id, lease.total) == ("LAB1-PC", DEVICE["HTTP_X_TOKENLINE_DEVICE"], 10)
    item = {"full_name": "Jane Doe", "mrn": str(lease.start), "client_uuid": str(uuid.uuid4())}
    synced = client.post("/api/v1/terminals/LAB1-PC/sync/", {"registrations": [item]},
                         content_type="application/json", **DEVICE)
    assert synced.json()["created"] == 1
    assert Patient.objects.get(client_uuid=item["client_uuid"]).origin_terminal.code == "LAB1-PC"
    other = client.post("/api/v1/terminals/LAB2-PC/leases/", {"count": 10}, content_type="application/json",
                        **DEVICE)
    assert other.status_code == 403
    assert TerminalLease.objects.count() == 1


def test_the_page_checks_fields_with_the_models_own_rules():
    rules = views.field_rules()
    assert rules["cnic"]["pattern"] == validate_cnic.regex.pattern
    assert rules["full_name"]["required"] and not rules["father_name"]["required"]
    assert rules["full_name"]["max_length"] == Patient._meta.get_field("full_name").max_length
    assert [value for value, _ in rules["sex"]["choices"]] == list(Patient.Sex.values)
