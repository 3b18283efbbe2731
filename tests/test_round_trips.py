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
def test_a_worker_without_a_pool_counts_its_connection_per_request():
    with production_connections(DB_POOL_SIZE="0", CONN_MAX_AGE="0"):
        _, trips = production_request(lambda: Patient.objects.exists())
    assert trips.statements[0] == "(connect)", trips.statements  # and read before Django closed it
    assert trips.statements[-1].startswith("SELECT"), trips.statements


@pytest.mark.django_db(transaction=True)
def test_a_request_as_in_a_worker_takes_its_connection_from_the_pool():
    with production_connections():
        assert connection.pool is not None  # config/settings.py gives workers a pool
        _, trips = production_request(lambda: Patient.objects.exists())
    assert "(connect)" not in trips.statements, trips.statements
    assert trips.statements[-1].startswith("SELECT"), trips.statements
