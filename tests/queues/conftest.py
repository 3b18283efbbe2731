"""Fixtures for queue tests: queues like the demo's, desks, patients and a reception user named like seed 000's."""

import pytest

from patients.services import register_patient
from queues.models import Desk, Queue
from tests.conftest import make_user


@pytest.fixture
def general(db):
    return Queue.objects.create(name="General", code="GEN", default_service_minutes=10)


@pytest.fixture
def lab(db):
    return Queue.objects.create(name="Laboratory", code="LAB", default_service_minutes=5)


@pytest.fixture
def asst(db):
    """A reception user called `asst`, the user of seed 000's log line."""
    return make_user("asst", "reception")


def make_desk(name: str, *queues: Queue) -> Desk:
    desk = Desk.objects.create(name=name)
    desk.queues.set(queues)
    return desk


def make_patients(count: int) -> list:
    return [register_patient(full_name=f"Patient {i}") for i in range(count)]
