"""The registration fast path: how many round trips to PostgreSQL one registration through the API makes."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.models import Patient
from tests.round_trips import production_connections, production_request

# Every round trip, counted on the wire as a gunicorn worker makes them (tests/round_trips.py). Lending a pooled
# connection sends nothing while its socket is quiet (config/postgresql/base.py); the token's user and permissions
# come from the worker's memory after the token's first request (core.authentication). Then BEGIN; the MRN: the
# counter locked and advanced in one UPDATE (the sequence cached per process), its ledger row (2); the patient row,
# whose history row its insert trigger writes (1); COMMIT: 5 in all, the most this path may make.
REGISTRATION_ROUND_TRIPS = 5


# No test transaction around it, and production's caches and connections: the round trips are production's (the
# API's rates count in each worker's memory; a throttle moved to the database cache would add its round trips here).
@pytest.mark.django_db(transaction=True)
def test_a_registration_through_the_api_makes_five_round_trips(api, production_caches):
    with production_connections():
        api.post("/api/v1/patients/", {"full_name": "First Of The Day"}, format="json")  # the MRN counter row; the token kept
        response, trips = production_request(lambda: api.post(
            "/api/v1/patients/", {"full_name": "Ayesha Khan", "phone": "0300-1234567"}, format="json"))
    assert response.status_code == 201, response.content
    assert len(trips) <= REGISTRATION_ROUND_TRIPS, "\n".join(trips.statements)
    patient = Patient.objects.get(pk=response.json()["id"])
    (created,) = patient.history.all()
    assert (created.history_type, created.mrn, created.history_user.username) == ("+", patient.mrn, "desk1")


@pytest.mark.django_db(transaction=True)
def test_a_permission_check_needs_no_query_of_its_own(api, production_caches):
    api.get("/api/v1/patients/?q=zz")  # warm: content types
    with CaptureQueriesContext(connection) as captured:
        assert api.get("/api/v1/patients/?q=001-00-001").status_code == 200
    own_queries = [q["sql"] for q in captured.captured_queries if "knox_authtoken" not in q["sql"]]
    assert not [sql for sql in own_queries if "auth_permission" in sql], own_queries

