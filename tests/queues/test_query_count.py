"""Queue fast paths: the statements issuing a token and calling next send through the API."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from queues import services
from tests.conftest import make_token
from tests.queues.conftest import make_desk, make_patients

TRANSACTION_CONTROL = {"BEGIN", "COMMIT"}
# Token with user and permissions; the patient; the queue; the visit-token counter locked and advanced in one
# statement (the sequence cached per process), the token's ledger row; the visit; position and estimate
# in one query.
ISSUE_STATEMENTS = 7
# Token with user and permissions; the desk locked with its queue ids; the next waiting visit (SKIP LOCKED); its update.
CALL_NEXT_STATEMENTS = 4


def statements(captured) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if query["sql"] not in TRANSACTION_CONTROL]


@pytest.fixture
def token_api(asst):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(asst)}")
    return client


@pytest.mark.django_db(transaction=True)
def test_issuing_a_token_sends_seven_statements_whatever_the_length_of_the_line(token_api, general, production_caches):
    first, *line, last = make_patients(12)
    token_api.post("/api/v1/visits/", {"patient": first.pk, "queue": "GEN"}, format="json")  # today's counter row
    for patient in line:
        services.issue_visit(patient=patient, queue=general)
    with CaptureQueriesContext(connection) as captured:
        response = token_api.post("/api/v1/visits/", {"patient": last.pk, "queue": "GEN"}, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["token"], response.json()["position"]) == ("GEN-012", 12)
    assert len(statements(captured)) <= ISSUE_STATEMENTS, "\n".join(statements(captured))
    assert not [sql for sql in statements(captured) if "ROW_NUMBER" in sql.upper()]


@pytest.mark.django_db(transaction=True)
def test_calling_next_sends_four_statements(token_api, general, asst, production_caches):
    for patient in make_patients(2):
        services.issue_visit(patient=patient, queue=general, issued_by=asst)
    desk = make_desk("Room 1", general)
    with CaptureQueriesContext(connection) as captured:
        response = token_api.post(f"/api/v1/desks/{desk.pk}/call-next/")
    assert response.status_code == 200, response.content
    assert (response.json()["token"], response.json()["issued_by"]) == ("GEN-001", "asst")
    assert len(statements(captured)) <= CALL_NEXT_STATEMENTS, "\n".join(statements(captured))
