"""Reception pages: log in, register a patient, see the MRN, find the patient."""

from django.test import Client

from patients.models import Patient
from patients.services import register_patient
from tests.conftest import make_user


def test_pages_ask_anonymous_users_to_log_in(db):
    response = Client().get("/patients/register/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_login_page_logs_a_receptionist_in(reception):
    client = Client()
    response = client.post("/login/", {"username": "desk1", "password": "pw-desk1"}, follow=True)
    assert response.status_code == 200
    assert b"Register patient" in response.content


def test_registering_in_the_form_shows_the_new_mrn_large_with_a_print_button(desk):
    response = desk.post(
        "/patients/register/",
        {"full_name": "Ayesha Khan", "father_name": "Imran Khan", "sex": "F", "dob": "1992-05-15",
         "phone": "0300-1234567", "cnic": "35202-1234567-2"},
        follow=True,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert '<p class="mrn-large" data-testid="mrn">001-00-001</p>' in html
    assert "window.print()" in html
    assert Patient.objects.get().full_name == "Ayesha Khan"


def test_form_errors_show_in_the_form_and_nothing_is_registered(desk):
    response = desk.post("/patients/register/", {"full_name": "", "cnic": "123", "dob": "2999-01-01"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "This field is required." in html
    assert "Enter the CNIC as 12345-1234567-1." in html
    assert "Date of birth cannot be in the future." in html
    assert not Patient.objects.exists()


def test_the_list_finds_patients_by_mrn_name_or_phone(desk):
    register_patient(full_name="Ayesha Khan", phone="0300-1234567")
    register_patient(full_name="Bilal Ahmed", phone="0321-7654321")
    for query, expected in [("001-00-002", "Bilal"), ("ayesha", "Ayesha"), ("7654321", "Bilal")]:
        html = desk.get("/patients/", {"q": query}).content.decode()
        assert expected in html
        assert ("Ayesha" in html) != ("Bilal" in html)


def test_the_patient_page_shows_the_record(desk):
    patient = register_patient(full_name="Ayesha Khan", cnic="35202-1234567-2")
    html = desk.get(f"/patients/{patient.pk}/").content.decode()
    assert "001-00-001" in html and "35202-1234567-2" in html
    assert desk.get("/patients/99999/").status_code == 404


def test_a_user_without_a_role_gets_403(db):
    make_user("visitor")
    client = Client()
    client.login(username="visitor", password="pw-visitor")
    assert client.get("/patients/register/").status_code == 403


def test_only_staff_reach_the_admin(desk, db):
    assert desk.get("/admin/").status_code == 302
    make_user("boss", "admin", is_staff=True)
    client = Client()
    client.login(username="boss", password="pw-boss")
    assert client.get("/admin/patients/patient/").status_code == 200
    assert client.get("/admin/idseq/counter/").status_code == 200


def test_adding_a_patient_in_the_admin_issues_the_next_mrn(db):
    make_user("boss", "admin", is_staff=True)
    client = Client()
    client.login(username="boss", password="pw-boss")
    register_patient(full_name="First")
    response = client.post("/admin/patients/patient/add/", {"full_name": "From Admin", "is_active": "on", "notify_language": "ur"})
    assert response.status_code == 302, response.content
    assert Patient.objects.get(full_name="From Admin").mrn == "001-00-002"
