"""Who booked, cancelled, marked a no-show or promoted an OPD token, and when: recorded with the change,
shown in the admin."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import make_user
from tests.tokens.conftest import at, make_patients, make_slot
from tokens.models import Token, WaitingListEntry


@pytest.fixture
def desk(db):
    client = APIClient()
    client.force_authenticate(make_user("desk1", "reception"))
    return client


def book(client, slot, patient):
    return client.post("/api/v1/tokens/", {"slot_id": str(slot.pk), "patient_id": patient.pk,
                                           "category": "WALKIN"}, format="json")


def test_booking_cancelling_and_promotion_record_the_users(desk, doctor):
    slot = make_slot(doctor, at(9), capacity=1)
    seated, waiting = make_patients(2)
    token_id = book(desk, slot, seated).json()["id"]
    assert book(desk, slot, waiting).status_code == 202
    assert WaitingListEntry.objects.get().booked_by.username == "desk1"

    other = APIClient()
    other.force_authenticate(make_user("desk2", "reception"))
    response = other.delete(f"/api/v1/tokens/{token_id}/")
    assert response.status_code == 200
    cancelled = Token.objects.get(pk=token_id)
    assert cancelled.booked_by.username == "desk1"
    assert cancelled.ended_by.username == "desk2" and cancelled.ended_at is not None
    promoted = Token.objects.get(pk=response.json()["promoted"]["id"])
    assert promoted.booked_by.username == "desk1"  # who put the patient on the waiting list
    assert promoted.promoted_by.username == "desk2" and promoted.promoted_at is not None


def test_a_no_show_records_who_marked_it_and_the_admin_lists_it(desk, slot):
    (patient,) = make_patients(1)
    token_id = book(desk, slot, patient).json()["id"]
    assert desk.post(f"/api/v1/tokens/{token_id}/no_show/").status_code == 200
    token = Token.objects.get(pk=token_id)
    assert token.status == Token.Status.NO_SHOW and token.ended_by.username == "desk1"
    admin = Client()
    admin.force_login(make_user("boss", "admin", is_staff=True))
    html = admin.get("/admin/tokens/token/").content.decode()
    assert "column-ended_by" in html and "column-booked_by" in html and "desk1" in html
