"""The registration fast path: how many SQL statements one registration through the API sends."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.models import Patient

# Token with its user and permissions (1); the MRN: the counter locked and advanced in one UPDATE (the sequence
# cached per process), its ledger row (2); the patient row, whose history row its insert trigger writes (1). BEGIN
# and COMMIT come on top: 6 in all, the most this path may send.
REGISTRATION_STATEMENTS = 4
TRANSACTION_CONTROL = {"BEGIN", "COMMIT"}


# No test transaction around it, and production's caches: the statements are production's (the API's rates count
# in each worker's memory; a throttle moved to the database cache would add its statements here).
@pytest.mark.django_db(transaction=True)
def test_a_registration_through_the_api_sends_four_statements(api, production_caches):
    api.post("/api/v1/patients/", {"full_name": "First Of The Day"}, format="json")  # creates the MRN counter row
    with CaptureQueriesContext(connection) as captured:
        response = api.post("/api/v1/patients/", {"full_name": "Ayesha Khan", "phone": "0300-1234567"}, format="json")
    assert response.status_code == 201, response.content
    statements = [query["sql"] for query in captured.captured_queries if query["sql"] not in TRANSACTION_CONTROL]
    assert len(statements) <= REGISTRATION_STATEMENTS, "\n".join(statements)
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
