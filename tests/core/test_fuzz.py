"""Schema-driven fuzzing (schemathesis): every operation of /api/schema/, called in process through WSGI as an admin,
answers no 5xx and only what the schema documents (status, content type, body)."""

import datetime

import pytest
import schemathesis
from django.contrib.auth.models import Group, User
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from patients.services import register_patient
from queues import services as queue_services
from queues.models import Desk, Queue
from tests.conftest import make_token
from tokens import services as token_services

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def admin_token(db):
    """A token of an admin; requests keep the test's connection (as django.test.Client does), so its transaction
    holds what they write and is rolled back after the test."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    user = User.objects.create_user("fuzz-admin", password="pw")
    user.groups.add(Group.objects.get(name="admin"))
    _some_of_everything(user)
    yield make_token(user)
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


def _some_of_everything(user):
    """A patient, a queue with a desk and a visit, a doctor with a slot and a token: list and detail answers then
    carry real rows, so their bodies are checked against the schema too (nullable fields included)."""
    patient = register_patient(full_name="Fuzz Patient", created_by=user)
    queue = Queue.objects.create(name="General", code="GEN")
    Desk.objects.create(name="Desk 1").queues.set([queue])
    queue_services.issue_visit(patient=patient, queue=queue, issued_by=user)
    start = timezone.now() + datetime.timedelta(days=1)
    doctor = token_services.create_doctor(name="Dr. Fuzz")
    slot = token_services.create_slot(
        doctor=doctor, start_time=start, end_time=start + datetime.timedelta(hours=1), max_capacity=1
    )
    token_services.book_token(slot_id=slot.pk, patient=patient, category="WALKIN")


@pytest.fixture
def app(admin_token):
    """The project as a WSGI app, built after the test settings apply (plain HTTP, memory throttle cache)."""
    return WSGIHandler()


# 10 examples per operation keep the whole run near a minute of CPU (66 operations); the suite stays bounded.
@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case, app, admin_token):
    case.call_and_validate(app=app, headers={"Authorization": f"Token {admin_token}"}, checks=CHECKS)
