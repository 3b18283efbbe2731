"""tests/round_trips.py counts every round trip, also those that never reach Django's query log."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from patients.models import Patient
from tests.round_trips import RoundTrips, production_connections, production_request


@pytest.mark.django_db(transaction=True)
def test_round_trips_count_what_psycopg_sends_past_django():
    Patient.objects.exists()  # connected before the block
    with CaptureQueriesContext(connection) as logged, RoundTrips() as trips:
        connection.connection.execute("")  # as psycopg_pool checks a connection: Django never sees it
        with transaction.atomic():
            Patient.objects.count()
    assert [sql.split(" ", 1)[0] for sql in trips.statements] == ["", "BEGIN", "SELECT", "COMMIT"], trips.statements
    assert len(logged) == 3  # Django's log has no empty query


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_in_the_block_counts_its_start():
    connection.close()
    with RoundTrips() as trips:
        Patient.objects.exists()
    assert trips.statements[0] == "(connect)"
    assert len(trips) >= 2, trips.statements


@pytest.mark.django_db(transaction=True)
def test_a_request_as_in_a_worker_takes_its_connection_from_the_pool():
    with production_connections():
        assert connection.pool is not None  # config/settings.py gives workers a pool
        _, trips = production_request(lambda: Patient.objects.exists())
    assert "(connect)" not in trips.statements, trips.statements
    assert trips.statements[-1].startswith("SELECT"), trips.statements
