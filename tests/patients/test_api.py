"""The patients API at /api/v1/patients/ and its seed-001 alias /api/patients/."""

import datetime

import pytest
from rest_framework.test import APIClient

from idseq.formats import format_grouped, parse_grouped
from idseq.models import Counter
from patients.models import Patient
from tests.conftest import make_token, make_user, post_json, run_in_threads

SEED_001_BODY = {
    "full_name": "John Doe",
    "father_name": "James Doe",
    "dob": "1990-01-01",
    "sex": "M",
    "phone": "03001234567",
    "cnic": "12345-1234567-1",
    "address": "123 Main St",
}


@pytest.mark.parametrize("url", ["/api/v1/patients/", "/api/patients/"])
def test_registering_with_a_token_returns_201_and_an_mrn(api, url):
    response = api.post(url, SEED_001_BODY, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mrn"] == "001-00-001"
    assert body["id"] == Patient.objects.get(mrn="001-00-001").pk
    assert body["full_name"] == "John Doe" and body["cnic"] == "12345-1234567-1"


@pytest.mark.parametrize("url", ["/api/v1/patients/", "/api/patients/"])
def test_without_credentials_the_api_answers_401(db, url):
    response = APIClient().post(url, SEED_001_BODY, format="json")
    assert response.status_code == 401
    assert APIClient().get(url).status_code == 401
    assert not Patient.objects.exists()


def test_name_is_accepted_as_an_alias_of_full_name(api):
    response = api.post("/api/v1/patients/", {"name": "Jane Doe", "phone": "+1234567890"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["full_name"] == "Jane Doe"


def test_a_token_is_obtained_with_username_and_password(reception):
    response = APIClient().post("/api/v1/auth/token/", {"username": "desk1", "password": "pw-desk1"})
    assert response.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.get("/api/v1/patients/").status_code == 200


def test_the_session_cookie_is_accepted_too(reception):
    client = APIClient()
    client.force_login(reception)
    assert client.post("/api/v1/patients/", {"full_name": "Via Session"}, format="json").status_code == 201


def test_a_role_without_permission_gets_403_and_nothing_is_written(db):
    client = APIClient()
    client.force_authenticate(make_user("watcher", "ops"))
    assert client.get("/api/v1/patients/").status_code == 200
    assert client.post("/api/v1/patients/", SEED_001_BODY, format="json").status_code == 403
    client.force_authenticate(make_user("nobody"))
    assert client.get("/api/v1/patients/").status_code == 403
    assert not Patient.objects.exists()


def test_lab_terminals_may_register(db):
    client = APIClient()
    client.force_authenticate(make_user("lab1", "lab_terminal"))
    assert client.post("/api/v1/patients/", SEED_001_BODY, format="json").status_code == 201


FUTURE = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"full_name": None}, "full_name"),
        ({"full_name": ""}, "full_name"),
        ({"full_name": "   "}, "full_name"),
        ({"dob": FUTURE}, "dob"),
        ({"dob": "03/11/1990"}, "dob"),
        ({"sex": "X"}, "sex"),
        ({"cnic": "1234512345671"}, "cnic"),
        ({"phone": "phone me"}, "phone"),
        ({"phone": "12"}, "phone"),
        ({"email": "not-an-email"}, "email"),
        ({"dob": 19900101}, "dob"),
        ({"full_name": {"first": "A"}}, "full_name"),
    ],
)
def test_bad_input_gets_400_per_field_and_takes_no_number(api, change, field):
    api.post("/api/v1/patients/", {"full_name": "First"}, format="json")
    body = {k: v for k, v in {**SEED_001_BODY, **change}.items() if v is not None}
    response = api.post("/api/v1/patients/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Patient.objects.count() == 1
    assert Counter.objects.get(key="mrn").last_value == parse_grouped("001-00-001")


def test_malformed_json_gets_400(api):
    response = api.generic("POST", "/api/v1/patients/", '{"full_name": "Bro', content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()
    assert not Patient.objects.exists()


def test_list_is_paginated_and_detail_answers_by_id(api):
    ids = [api.post("/api/v1/patients/", {"full_name": f"P{i}"}, format="json").json()["id"] for i in range(3)]
    listing = api.get("/api/v1/patients/").json()
    assert listing["count"] == 3 and len(listing["results"]) == 3
    assert api.get(f"/api/v1/patients/{ids[0]}/").json()["full_name"] == "P0"
    assert api.get("/api/v1/patients/999999/").status_code == 404


def test_put_and_patch_change_demographics_but_never_the_mrn(api):
    pid = api.post("/api/v1/patients/", SEED_001_BODY, format="json").json()["id"]
    response = api.put(f"/api/v1/patients/{pid}/", {**SEED_001_BODY, "full_name": "John Q Doe", "mrn": "999-99-999"},
                       format="json")
    assert response.status_code == 200, response.content
    assert response.json()["mrn"] == "001-00-001"
    response = api.patch(f"/api/v1/patients/{pid}/", {"phone": "0321-7654321"}, format="json")
    assert response.json()["phone"] == "0321-7654321"
    assert api.patch(f"/api/v1/patients/{pid}/", {"cnic": "bad"}, format="json").status_code == 400
    assert Patient.objects.get(pk=pid).full_name == "John Q Doe"


def test_delete_deactivates_and_never_frees_the_mrn(api, db):
    admin = APIClient()
    admin.force_authenticate(make_user("boss", "admin", is_staff=True))
    pid = api.post("/api/v1/patients/", SEED_001_BODY, format="json").json()["id"]
    assert api.delete(f"/api/v1/patients/{pid}/").status_code == 403  # reception may not
    assert admin.delete(f"/api/v1/patients/{pid}/").status_code == 204
    patient = Patient.objects.get(pk=pid)
    assert (patient.is_active, patient.mrn) == (False, "001-00-001")
    assert api.post("/api/v1/patients/", {"full_name": "Next"}, format="json").json()["mrn"] == "001-00-002"


@pytest.mark.django_db(transaction=True)
def test_16_concurrent_http_registrations_get_16_distinct_consecutive_mrns(live_server):
    token = make_token(make_user("desk9", "reception"))

    def post(i):
        status, body = post_json(f"{live_server.url}/api/v1/patients/", {"full_name": f"Parallel {i}"}, token)
        assert status == 201
        return body["mrn"]

    mrns, errors = run_in_threads(post, 16)
    assert not errors
    assert sorted(mrns) == [format_grouped(v) for v in range(100_001, 100_017)]
