"""Queue fast paths: the statements issuing a token and calling next send through the API."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from queues import services
from queues.models import Visit
from tests.conftest import make_token
from tests.queues.conftest import make_desk, make_patients

TRANSACTION_CONTROL = {"BEGIN", "COMMIT"}
# The token's user and permissions come from the worker's memory after the token's first request
# (core.authentication), so the counted requests, each after a first one, send no authentication query.
# The patient; the queue; the visit-token counter locked and advanced in one statement (the sequence cached per
# process), the token's ledger row; the visit; position and estimate in one query.
ISSUE_STATEMENTS = 6
# The desk locked with its queue ids; the next waiting visit taken (SKIP LOCKED) and marked called in one
# UPDATE ... RETURNING, with its queue, patient and issuing user (queues/claim.py).
CALL_NEXT_STATEMENTS = 2

def statements(captured) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if query["sql"] not in TRANSACTION_CONTROL]


@pytest.fixture
def token_api(asst):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(asst)}")
    return client


@pytest.mark.django_db(transaction=True)
def test_issuing_a_token_sends_six_statements_whatever_the_length_of_the_line(token_api, general, production_caches):
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
def test_calling_next_sends_two_statements(token_api, general, asst, production_caches):
    for patient in make_patients(3):
        services.issue_visit(patient=patient, queue=general, issued_by=asst)
    desk = make_desk("Room 1", general)
    token_api.post(f"/api/v1/desks/{desk.pk}/call-next/")  # the token's first request
    services.mark_no_show(visit=Visit.objects.get(status=Visit.Status.CALLED))
    with CaptureQueriesContext(connection) as captured:
        response = token_api.post(f"/api/v1/desks/{desk.pk}/call-next/")
    assert response.status_code == 200, response.content
    assert (response.json()["token"], response.json()["issued_by"]) == ("GEN-002", "asst")
    assert len(statements(captured)) <= CALL_NEXT_STATEMENTS, "\n".join(statements(captured))
