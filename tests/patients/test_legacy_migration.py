"""Migration 0005 (seed 000): old xx-xx-xxx MRNs gain a leading zero, and lose it again going back."""

import pytest
from django.core.management import call_command
from django.db.migrations.exceptions import IrreversibleError

from idseq.models import Counter
from patients.models import Patient
from patients.services import MRN_COUNTER, register_patient
from tests.conftest import migrate

BEFORE = ("patients", "0004_search_history_duplicates")
# Going forward means to every app's latest migration (0005 and those after it): the tests then use today's models.

# stored before -> after the migration
LEGACY_NUMBERS = {
    "01-00-001": "001-00-001",
    "01-23-456": "001-23-456",
    "10-00-000": "010-00-000",
    "42-07-300": "042-07-300",
    "99-99-999": "099-99-999",
}


@pytest.fixture
def at_0004(transactional_db):
    """The database just before the conversion; put back on the latest migration afterwards."""
    apps = migrate(BEFORE)
    yield apps
    migrate()


def add_patients(apps, mrns):
    Patient = apps.get_model("patients", "Patient")
    Patient.objects.bulk_create(Patient(mrn=mrn, full_name=f"Patient {mrn}") for mrn in mrns)


def test_forward_prepends_a_zero_and_moves_the_counter_past_the_highest_number(at_0004):
    add_patients(at_0004, LEGACY_NUMBERS)
    migrate()
    assert sorted(Patient.objects.values_list("mrn", flat=True)) == sorted(LEGACY_NUMBERS.values())
    assert Counter.objects.get(key=MRN_COUNTER).last_value == 9_999_999
    migrate()  # the model registers with today's columns (later migrations add some)
    assert register_patient(full_name="Next").mrn == "100-00-000"


def test_forward_never_moves_the_counter_back(at_0004):
    Counter.objects.create(key=MRN_COUNTER, last_value=20_000_000)
    add_patients(at_0004, ["01-00-001"])
    migrate()
    assert Counter.objects.get(key=MRN_COUNTER).last_value == 20_000_000


def test_backward_strips_the_zero_again(at_0004):
    add_patients(at_0004, LEGACY_NUMBERS)
    migrate()
    migrate(BEFORE)
    assert sorted(Patient.objects.values_list("mrn", flat=True)) == sorted(LEGACY_NUMBERS)


def test_backward_refuses_while_a_number_is_100_00_000_or_above(at_0004):
    migrate()
    Patient.objects.create(mrn="001-00-001", full_name="Old enough")
    Patient.objects.create(mrn="100-00-000", full_name="Too new")
    with pytest.raises(IrreversibleError, match=r"1 patient\(s\) have numbers from 100-00-000 up .*100-00-000"):
        migrate(BEFORE)
    assert set(Patient.objects.values_list("mrn", flat=True)) == {"001-00-001", "100-00-000"}


def test_the_numbers_passed_are_recorded_so_the_ledger_check_stays_clean(at_0004):
    add_patients(at_0004, LEGACY_NUMBERS)
    migrate()
    call_command("idseq_check")
    migrate()
    assert register_patient(full_name="Next").mrn == "100-00-000"
    call_command("idseq_check")
