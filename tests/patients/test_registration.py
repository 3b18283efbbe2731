"""register_patient: MRNs are unique, consecutive and never lost, however many desks register at once."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from idseq.exceptions import SequenceExhausted
from idseq.formats import GROUPED_LAST, format_grouped, parse_grouped
from idseq.models import Counter
from patients import services
from patients.models import Patient
from tests.conftest import run_in_threads


def mrn_counter() -> int | None:
    counter = Counter.objects.filter(key=services.MRN_COUNTER).first()
    return counter and counter.last_value


@pytest.mark.django_db
def test_the_first_patient_gets_001_00_001_and_the_next_001_00_002():
    assert services.register_patient(full_name="Ayesha Khan").mrn == "001-00-001"
    assert services.register_patient(full_name="Bilal Ahmed").mrn == "001-00-002"


@pytest.mark.django_db(transaction=True)
def test_32_threads_registering_10_each_get_320_distinct_consecutive_mrns(settings):
    # What is tested is unique and consecutive numbers; on a loaded machine (the suite's files side by side) 32 desks
    # can wait longer than the 2 s a desk waits before 503, which tests/core/test_bounded_waits.py tests on its own.
    settings.TOKENLINE_LOCK_TIMEOUT = 20
    first = parse_grouped(services.register_patient(full_name="Warm Up").mrn) + 1

    def register_ten(i):
        return [services.register_patient(full_name=f"Desk {i} patient {n}").mrn for n in range(10)]

    batches, errors = run_in_threads(register_ten, 32)
    assert not errors
    mrns = [mrn for batch in batches for mrn in batch]
    assert sorted(mrns) == [format_grouped(v) for v in range(first, first + 320)]
    assert Patient.objects.count() == 321


@pytest.mark.django_db
def test_a_registration_that_fails_after_allocation_leaves_the_counter_where_it_was(monkeypatch):
    services.register_patient(full_name="Before")
    before = mrn_counter()

    def broken_save(self, *args, **kwargs):
        raise IntegrityError("disk full")

    monkeypatch.setattr(Patient, "save", broken_save)
    with pytest.raises(IntegrityError):
        services.register_patient(full_name="Lost?")
    monkeypatch.undo()
    assert mrn_counter() == before
    assert services.register_patient(full_name="After").mrn == format_grouped(before + 1)


@pytest.mark.django_db
def test_invalid_demographics_take_no_number():
    services.register_patient(full_name="Before")
    before = mrn_counter()
    tomorrow = datetime.date.today() + datetime.timedelta(days=2)
    for bad in ({"full_name": ""}, {"full_name": "X", "dob": tomorrow}, {"full_name": "X", "cnic": "1234"},
                {"full_name": "X", "sex": "Q"}, {"full_name": "X", "phone": "call me"}):
        with pytest.raises(ValidationError):
            services.register_patient(**bad)
    assert mrn_counter() == before
    assert Patient.objects.count() == 1


@pytest.mark.django_db
def test_when_the_format_is_exhausted_registration_raises_and_writes_nothing():
    services.register_patient(full_name="Last but one")
    Counter.objects.filter(key=services.MRN_COUNTER).update(last_value=GROUPED_LAST)
    with pytest.raises(SequenceExhausted):
        services.register_patient(full_name="One too many")
    assert mrn_counter() == GROUPED_LAST
    assert Patient.objects.count() == 1


@pytest.mark.django_db
def test_deactivating_keeps_the_mrn_and_the_next_patient_gets_a_new_one():
    patient = services.register_patient(full_name="Leaving")
    services.deactivate_patient(patient)
    patient.refresh_from_db()
    assert (patient.is_active, patient.mrn) == (False, "001-00-001")
    assert services.register_patient(full_name="Next").mrn == "001-00-002"


@pytest.mark.django_db
def test_corrections_cannot_touch_the_mrn():
    patient = services.register_patient(full_name="Typo Nmae")
    services.update_patient(patient, full_name="Typo Name")
    with pytest.raises(ValueError):
        services.update_patient(patient, mrn="999-99-999")
    patient.refresh_from_db()
    assert (patient.full_name, patient.mrn) == ("Typo Name", "001-00-001")
