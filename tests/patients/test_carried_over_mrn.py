"""Numbers issued before Tokenline: the API and forms take `xxx-xx-xxx`, refuse old `xx-xx-xxx` numbers naming
what they became (seed 000), and the counter moves past a number carried over."""

import pytest
from django.utils.html import escape
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from patients.models import Patient
from tests.conftest import make_user

OLD_FORMAT_MESSAGE = "01-23-456 uses the old format xx-xx-xxx; this patient's number is 001-23-456"


def test_the_api_refuses_an_old_format_number_naming_the_converted_one(api):
    response = api.post("/api/v1/patients/", {"full_name": "Kashif Ali", "mrn": "01-23-456"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"mrn": [OLD_FORMAT_MESSAGE]}
    assert not Patient.objects.exists()


def test_the_form_refuses_an_old_format_number_naming_the_converted_one(desk):
    response = desk.post("/patients/register/", {"full_name": "Kashif Ali", "mrn": "01-23-456"})
    assert escape(OLD_FORMAT_MESSAGE) in response.content.decode()
    assert not Patient.objects.exists()


@pytest.mark.parametrize("mrn", ["0012-3456", "PAT-1", "001-23-45a"])
def test_the_api_refuses_a_malformed_number(api, mrn):
    response = api.post("/api/v1/patients/", {"full_name": "Kashif Ali", "mrn": mrn}, format="json")
    assert response.status_code == 400 and "xxx-xx-xxx" in response.json()["mrn"][0]


def test_a_carried_over_number_is_kept_and_never_issued_again(api):
    response = api.post("/api/v1/patients/", {"full_name": "Kashif Ali", "mrn": "001-23-456"}, format="json")
    assert response.status_code == 201 and response.json()["mrn"] == "001-23-456"
    assert api.post("/api/v1/patients/", {"full_name": "Next"}, format="json").json()["mrn"] == "001-23-457"


def test_a_carried_over_number_already_registered_is_409(api):
    api.post("/api/v1/patients/", {"full_name": "Kashif Ali", "mrn": "001-23-456"}, format="json")
    response = api.post("/api/v1/patients/", {"full_name": "Other", "mrn": "001-23-456"}, format="json")
    assert response.status_code == 409 and response.json()["mrn"] == "001-23-456"


def test_a_lab_terminal_may_not_choose_a_number(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=make_user('lab1', 'lab_terminal')).key}")
    response = client.post("/api/v1/patients/", {"full_name": "Kashif Ali", "mrn": "001-23-456"}, format="json")
    assert response.status_code == 403 and not Patient.objects.exists()
