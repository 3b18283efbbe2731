"""/health/: no login, JSON naming each check, 200 when ready, 503 when the database is down or a migration is
missing, and never a consumed number."""

import pytest
from django.db import connection
from django.test import Client

from idseq.models import Counter, IssuedNumber, Sequence
from patients.services import register_patient
from tests.monitoring.conftest import free_port


def get_health(client=None):
    response = (client or Client()).get("/health/")
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    return response.status_code, response.json()


def test_it_answers_200_json_without_login_naming_each_check(db):
    status, body = get_health()
    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "migrations", "numbering", "replication"}
    assert all(check["status"] == "ok" for check in body["checks"].values())
    assert body["checks"]["numbering"]["level"] == "ok"


def test_it_is_never_throttled(db):
    client = Client()
    assert {client.get("/health/").status_code for _ in range(30)} == {200}
    assert {client.get("/metrics").status_code for _ in range(30)} == {200}


def test_it_consumes_no_number(db):
    register_patient(full_name="Before")
    counters = dict(Counter.objects.values_list("key", "last_value"))
    issued, sequences = IssuedNumber.objects.count(), Sequence.objects.count()
    for _ in range(3):
        assert get_health()[0] == 200
    assert dict(Counter.objects.values_list("key", "last_value")) == counters
    assert (IssuedNumber.objects.count(), Sequence.objects.count()) == (issued, sequences)
    assert register_patient(full_name="After").mrn == "001-00-002"


@pytest.mark.django_db(transaction=True)
def test_it_is_503_while_a_migration_is_not_applied():
    # Committed: the checks run on a connection of their own, which sees no uncommitted change. Put back after.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'queues' AND name LIKE '0001%%' RETURNING name, applied")
        (name, applied), = cursor.fetchall()
    try:
        status, body = get_health()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('queues', %s, %s)", [name, applied])
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["migrations"]["status"] == "error"
    assert "queues.0001_initial" in body["checks"]["migrations"]["detail"]
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.django_db(transaction=True)
def test_it_is_503_when_the_database_is_down_and_recovers_by_itself(caplog):
    settings_dict = connection.settings_dict  # shared with the connections other threads open
    real_host, real_port, name = settings_dict["HOST"], settings_dict["PORT"], settings_dict["NAME"]
    port = free_port()  # nothing listens there
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", port
    try:
        response = Client().get("/health/")
    finally:
        connection.close()
        settings_dict["HOST"], settings_dict["PORT"] = real_host, real_port
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert {check: result["status"] for check, result in body["checks"].items()} == {
        "database": "error", "migrations": "error", "numbering": "error", "replication": "error",
    }
    # Nothing about where the database is, or what the driver said, reaches the body; the log has it.
    for secret in (str(port), name, "refused", "psycopg"):
        assert secret not in response.content.decode()
    assert "did not answer" in caplog.text
    assert get_health()[0] == 200
