"""Knowing the replication mode: /health/, /metrics and `check --deploy` say whether the database has a synchronous
standby; TOKENLINE_REQUIRE_SYNC_STANDBY pauses numbering (503, nothing taken) while it has none; a standby never
issues numbers. The test server is a lone primary: asynchronous, no standby."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from core import replication
from idseq.models import IssuedNumber
from patients.models import Patient
from tests.monitoring.conftest import parse

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_reading():
    replication.forget()
    yield
    replication.forget()


def test_a_lone_primary_is_reported_asynchronous_everywhere():
    state = replication.replication_state()
    assert (state.in_recovery, state.sync_standbys, state.synchronous) == (False, 0, False)
    body = Client().get("/health/").json()
    assert body["status"] == "ok"
    assert body["checks"]["replication"] | {"seconds": 0} == {
        "status": "ok", "mode": "asynchronous", "sync_standbys": 0, "standbys": 0, "seconds": 0}
    metrics = parse(Client().get("/metrics").content.decode())
    assert metrics["tokenline_database_sync_standbys", ()] == 0
    assert metrics["tokenline_database_in_recovery", ()] == 0
    out = io.StringIO()
    call_command("check", "--deploy", "--database", "default", stdout=out, stderr=out)
    assert "monitoring.W002" in out.getvalue() and "Asynchronous" in out.getvalue()


def test_requiring_a_synchronous_standby_pauses_numbering_with_503_and_takes_nothing(api, settings):
    settings.TOKENLINE_REQUIRE_SYNC_STANDBY = True
    response = api.post("/api/v1/patients/", {"full_name": "Paused"}, format="json")
    assert response.status_code == 503, response.content
    assert "no synchronous standby" in response.json()["detail"]
    assert response["Retry-After"] == "5"
    assert not Patient.objects.exists() and not IssuedNumber.objects.filter(sequence__key="mrn").exists()
    health = Client().get("/health/")
    assert health.status_code == 503
    assert "Asynchronous" in health.json()["checks"]["replication"]["detail"]
    settings.TOKENLINE_REQUIRE_SYNC_STANDBY = False
    assert api.post("/api/v1/patients/", {"full_name": "Resumed"}, format="json").status_code == 201


def test_the_requirement_is_read_once_per_interval_not_per_number(api, settings):
    settings.TOKENLINE_REQUIRE_SYNC_STANDBY = True
    settings.TOKENLINE_REPLICATION_CHECK_SECONDS = 60
    calls = []
    real = replication.replication_state
    replication.replication_state = lambda: calls.append(1) or real()
    try:
        for _ in range(3):
            assert api.post("/api/v1/patients/", {"full_name": "Paused"}, format="json").status_code == 503
    finally:
        replication.replication_state = real
    assert len(calls) == 1


def test_a_standby_never_issues_numbers(api, monkeypatch):
    assert api.post("/api/v1/patients/", {"full_name": "First"}, format="json").status_code == 201
    connection.ensure_connection()
    info = type(connection.connection.info)
    real = info.parameter_status
    monkeypatch.setattr(info, "parameter_status",
                        lambda self, name: "on" if name == "in_hot_standby" else real(self, name))
    response = api.post("/api/v1/patients/", {"full_name": "On a standby"}, format="json")
    assert response.status_code == 503, response.content
    assert "standby" in response.json()["detail"]
    assert list(Patient.objects.values_list("full_name", flat=True)) == ["First"]


def test_a_server_on_an_older_timeline_than_seen_is_refused_and_answers_503(api, monkeypatch):
    assert api.post("/api/v1/patients/", {"full_name": "First"}, format="json").status_code == 201
    assert replication._highest_timeline >= 1  # the test server's timeline, seen when connecting
    # As if this process had already used a promoted standby on a later timeline: the old primary is refused.
    monkeypatch.setattr(replication, "_highest_timeline", replication._highest_timeline + 1)
    connection.close()
    response = api.post("/api/v1/patients/", {"full_name": "On the old primary"}, format="json")
    assert response.status_code == 503, response.content
    assert response["Retry-After"]
    assert Client().get("/health/").status_code == 503
    monkeypatch.undo()
    connection.close()
    assert list(Patient.objects.values_list("full_name", flat=True)) == ["First"]
