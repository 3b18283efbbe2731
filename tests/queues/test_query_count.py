"""Queue fast paths: the round trips to PostgreSQL issuing a token and calling next make through the API."""

import pytest
from rest_framework.test import APIClient

from queues import services
from queues.models import Visit
from tests.conftest import make_token
from tests.queues.conftest import make_desk, make_patients
from tests.round_trips import production_connections, production_request

# Every round trip, counted on the wire as a gunicorn worker makes them (tests/round_trips.py). Lending a pooled
# connection sends nothing while its socket is quiet (config/postgresql/base.py), and the token's user and
# permissions come from the worker's memory after the token's first request (core.authentication), so the counted
# requests, each after a first one, start with their own work.
# Issue: the patient; the queue; BEGIN; the visit-token counter locked and advanced in one statement (the sequence
# cached per process), the token's ledger row; the visit; COMMIT; position and estimate in one query: 8.
ISSUE_ROUND_TRIPS = 8
# Call-next: BEGIN; the desk locked with its queue ids; the next waiting visit taken (SKIP LOCKED) and marked called
# in one UPDATE ... RETURNING with its queue, patient and issuing user (queues/claim.py); COMMIT: 4.
CALL_NEXT_ROUND_TRIPS = 4


@pytest.fixture
def token_api(asst):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(asst)}")
    return client


@pytest.mark.django_db(transaction=True)
def test_issuing_a_token_makes_eight_round_trips_whatever_the_length_of_the_line(token_api, general,
                                                                                 production_caches):
    first, *line, last = make_patients(12)
    with production_connections():
        production_request(lambda: token_api.post(  # today's counter row, the token's first request
            "/api/v1/visits/", {"patient": first.pk, "queue": "GEN"}, format="json"))
        for patient in line:
            services.issue_visit(patient=patient, queue=general)
        response, trips = production_request(lambda: token_api.post(
            "/api/v1/visits/", {"patient": last.pk, "queue": "GEN"}, format="json"))
    assert response.status_code == 201, response.content
    assert (response.json()["token"], response.json()["position"]) == ("GEN-012", 12)
    assert len(trips) <= ISSUE_ROUND_TRIPS, "\n".join(trips.statements)
    assert not [sql for sql in trips.statements if "ROW_NUMBER" in sql.upper()]


@pytest.mark.django_db(transaction=True)
def test_calling_next_makes_four_round_trips(token_api, general, asst, production_caches):
    for patient in make_patients(3):
        services.issue_visit(patient=patient, queue=general, issued_by=asst)
    desk = make_desk("Room 1", general)
    with production_connections():
        production_request(lambda: token_api.post(f"/api/v1/desks/{desk.pk}/call-next/"))  # the token's first
        services.mark_no_show(visit=Visit.objects.get(status=Visit.Status.CALLED))
        response, trips = production_request(lambda: token_api.post(f"/api/v1/desks/{desk.pk}/call-next/"))
    assert response.status_code == 200, response.content
    assert (response.json()["token"], response.json()["issued_by"]) == ("GEN-002", "asst")
    assert len(trips) <= CALL_NEXT_ROUND_TRIPS, "\n".join(trips.statements)
