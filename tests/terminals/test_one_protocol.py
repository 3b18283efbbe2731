"""The single offline endpoint (`POST /api/v1/patients/` with `"offline": true`) and batch sync are one protocol:
the same device binding, refusals and incidents, and offline records pass the same checks as online ones."""

from datetime import date, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from patients.models import Patient
from terminals.models import OfflineIncident, SkewedRegistration, TerminalLease
from tests.terminals.conftest import printed

DEVICE_A, DEVICE_B = "a" * 32, "b" * 32


def offline(client, device: str, **fields):
    body = {"offline": True, "origin_terminal_code": "LAB1-PC", "full_name": "Jane Doe", **fields}
    return client.post("/api/v1/patients/", body, format="json", HTTP_X_TOKENLINE_DEVICE=device)


@pytest.mark.django_db(transaction=True)
def test_the_single_endpoint_accepts_the_bound_devices_number_and_refuses_another_devices_with_an_incident(
        machine_a, key):
    lab1 = APIClient()
    lab1.credentials(HTTP_AUTHORIZATION=f"Token {key}")  # the key machine A's client uses
    machine_a.outbox.parent.mkdir()
    machine_a.ok("lease", "5")  # the real client: the lease is bound to machine A's identity
    bound = TerminalLease.objects.get().device_id
    answer = offline(lab1, bound, mrn=printed(710000), client_uuid="6f1c1d1e-0000-4000-8000-000000000031")
    assert answer.status_code == 201, answer.json()
    assert answer.json()["mrn"] == printed(710000)

    refused = offline(lab1, DEVICE_B, full_name="Copied Slip", mrn=printed(710001),
                      client_uuid="6f1c1d1e-0000-4000-8000-000000000032")
    assert refused.status_code == 409
    assert "this outbox was copied" in refused.json()["detail"]
    incident = OfflineIncident.objects.get()
    assert refused.json()["incident"] == str(incident.pk)
    assert (incident.kind, incident.mrn, incident.kept, incident.device_id) == (
        "wrong_device", printed(710001), None, DEVICE_B)
    assert incident.refused_details["full_name"] == "Copied Slip"
    assert list(Patient.objects.values_list("mrn", flat=True)) == [printed(710000)]
    # The same refusal through batch sync: the same status and the same incident.
    item = {"full_name": "Copied Slip", "mrn": printed(710001), "client_uuid": "6f1c1d1e-0000-4000-8000-000000000032"}
    batch = lab1.post("/api/v1/terminals/LAB1-PC/sync/", {"registrations": [item]}, format="json",
                      HTTP_X_TOKENLINE_DEVICE=DEVICE_B).json()
    assert (batch["results"][0]["status"], batch["results"][0]["errors"]["incident"]) == (409, str(incident.pk))
    assert OfflineIncident.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_number_of_another_devices_lease_already_synced_keeps_its_record_and_opens_an_incident(lab1):
    lab1.post("/api/v1/terminals/LAB1-PC/leases/", {"count": 2}, format="json", HTTP_X_TOKENLINE_DEVICE=DEVICE_A)
    assert offline(lab1, DEVICE_A, mrn="710000", client_uuid="6f1c1d1e-0000-4000-8000-000000000041").status_code == 201
    refused = offline(lab1, DEVICE_B, full_name="Other", mrn="710000",
                      client_uuid="6f1c1d1e-0000-4000-8000-000000000042")
    assert refused.status_code == 409
    incident = OfflineIncident.objects.get()
    assert (incident.kind, incident.kept.full_name) == ("wrong_device", "Jane Doe")


@pytest.mark.django_db(transaction=True)
def test_a_date_of_birth_before_1900_is_refused_offline_as_online(lab1):
    lab1.post("/api/v1/terminals/LAB1-PC/leases/", {"count": 2}, format="json", HTTP_X_TOKENLINE_DEVICE=DEVICE_A)
    single = offline(lab1, DEVICE_A, dob="1850-01-01", mrn="710000",
                     client_uuid="6f1c1d1e-0000-4000-8000-000000000051")
    assert single.status_code == 400
    assert single.json()["dob"] == ["Date of birth cannot be before 1900-01-01."]
    item = {"full_name": "Old", "dob": "1850-01-01", "mrn": "710001",
            "client_uuid": "6f1c1d1e-0000-4000-8000-000000000052"}
    batch = lab1.post("/api/v1/terminals/LAB1-PC/sync/", {"registrations": [item]}, format="json",
                      HTTP_X_TOKENLINE_DEVICE=DEVICE_A).json()
    assert batch["results"][0]["errors"] == {"dob": ["Date of birth cannot be before 1900-01-01."]}
    assert not Patient.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_clock_a_year_ahead_is_stored_with_the_servers_time_flagged_and_cannot_admit_a_future_birth(lab1):
    lab1.post("/api/v1/terminals/LAB1-PC/leases/", {"count": 3}, format="json", HTTP_X_TOKENLINE_DEVICE=DEVICE_A)
    year_ahead = timezone.now() + timedelta(days=365)
    future_birth = (timezone.localdate() + timedelta(days=200)).isoformat()
    items = [
        {"full_name": "Ahead", "mrn": "710000", "client_uuid": "6f1c1d1e-0000-4000-8000-000000000061",
         "registered_at": year_ahead.isoformat()},
        {"full_name": "Unborn", "dob": future_birth, "mrn": "710001",
         "client_uuid": "6f1c1d1e-0000-4000-8000-000000000062", "registered_at": year_ahead.isoformat()},
        {"full_name": "Slightly ahead", "mrn": "710002", "client_uuid": "6f1c1d1e-0000-4000-8000-000000000063",
         "registered_at": (timezone.now() + timedelta(minutes=5)).isoformat()},
    ]
    answer = lab1.post("/api/v1/terminals/LAB1-PC/sync/", {"registrations": items}, format="json",
                       HTTP_X_TOKENLINE_DEVICE=DEVICE_A).json()
    assert [r["status"] for r in answer["results"]] == [201, 400, 201]
    assert list(answer["results"][1]["errors"]) == ["dob"]
    ahead = Patient.objects.get(full_name="Ahead")
    assert ahead.registered_at <= ahead.synced_at  # never later than its arrival
    flag = SkewedRegistration.objects.get()
    assert (flag.patient, flag.device_id) == (ahead, DEVICE_A)
    assert abs(flag.claimed_registered_at - year_ahead) < timedelta(seconds=1)
    slightly = Patient.objects.get(full_name="Slightly ahead")  # within the allowed skew: the terminal's time
    assert slightly.registered_at > slightly.synced_at


@pytest.mark.django_db(transaction=True)
def test_the_date_of_birth_may_be_the_terminals_registration_day_but_not_after(lab1):
    lab1.post("/api/v1/terminals/LAB1-PC/leases/", {"count": 2}, format="json", HTTP_X_TOKENLINE_DEVICE=DEVICE_A)
    now = timezone.localtime()
    items = [
        {"full_name": "Newborn", "dob": now.date().isoformat(), "registered_at": now.isoformat(),
         "mrn": "710000", "client_uuid": "6f1c1d1e-0000-4000-8000-000000000071"},
        {"full_name": "Too late", "dob": (now.date() + timedelta(days=1)).isoformat(),
         "registered_at": now.isoformat(), "mrn": "710001", "client_uuid": "6f1c1d1e-0000-4000-8000-000000000072"},
    ]
    answer = lab1.post("/api/v1/terminals/LAB1-PC/sync/", {"registrations": items}, format="json",
                       HTTP_X_TOKENLINE_DEVICE=DEVICE_A).json()
    assert [r["status"] for r in answer["results"]] == [201, 400]
    assert answer["results"][1]["errors"]["dob"] == [
        f"Date of birth cannot be after the registration date ({now.date()})."]
    assert Patient.objects.get().dob == date.fromisoformat(items[0]["dob"])
