"""POST /api/v1/patients/ with an Idempotency-Key: a retried registration returns the first patient."""

import pytest

from idseq.models import IssuedNumber
from patients import services
from patients.models import Patient
from tests.conftest import run_in_threads

BODY = {"full_name": "John Doe", "phone": "03001234567"}


def test_a_retry_with_the_same_key_returns_the_same_patient_and_mrn(api):
    first = api.post("/api/v1/patients/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="reg-1")
    again = api.post("/api/v1/patients/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="reg-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert first.json()["mrn"] == "001-00-001"
    assert Patient.objects.count() == 1
    other = api.post("/api/v1/patients/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="reg-2")
    assert other.json()["mrn"] == "001-00-002"


def test_the_same_key_with_a_different_body_gets_422_and_registers_nobody(api):
    api.post("/api/v1/patients/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="reg-1")
    response = api.post("/api/v1/patients/", {**BODY, "full_name": "Jane Doe"}, format="json",
                        HTTP_IDEMPOTENCY_KEY="reg-1")
    assert response.status_code == 422 and "Idempotency-Key" in response.json()["detail"]
    assert list(Patient.objects.values_list("full_name", flat=True)) == ["John Doe"]
    assert IssuedNumber.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_16_copies_of_one_registration_at_once_register_one_patient():
    def register(i):
        return services.register_patient(full_name="Same Person", idempotency_key="k", fingerprint="f").mrn

    mrns, errors = run_in_threads(register, 16)
    assert not errors
    assert mrns == ["001-00-001"] * 16
    assert Patient.objects.count() == 1
