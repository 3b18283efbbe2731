"""Reception corrects a patient's details on a page; the MRN stays and the history shows it.
The page and the admin save through `services.update_patient`, the API's service."""

import os
from unittest import mock

import pytest
from django.test import Client

from patients import services
from patients.history import corrections
from patients.models import Patient
from patients.services import register_patient
from tests.conftest import CHROMIUM, browser_context, make_user


def test_the_correction_page_saves_through_the_service_and_keeps_the_mrn(desk, reception):
    patient = register_patient(full_name="Ayesha Kahn", sex="F")
    with mock.patch.object(services, "update_patient", wraps=services.update_patient) as update:
        response = desk.post(f"/patients/{patient.pk}/correct/", {"full_name": "Ayesha Khan", "sex": "F",
                                                                   "mrn": "999-99-999"})
    assert response.status_code == 302
    update.assert_called_once_with(patient, changed_by=reception, full_name="Ayesha Khan")
    patient.refresh_from_db()
    assert (patient.full_name, patient.mrn) == ("Ayesha Khan", "001-00-001")  # a posted mrn is ignored
    assert corrections(patient)[0].changes == [("Full name", "Ayesha Kahn", "Ayesha Khan")]


def test_a_bad_correction_shows_the_form_again_and_saves_nothing(desk):
    patient = register_patient(full_name="Ayesha Khan", phone="0300-1234567")
    response = desk.post(f"/patients/{patient.pk}/correct/", {"full_name": "", "phone": "12"})
    assert response.status_code == 200
    assert Patient.objects.get().full_name == "Ayesha Khan" and corrections(patient) == []
    assert "This field is required." in response.content.decode()


def test_a_cnic_of_another_patient_is_refused_with_its_mrn(desk):
    register_patient(full_name="First", cnic="12345-1234567-1")
    patient = register_patient(full_name="Second")
    response = desk.post(f"/patients/{patient.pk}/correct/", {"full_name": "Second", "cnic": "12345-1234567-1"})
    assert response.status_code == 200 and "001-00-001" in response.content.decode()
    assert Patient.objects.get(pk=patient.pk).cnic == ""


def test_an_admin_edit_goes_through_the_service_and_records_the_admin(db):
    admin = make_user("boss", "admin", is_staff=True)
    patient = register_patient(full_name="Ayesha Kahn")
    client = Client()
    client.force_login(admin)
    form = {"full_name": "Ayesha Khan", "father_name": "", "dob": "", "sex": "", "phone": "", "cnic": "",
            "email": "", "address": "", "is_active": "on", "origin_terminal": "", "notify_language": "ur"}
    with mock.patch.object(services, "update_patient", wraps=services.update_patient) as update:
        response = client.post(f"/admin/patients/patient/{patient.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert update.called
    assert corrections(patient)[0].by == admin


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")
@pytest.mark.django_db(transaction=True)
def test_reception_corrects_a_name_in_the_browser_and_sees_the_history(live_server):
    user = make_user("clerk", "reception")
    patient = register_patient(full_name="Ayesha Kahn", sex="F")
    with browser_context(live_server, user) as context:
        page = context.new_page()
        page.goto(f"/patients/{patient.pk}/")
        page.click("[data-testid=correct]")
        assert page.text_content("[data-testid=mrn]") == patient.mrn
        assert page.locator("input[name=mrn]").count() == 0  # the MRN is not a field
        page.fill("#id_full_name", "Ayesha Khan")
        page.click("text=Save corrections")
        page.wait_for_url(f"**/patients/{patient.pk}/")
        history = page.text_content("[data-testid=history]")
        heading = page.text_content("h1")
        assert not context.blocked
    assert "Full name: “Ayesha Kahn” → “Ayesha Khan”" in history and "clerk" in history
    assert patient.mrn in heading and "Ayesha Khan" in heading
    assert Patient.objects.get().mrn == patient.mrn
