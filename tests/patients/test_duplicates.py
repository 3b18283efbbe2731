"""The CNIC duplicate guard: a partial unique index, answered with 409 naming the existing MRN."""

import datetime

import pytest
from django.db import IntegrityError

from idseq.models import Counter
from patients.exceptions import DuplicatePatient
from patients.models import Patient
from patients.services import MRN_COUNTER, register_patient, update_patient
from tests.conftest import make_token, make_user, post_json, run_in_threads

CNIC = "12345-1234567-1"


def test_a_second_active_patient_with_the_same_cnic_gets_409_naming_the_first(api):
    first = api.post("/api/v1/patients/", {"full_name": "John Doe", "cnic": CNIC}, format="json").json()
    counter = Counter.objects.get(key=MRN_COUNTER).last_value
    response = api.post("/api/v1/patients/", {"full_name": "Johnny Doe", "cnic": CNIC}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"A patient with CNIC {CNIC} is already registered as {first['mrn']}",
        "mrn": first["mrn"],
    }
    assert Patient.objects.count() == 1 and Counter.objects.get(key=MRN_COUNTER).last_value == counter


def test_the_database_refuses_the_duplicate_even_without_the_service(db):
    register_patient(full_name="John Doe", cnic=CNIC)
    with pytest.raises(IntegrityError, match="patients_patient_active_cnic_unique"):
        Patient.objects.create(mrn="900-00-000", full_name="Bypass", cnic=CNIC)


def test_an_inactive_patient_or_a_blank_cnic_does_not_block_a_registration(db):
    gone = register_patient(full_name="John Doe", cnic=CNIC)
    Patient.objects.filter(pk=gone.pk).update(is_active=False)
    assert register_patient(full_name="John Doe", cnic=CNIC).is_active
    register_patient(full_name="No Card")
    register_patient(full_name="No Card Either")


def test_correcting_a_cnic_to_another_patients_is_refused(db):
    first = register_patient(full_name="John Doe", cnic=CNIC)
    second = register_patient(full_name="Jane Doe")
    with pytest.raises(DuplicatePatient) as refused:
        update_patient(second, cnic=CNIC)
    assert refused.value.mrn == first.mrn
    assert Patient.objects.get(pk=second.pk).cnic == ""


@pytest.mark.django_db(transaction=True)
def test_16_desks_registering_the_same_cnic_at_once_get_one_201_and_fifteen_409s(live_server):
    token = make_token(make_user("desk9", "reception"))

    def post(i):
        return post_json(f"{live_server.url}/api/v1/patients/", {"full_name": f"Same Person {i}", "cnic": CNIC}, token)

    answers, errors = run_in_threads(post, 16)
    assert not errors
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * 15
    (created,) = [body for status, body in answers if status == 201]
    assert all(body["mrn"] == created["mrn"] for status, body in answers if status == 409)
    assert Patient.objects.count() == 1
    # The refused registrations returned their numbers: the next one follows the only patient.
    assert Counter.objects.get(key=MRN_COUNTER).last_value == 100_001


def test_the_form_shows_the_already_registered_patient_as_a_link(desk):
    first = register_patient(full_name="John Doe", cnic=CNIC)
    response = desk.post("/patients/register/", {"full_name": "John Doe", "cnic": CNIC})
    html = response.content.decode()
    assert response.status_code == 200 and Patient.objects.count() == 1
    assert f"already registered as {first.mrn}" in html
    assert f'<a href="/patients/{first.pk}/">{first.mrn} John Doe</a>' in html


def test_a_namesake_without_cnic_needs_a_confirmation_then_registers(desk):
    first = register_patient(full_name="Ali Raza", father_name="Raza Khan", dob=datetime.date(1990, 1, 1))
    body = {"full_name": "ali raza", "father_name": "RAZA KHAN", "dob": "1990-01-01"}
    html = desk.post("/patients/register/", body).content.decode()
    assert Patient.objects.count() == 1
    assert "tick the box if this is someone else" in html and f"{first.mrn} Ali Raza" in html
    response = desk.post("/patients/register/", {**body, "confirm_duplicate": "on"})
    assert response.status_code == 302 and Patient.objects.count() == 2


def test_the_api_registers_a_namesake_without_asking(api):
    body = {"full_name": "Ali Raza", "father_name": "Raza Khan", "dob": "1990-01-01"}
    assert api.post("/api/v1/patients/", body, format="json").status_code == 201
    assert api.post("/api/v1/patients/", body, format="json").status_code == 201
