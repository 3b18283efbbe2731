"""Numbers issued before Tokenline: the API and forms take `xxx-xx-xxx`, refuse old `xx-xx-xxx` numbers naming
what they became (seed 000); a number carried over never moves the counter: above it, it is a single
reserved value the counter steps over. Only users an admin allowed may carry numbers over."""

import io

import pytest
from django.core.management import call_command
from django.utils.html import escape
from rest_framework.test import APIClient

from idseq.formats import GROUPED_FIRST, format_grouped
from idseq.models import Counter
from patients.models import Patient
from patients.services import register_patient
from tests.conftest import make_token, make_user

OLD_FORMAT_MESSAGE = "01-23-456 uses the old format xx-xx-xxx; this patient's number is 001-23-456"


def test_the_api_refuses_an_old_format_number_naming_the_converted_one(carrier_api):
    response = carrier_api.post("/api/v1/patients/", {"full_name": "Kashif Ali", "mrn": "01-23-456"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"mrn": [OLD_FORMAT_MESSAGE]}
    assert not Patient.objects.exists()


def test_the_form_refuses_an_old_format_number_naming_the_converted_one(carrier_desk):
    response = carrier_desk.post("/patients/register/", {"full_name": "Kashif Ali", "mrn": "01-23-456"})
    assert escape(OLD_FORMAT_MESSAGE) in response.content.decode()
    assert not Patient.objects.exists()


@pytest.mark.parametrize("mrn", ["0012-3456", "PAT-1", "001-23-45a"])
def test_the_api_refuses_a_malformed_number(carrier_api, mrn):
    response = carrier_api.post("/api/v1/patients/", {"full_name": "Kashif Ali", "mrn": mrn}, format="json")
    assert response.status_code == 400 and "xxx-xx-xxx" in response.json()["mrn"][0]


def test_a_carried_over_number_is_kept_and_never_moves_the_counter(carrier_api):
    response = carrier_api.post("/api/v1/patients/", {"full_name": "Kashif Ali", "mrn": "001-23-456"}, format="json")
    assert response.status_code == 201 and response.json()["mrn"] == "001-23-456"
    assert carrier_api.post("/api/v1/patients/", {"full_name": "Next"}, format="json").json()["mrn"] == "001-00-001"
    call_command("idseq_check", stdout=io.StringIO())


def test_a_carried_over_number_already_registered_is_409(carrier_api):
    carrier_api.post("/api/v1/patients/", {"full_name": "Kashif Ali", "mrn": "001-23-456"}, format="json")
    response = carrier_api.post("/api/v1/patients/", {"full_name": "Other", "mrn": "001-23-456"}, format="json")
    assert response.status_code == 409 and response.json()["mrn"] == "001-23-456"


def test_a_carried_over_number_below_the_counter_already_issued_is_409_naming_its_patient(carrier_api):
    first = carrier_api.post("/api/v1/patients/", {"full_name": "First"}, format="json").json()["mrn"]
    response = carrier_api.post("/api/v1/patients/", {"full_name": "Other", "mrn": first}, format="json")
    assert response.status_code == 409 and response.json()["mrn"] == first


def test_a_carried_over_number_in_a_terminals_range_is_409_naming_the_terminal(carrier_api, seed_terminals):
    # Seed 001's LAB1-PC range 710000-719999 is a reservation of the mrn sequence (terminals migration 0003).
    response = carrier_api.post("/api/v1/patients/", {"full_name": "Other", "mrn": "007-10-042"}, format="json")
    assert response.status_code == 409 and "reserved for LAB1-PC" in response.json()["detail"]
    assert response.json()["owner"] == "LAB1-PC" and not Patient.objects.exists()


def test_reception_without_the_permission_gets_403_from_the_api_and_the_page(api, desk):
    response = api.post("/api/v1/patients/", {"full_name": "Kashif Ali", "mrn": "001-23-456"}, format="json")
    assert response.status_code == 403
    assert desk.post("/patients/register/", {"full_name": "Kashif Ali", "mrn": "001-23-456"}).status_code == 403
    assert not Patient.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_after_carrying_over_the_last_but_one_number_a_thousand_registrations_follow_the_counter(carrier):
    """A carried-over number never moves the counter: `999-99-998` carried over stops nothing; the next 1,000 are
    consecutive."""
    register_patient(full_name="Paper card", mrn="999-99-998", created_by=carrier)
    numbers = [register_patient(full_name=f"P{i}", created_by=carrier).mrn for i in range(1000)]
    assert numbers == [format_grouped(value) for value in range(GROUPED_FIRST, GROUPED_FIRST + 1000)]
    call_command("idseq_check", stdout=io.StringIO())
    assert Counter.objects.get(key="mrn").last_value == GROUPED_FIRST + 999


def test_a_lab_terminal_may_not_choose_a_number(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(make_user('lab1', 'lab_terminal'))}")
    response = client.post("/api/v1/patients/", {"full_name": "Kashif Ali", "mrn": "001-23-456"}, format="json")
    assert response.status_code == 403 and not Patient.objects.exists()
