"""A terminal's key reaches what a terminal needs and no more: it registers (online and offline), leases
and syncs, and reads the patients it registered, but not the register of everyone else's patients."""

from django.test import Client

from patients.services import register_patient
from tests.terminals.conftest import PATIENT, lab1_user

OFFLINE = {**PATIENT, "offline": True, "origin_terminal_code": "LAB1-PC"}


def test_a_terminal_key_lists_only_the_patients_it_registered(lab1, lab2, api):
    others = register_patient(full_name="Registered At Reception", cnic="11111-1111111-1")
    online = lab1.post("/api/v1/patients/", {"full_name": "Online At Lab 1"}, format="json").json()
    offline = lab1.post("/api/v1/patients/", OFFLINE, format="json").json()
    lab2.post("/api/v1/patients/", {**OFFLINE, "origin_terminal_code": "LAB2-PC"}, format="json")

    listed = lab1.get("/api/v1/patients/").json()["results"]
    assert {row["mrn"] for row in listed} == {online["mrn"], offline["mrn"]}
    assert lab1.get("/api/v1/patients/?cnic=11111-1111111-1").json()["results"] == []
    assert lab1.get(f"/api/v1/patients/{others.pk}/").status_code == 404
    assert lab1.get(f"/api/v1/patients/{others.pk}/slip/").status_code == 404
    assert lab1.get(f"/api/v1/patients/{online['id']}/").status_code == 200
    # Reception still reads the whole register.
    assert api.get("/api/v1/patients/").json()["count"] == 4


def test_a_terminal_user_on_the_pages_sees_only_its_patients(lab1):
    others = register_patient(full_name="Registered At Reception")
    own = lab1.post("/api/v1/patients/", {"full_name": "Own Patient"}, format="json").json()
    client = Client()
    client.force_login(lab1_user())
    page = client.get("/patients/").content.decode()
    assert "Own Patient" in page and "Registered At Reception" not in page
    assert client.get(f"/patients/{others.pk}/").status_code == 404
    assert client.get(f"/patients/{own['id']}/").status_code == 200


def test_a_terminal_registering_a_known_cnic_on_the_page_is_not_shown_whose_it_is(lab1):
    register_patient(full_name="Registered At Reception", cnic="11111-1111111-1")
    client = Client()
    client.force_login(lab1_user())
    page = client.post("/patients/register/", {"full_name": "Someone", "cnic": "11111-1111111-1"})
    assert page.status_code == 200
    assert "already registered" in page.content.decode()
    assert "Registered At Reception" not in page.content.decode()
