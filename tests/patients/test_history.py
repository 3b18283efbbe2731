"""Demographic history: who corrected what and when, on the patient page and in the admin."""

from django.test import Client

from patients.history import corrections
from patients.models import Patient
from patients.services import register_patient, update_patient
from tests.conftest import make_user


def test_a_correction_through_the_api_records_who_changed_what(api, reception):
    patient = register_patient(full_name="Ayesha Kahn", phone="0300-1234567")
    response = api.patch(f"/api/v1/patients/{patient.pk}/", {"full_name": "Ayesha Khan"}, format="json")
    assert response.status_code == 200
    (correction,) = corrections(patient)
    assert correction.by == reception
    assert correction.changes == [("Full name", "Ayesha Kahn", "Ayesha Khan")]


def test_the_patient_page_lists_corrections_newest_first(desk, reception):
    patient = register_patient(full_name="Ayesha Kahn")
    update_patient(patient, full_name="Ayesha Khan", changed_by=reception)
    update_patient(patient, phone="0300-1234567", changed_by=reception)
    html = desk.get(f"/patients/{patient.pk}/").content.decode()
    assert html.index("Phone: “” → “0300-1234567”") < html.index("Full name: “Ayesha Kahn” → “Ayesha Khan”")
    assert html.count("<td>desk1</td>") == 2


def test_saving_without_a_change_records_no_correction(db):
    patient = register_patient(full_name="Ayesha Khan")
    update_patient(patient, full_name="Ayesha Khan")
    assert corrections(patient) == [] and patient.history.count() == 2


def test_the_admin_shows_the_history_and_the_mrn_stays(db):
    admin = make_user("boss", "admin", is_staff=True)
    patient = register_patient(full_name="Ayesha Kahn")
    update_patient(patient, full_name="Ayesha Khan", changed_by=admin)
    client = Client()
    client.force_login(admin)
    response = client.get(f"/admin/patients/patient/{patient.pk}/history/")
    assert response.status_code == 200 and "Ayesha Kahn" in response.content.decode()
    assert set(patient.history.values_list("mrn", flat=True)) == {Patient.objects.get().mrn}
