"""Doctors, slots and patients for the OPD token tests."""

import datetime
import itertools

import pytest
from django.test import Client
from django.utils import timezone

from patients.models import Patient
from tokens import services

_mrns = itertools.count(1)


def make_patients(count: int) -> list[Patient]:
    """`count` active patients with made-up MRNs from 900-00-001 up, findable like any MRN (registration itself is
    tested in tests/patients)."""
    numbers = [next(_mrns) for _ in range(count)]
    return Patient.objects.bulk_create(
        Patient(mrn=f"900-{n // 1000:02d}-{n % 1000:03d}", full_name=f"Patient {i}") for i, n in enumerate(numbers)
    )


def at(hour: int, minute: int = 0, days: int = 1) -> datetime.datetime:
    """`hour:minute` in the hospital's zone, `days` from today (tomorrow by default, so slots are bookable)."""
    day = timezone.localdate() + datetime.timedelta(days=days)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def make_slot(doctor, start: datetime.datetime, minutes: int = 60, capacity: int = 15):
    return services.create_slot(
        doctor=doctor, start_time=start, end_time=start + datetime.timedelta(minutes=minutes), max_capacity=capacity
    )


@pytest.fixture
def doctor(db):
    return services.create_doctor(name="Dr. Ayesha Khan", specialization="Cardiology")


@pytest.fixture
def slot(doctor):
    return make_slot(doctor, at(9))


@pytest.fixture
def desk(reception):
    """A test client logged in as reception (the OPD front desk)."""
    client = Client()
    client.force_login(reception)
    return client
