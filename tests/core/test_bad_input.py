"""Bad input the fuzzer found, each a plain regression test: a clear 4xx with `detail`, never a 500."""

import io
import json

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from django.test import Client

from core.api import exception_handler
from idseq.models import Counter
from patients.models import Patient
from patients.services import register_patient
from queues.models import Queue
from tests.conftest import make_user
from tokens import services as token_services

STEPS = ["start", "complete", "no-show", "recall", "cancel", "transfer"]


@pytest.mark.parametrize("step", STEPS)
def test_a_non_numeric_visit_id_is_404_on_every_step(admin_api, step):
    response = admin_api.post(f"/api/v1/visits/abc/{step}/", {"queue": "GEN"}, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_non_numeric_desk_id_is_404_on_call_next(admin_api):
    assert admin_api.post("/api/v1/desks/abc/call-next/").status_code == 404


def test_a_json_list_as_the_body_of_patch_doctor_is_400(admin_api):
    doctor = token_services.create_doctor(name="Dr. A")
    response = admin_api.patch(f"/api/v1/doctors/{doctor.pk}/", [1, 2], format="json")
    assert response.status_code == 400
    doctor.refresh_from_db()
    assert doctor.name == "Dr. A"


def test_a_partial_doctor_change_keeps_the_other_fields(admin_api):
    doctor = token_services.create_doctor(name="Dr. A", specialization="ENT")
    response = admin_api.patch(f"/api/v1/doctors/{doctor.pk}/", {"name": "Dr. B"}, format="json")
    assert response.status_code == 200
    assert response.json()["specialization"] == "ENT"


@pytest.mark.parametrize("body", [{"default_service_minutes": 0}, {"code": "lab"}])
def test_a_queue_the_database_would_refuse_is_400(admin_api, body):
    response = admin_api.post("/api/v1/queues/", {"name": "Lab", "code": "LAB", **body}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == set(body)
    assert not Queue.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/reports/daily/?date=9999-12-31",
        "/api/v1/slots/?date=9999-12-31",
        "/api/v1/tokens/?date=9999-12-31",
        "/api/v1/patients/?registered_to=9999-12-31",
        "/api/v1/patients/?registered_from=0001-01-01",
        "/api/v1/visits/?date=9999-12-31",
        "/api/v1/sequences/mrn/issued/?date_to=9999-12-31",
    ],
)
def test_a_day_out_of_range_is_400_on_the_api(admin_api, url):
    response = admin_api.get(url)
    assert response.status_code == 400
    assert "2999-12-31" in json.dumps(response.json())


@pytest.mark.parametrize("url", ["/opd/report/?date=9999-12-31", "/opd/report.csv?date=9999-12-31",
                                 "/opd/book/?day=9999-12-31"])
def test_a_day_out_of_range_on_the_report_and_booking_pages_is_no_500(db, url):
    client = Client()
    client.force_login(make_user("boss", "admin"))
    assert client.get(url).status_code < 500


def test_a_nul_character_in_a_queue_reference_is_404(admin_api):
    patient = register_patient(full_name="A")
    response = admin_api.post("/api/v1/visits/", {"patient": patient.pk, "queue": "G\x00EN"}, format="json")
    assert response.status_code == 404


def test_a_deeply_nested_body_is_400_even_unauthenticated_on_the_token_endpoint(db):
    body = "[" * 100_000 + "]" * 100_000
    response = Client().post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


def test_malformed_json_is_400(admin_api):
    response = admin_api.generic("POST", "/api/v1/patients/", '{"full_name": ', content_type="application/json")
    assert response.status_code == 400


def test_a_10_mb_body_is_refused_with_413_before_it_is_parsed(admin_api):
    body = json.dumps({"full_name": "x" * (10 * 1024 * 1024)})
    response = admin_api.generic("POST", "/api/v1/patients/", body, content_type="application/json")
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def chunked_post(client, path: str, body: bytes):
    """POST `body` as gunicorn hands a chunked request to Django: Transfer-Encoding, no Content-Length, the decoded
    body in an input the server ends (`wsgi.input_terminated`)."""
    stream = io.BytesIO(body)
    response = client.generic("POST", path, "", content_type="application/json", HTTP_TRANSFER_ENCODING="chunked",
                              **{"wsgi.input": stream, "wsgi.input_terminated": True})
    return response, stream.tell()


def test_a_chunked_body_over_the_limit_is_refused_with_413_after_reading_one_byte_past_it(admin_api, settings):
    body = json.dumps({"full_name": "x" * (10 * 1024 * 1024)}).encode()
    response, read = chunked_post(admin_api, "/api/v1/patients/", body)
    assert response.status_code == 413
    assert response.json()["detail"] == f"The body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes."
    assert read == settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    assert not Patient.objects.exists()


def test_a_chunked_body_within_the_limit_is_read_as_the_body(admin_api):
    response, _ = chunked_post(admin_api, "/api/v1/patients/", json.dumps({"full_name": "Chunked Khan"}).encode())
    assert response.status_code == 201, response.content
    assert response.json()["full_name"] == "Chunked Khan"


def test_a_counter_behind_its_ledger_is_503_naming_the_sequence_and_idseq_repair(admin_api):
    assert admin_api.post("/api/v1/patients/", {"full_name": "A"}, format="json").status_code == 201
    Counter.objects.filter(key="mrn").update(last_value=F("last_value") - 1)  # moved back, as by a restored backup
    response = admin_api.post("/api/v1/patients/", {"full_name": "B"}, format="json")
    assert response.status_code == 503
    assert "'mrn'" in response.json()["detail"] and "idseq_repair" in response.json()["detail"]
    assert Patient.objects.count() == 1


def test_a_row_refused_by_a_database_rule_is_409_naming_the_rule(db):
    try:
        with transaction.atomic():
            Queue.objects.create(name="Lab", code="lab")  # behind the serializer's back: only the database checks
    except IntegrityError as exc:
        response = exception_handler(exc, {})
    assert response.status_code == 409
    assert "queues_queue_code_format" in response.data["detail"]
    assert "violates" not in response.data["detail"]  # the driver's text stays in the log
