"""A date of birth typed as dd/mm/yyyy, or as an age stored as a date marked estimated."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from patients.dob import DateOfBirth, parse_dob
from patients.models import Patient
from patients.services import register_patient, update_patient

TODAY = datetime.date(2026, 12, 2)


@pytest.mark.parametrize(
    ("typed", "parsed"),
    [
        ("15/06/1991", DateOfBirth(datetime.date(1991, 6, 15), False)),
        ("5.6.1991", DateOfBirth(datetime.date(1991, 6, 5), False)),
        ("1991-06-15", DateOfBirth(datetime.date(1991, 6, 15), False)),
        ("35", DateOfBirth(datetime.date(1991, 12, 2), True)),
        ("35y", DateOfBirth(datetime.date(1991, 12, 2), True)),
        ("35 Years", DateOfBirth(datetime.date(1991, 12, 2), True)),
        ("8m", DateOfBirth(datetime.date(2026, 4, 2), True)),
        ("3w", DateOfBirth(datetime.date(2026, 11, 11), True)),
        ("10d", DateOfBirth(datetime.date(2026, 11, 22), True)),
        ("", None),
    ],
)
def test_the_desk_types_a_date_or_an_age(typed, parsed):
    assert parse_dob(typed, TODAY) == parsed


def test_an_age_in_months_keeps_the_day_or_takes_the_months_last():
    assert parse_dob("1m", datetime.date(2026, 3, 31)) == DateOfBirth(datetime.date(2026, 2, 28), True)
    assert parse_dob("1y", datetime.date(2028, 2, 29)) == DateOfBirth(datetime.date(2027, 2, 28), True)


@pytest.mark.parametrize("typed", ["31/02/1990", "06/15/1991x", "abc", "131", "2000m", "12/1990"])
def test_anything_else_is_refused_with_the_accepted_forms(typed):
    with pytest.raises(ValidationError, match="dd/mm/yyyy"):
        parse_dob(typed, TODAY)


def test_registration_with_an_age_stores_an_estimated_date(desk):
    response = desk.post("/patients/register/", {"full_name": "Bibi Jan", "dob": "70", "sex": "F"})
    assert response.status_code == 302
    patient = Patient.objects.get()
    assert patient.dob_estimated and patient.dob.year in (datetime.date.today().year - 70,)
    assert "estimated" in desk.get(f"/patients/{patient.pk}/").content.decode()
    desk.post(f"/patients/{patient.pk}/correct/", {"full_name": "Bibi Jan", "dob": "01/03/1956", "sex": "F"})
    patient.refresh_from_db()
    assert (patient.dob, patient.dob_estimated) == (datetime.date(1956, 3, 1), False)


def test_a_bad_date_shows_the_error_summary_and_registers_nobody(desk):
    response = desk.post("/patients/register/", {"full_name": "", "dob": "31/02/1990"})
    html = response.content.decode()
    assert response.status_code == 200 and 'data-testid="error-summary"' in html
    assert 'href="#id_full_name"' in html and 'href="#id_dob"' in html
    assert not Patient.objects.exists()


def test_the_api_reads_and_writes_the_estimated_flag(api):
    created = api.post("/api/v1/patients/", {"full_name": "A", "dob": "1990-01-01", "dob_estimated": True}, format="json")
    assert created.status_code == 201 and created.data["dob_estimated"] is True
    cleared = api.patch(f"/api/v1/patients/{created.data['id']}/", {"dob": None}, format="json")
    assert cleared.data["dob"] is None and cleared.data["dob_estimated"] is False  # no date, nothing estimated


def test_without_a_date_of_birth_nothing_is_estimated(db):
    patient = register_patient(full_name="A", dob_estimated=True)
    assert patient.dob_estimated is False
    update_patient(patient, dob=datetime.date(1990, 1, 1), dob_estimated=True)
    assert Patient.objects.get().dob_estimated
