"""Bounded waits: a held counter row answers 503 "busy" within the lock timeout and takes nothing."""

import os
import subprocess
import sys
import time

import pytest
from django.db import OperationalError, connection, transaction
from rest_framework.test import APIRequestFactory

from core.api import exception_handler
from idseq.models import IssuedNumber
from patients.models import Patient
from tests.conftest import database_url, hold_row


def hold_counter(key: str):
    """A second session holding counter `key`'s row, as a psql session would (see tests.conftest.hold_row)."""
    return hold_row("idseq_counter", "key", key)


@pytest.mark.django_db(transaction=True)
def test_a_registration_behind_a_held_mrn_counter_answers_503_within_the_lock_timeout_and_takes_nothing(
    api, settings, caplog
):
    assert api.post("/api/v1/patients/", {"full_name": "First"}, format="json").json()["mrn"] == "001-00-001"
    with hold_counter("mrn"):
        started = time.monotonic()
        response = api.post("/api/v1/patients/", {"full_name": "Blocked"}, format="json")
        waited = time.monotonic() - started
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "2"
    assert "Numbering is busy" in response.json()["detail"]
    assert settings.TOKENLINE_LOCK_TIMEOUT - 0.1 < waited < settings.TOKENLINE_LOCK_TIMEOUT + 1
    assert "counter 'mrn'" in caplog.text and "timed out" in caplog.text
    assert list(Patient.objects.values_list("full_name", flat=True)) == ["First"]
    assert IssuedNumber.objects.count() == 1
    after = api.post("/api/v1/patients/", {"full_name": "After"}, format="json")
    assert after.status_code == 201 and after.json()["mrn"] == "001-00-002"


@pytest.mark.django_db(transaction=True)
def test_the_lock_timeout_is_a_setting(api, settings):
    settings.TOKENLINE_LOCK_TIMEOUT = 0.3
    api.post("/api/v1/patients/", {"full_name": "First"}, format="json")
    with hold_counter("mrn"):
        started = time.monotonic()
        response = api.post("/api/v1/patients/", {"full_name": "Blocked"}, format="json")
        waited = time.monotonic() - started
    assert response.status_code == 503 and response["Retry-After"] == "1"
    assert waited < 1


@pytest.mark.django_db(transaction=True)
def test_the_registration_page_shows_busy_as_a_form_message(client, reception):
    client.force_login(reception)
    client.post("/patients/register/", {"full_name": "First"})  # creates the counter row
    with hold_counter("mrn"):
        response = client.post("/patients/register/", {"full_name": "Blocked"})
    assert response.status_code == 200
    assert b"Numbering is busy" in response.content
    assert not Patient.objects.filter(full_name="Blocked").exists()


@pytest.mark.django_db(transaction=True)
def test_a_statement_timeout_answers_503_with_retry_after_not_500():
    with pytest.raises(OperationalError) as caught:
        time_out_a_statement()
    request = APIRequestFactory().post("/api/v1/patients/")
    response = exception_handler(caught.value, {"request": request, "view": None})
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert "busy" in response.data["detail"]

def time_out_a_statement(*args, **kwargs):
    """What a query over TOKENLINE_STATEMENT_TIMEOUT meets: PostgreSQL cancels it (57014)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = '50ms'")
        cursor.execute("SELECT pg_sleep(2)")


@pytest.mark.django_db(transaction=True)
def test_a_page_whose_statement_times_out_answers_a_503_page_not_a_500(client, reception, monkeypatch, caplog):
    client.force_login(reception)
    monkeypatch.setattr("patients.views.search_patients", time_out_a_statement)
    response = client.get("/patients/?q=khan")
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert b"Numbering is busy" in response.content and b"Nothing was taken" in response.content
    assert "statement_timeout) timed out on /patients/" in caplog.text


SHOW_STATEMENT_TIMEOUT = (
    "import django; django.setup(); from django.db import connection; "
    "print(connection.cursor().execute('SHOW statement_timeout').fetchone()[0])"
)


@pytest.mark.parametrize(("process", "expected"), [("web", "10s"), ("", "0")])
def test_web_processes_run_with_the_statement_timeout_and_commands_without(db, process, expected):
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "config.settings",
           "TOKENLINE_PROCESS": process}
    shown = subprocess.run([sys.executable, "-c", SHOW_STATEMENT_TIMEOUT], env=env, capture_output=True, text=True,
                           timeout=60, check=True).stdout.split()[-1]
    assert shown == expected


def test_config_wsgi_marks_its_process_as_web(db):
    env = {key: value for key, value in os.environ.items() if key != "TOKENLINE_PROCESS"}
    env["DATABASE_URL"] = database_url()
    code = "import config.wsgi, os; print(os.environ['TOKENLINE_PROCESS'])"
    shown = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                           check=True).stdout.split()[-1]
    assert shown == "web"
