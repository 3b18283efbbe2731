"""Idempotency keys belong to the user who sent them: another user's replay of a key is a request of its
own and never returns the first user's patient."""

from rest_framework.test import APIClient

from patients.models import Patient
from tests.conftest import make_user

BODY = {"full_name": "John Doe"}


def test_another_user_replaying_a_key_does_not_get_the_first_users_patient(api):
    first = api.post("/api/v1/patients/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    other = APIClient()
    other.force_authenticate(make_user("desk2", "reception"))
    replay = other.post("/api/v1/patients/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == replay.status_code == 201
    assert replay.json()["mrn"] != first.json()["mrn"]
    assert Patient.objects.count() == 2
    # The first user's own retry still gets their patient back.
    again = api.post("/api/v1/patients/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.json()["id"] == first.json()["id"]
