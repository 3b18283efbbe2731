"""A terminal's row lock (seed-compatible offline numbers) is bounded like a counter's."""

import pytest

from tests.conftest import hold_row
from tests.terminals.conftest import PATIENT

OFFLINE = {**PATIENT, "offline": True, "origin_terminal_code": "LAB1-PC"}


@pytest.mark.django_db(transaction=True)
def test_an_offline_registration_behind_a_held_terminal_row_answers_503(lab1):
    with hold_row("terminals_labterminal", "code", "LAB1-PC"):
        response = lab1.post("/api/v1/patients/", OFFLINE, format="json")
    assert response.status_code == 503 and response["Retry-After"] == "2"
    assert "Numbering is busy" in response.json()["detail"]
    # written grouped, as every MRN
    assert lab1.post("/api/v1/patients/", OFFLINE, format="json").json()["mrn"] == "007-10-000"
