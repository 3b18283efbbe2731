"""An OPD slot's row lock (its token numbers are taken under it) is bounded like a counter's."""

import pytest

from tests.conftest import hold_row
from tests.tokens.conftest import make_patients
from tokens.models import Token


@pytest.mark.django_db(transaction=True)
def test_a_booking_behind_a_held_slot_answers_503_and_takes_nothing(api, slot):
    (patient,) = make_patients(1)
    body = {"slot_id": slot.pk, "patient_id": patient.pk, "category": "ONLINE"}
    with hold_row("tokens_slot", "id", slot.pk):
        response = api.post("/api/v1/tokens/", body, format="json")
    assert response.status_code == 503 and response["Retry-After"] == "2"
    assert "Numbering is busy" in response.json()["detail"]
    assert not Token.objects.exists()
    booked = api.post("/api/v1/tokens/", body, format="json")
    assert booked.status_code == 201 and booked.json()["token_number"] == 1  # the refused booking took no number
