"""/metrics: Prometheus text, protected by a token or an address allow-list, with request latency per view and
Tokenline's own figures after a few registrations."""

import datetime
import threading

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from idseq.exceptions import NumberingBusy
from idseq.models import Counter, IssuedNumber
from idseq.services import create_sequence, next_ids
from monitoring.metrics import counter_label
from patients.services import register_patient
from queues.models import Queue, Visit
from queues.services import issue_visit
from terminals import services as terminal_services
from terminals.models import LabTerminal
from tests.monitoring.conftest import scrape, value


def test_it_is_forbidden_from_an_address_outside_the_allow_list(db, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert Client().get("/metrics").status_code == 403  # the test client comes from 127.0.0.1
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200


def test_it_needs_the_bearer_token_when_no_address_is_allowed(db, settings):
    settings.METRICS_ALLOWED_IPS, settings.METRICS_TOKEN = [], "s3cret-token"
    client = Client()
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Token s3cret-token").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200
    settings.METRICS_TOKEN = ""  # no token set: an empty bearer opens nothing
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_a_bad_allow_list_entry_fails_the_system_check(settings):
    from monitoring.checks import check_metrics_allowed_ips

    settings.METRICS_ALLOWED_IPS = ["127.0.0.1", "10.0.0.0/8", "not-an-ip"]
    assert [error.id for error in check_metrics_allowed_ips(None)] == ["monitoring.E001"]


def test_after_a_few_registrations_it_shows_numbers_lock_waits_usage_queues_and_terminals(api, seed_terminals):
    client = Client()
    before = scrape(client)
    for i in range(3):
        assert api.post("/api/v1/patients/", {"full_name": f"Metric Patient {i}"}, format="json").status_code == 201
    queue = Queue.objects.create(name="General", code="GEN")
    for patient in register_patient(full_name="Waiting A"), register_patient(full_name="Waiting B"):
        issue_visit(patient=patient, queue=queue)
    Visit.objects.filter(token_number=1).update(queued_at=timezone.now() - datetime.timedelta(minutes=25))
    terminal = LabTerminal.objects.get(code="LAB1-PC")
    terminal_services.issue_terminal_key(terminal=terminal)
    terminal.refresh_from_db()
    create_sequence(key="SMALL", kind="plain", prefix="R", padding=2)
    next_ids("SMALL", 10)
    lease = terminal_services.lease_block(terminal_code="LAB1-PC", user=terminal.user, count=100)
    terminal_services.register_offline(terminal_code="LAB1-PC", user=terminal.user, mrn=str(lease.start),
                                       full_name="Synced Offline")

    after = scrape(client)
    assert value(after, "tokenline_database_figures_up") == 1
    # numbers issued per sequence, read from the counters and reservations: 3 over the API, 2 for the visits'
    # patients, and the synced offline number (issued from LAB1-PC's reservation)
    issued = "tokenline_numbers_issued_total"
    assert value(after, issued, sequence="mrn") - value(before, issued, sequence="mrn") == 6
    assert value(after, issued, sequence="mrn") == IssuedNumber.objects.filter(sequence__key="mrn").count()
    # lock waits per counter key, measured in this process
    waits = "tokenline_counter_lock_wait_seconds_count"
    assert value(after, waits, counter="mrn") - value(before, waits, counter="mrn") == 5
    assert value(after, waits, counter="visit-token:GEN") - value(before, waits, counter="visit-token:GEN") == 2
    assert value(after, "tokenline_counter_lock_wait_seconds_sum", counter="mrn") > 0
    # percent used of each sequence's format: 10 of R-01..R-99
    assert value(after, issued, sequence="SMALL") == 10
    assert value(after, "tokenline_sequence_percent_used", sequence="SMALL") == 10.1
    assert ("tokenline_sequence_percent_used", (("sequence", "mrn"),)) in after
    # queue length and the longest wait
    assert value(after, "tokenline_queue_waiting", queue="GEN") == 2
    assert 25 <= value(after, "tokenline_queue_oldest_waiting_minutes", queue="GEN") < 26
    # terminal range utilisation, and leased numbers no synced registration carries yet
    assert value(after, "tokenline_terminal_range_used_numbers", terminal="LAB1-PC") == 100
    assert value(after, "tokenline_terminal_range_numbers", terminal="LAB1-PC") == 10_000
    assert value(after, "tokenline_terminal_range_percent_used", terminal="LAB1-PC") == 1.0
    assert value(after, "tokenline_terminal_unsynced_numbers", terminal="LAB1-PC") == 99
    assert value(after, "tokenline_terminal_unsynced_numbers", terminal="LAB2-PC") == 0
    assert after[("tokenline_offline_incidents_open", ())] == 0
    notification_states = {dict(labels)["state"] for name, labels in after if name == "tokenline_notifications"}
    assert notification_states == {"pending", "sending", "delivered", "failed", "skipped"}
    # request latency per view, from django-prometheus' middleware
    latency = "django_http_requests_latency_seconds_by_view_method_count"
    assert value(after, latency, view="patient-list", method="POST") - value(
        before, latency, view="patient-list", method="POST") == 3


@pytest.mark.django_db(transaction=True)
def test_a_lock_timeout_is_counted_for_its_counter(settings):
    settings.TOKENLINE_LOCK_TIMEOUT = 0.2
    register_patient(full_name="First")  # the mrn counter exists
    locked, release = threading.Event(), threading.Event()

    def hold_the_mrn_counter():
        try:
            with transaction.atomic():
                Counter.objects.select_for_update().get(key="mrn")
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_mrn_counter)
    holder.start()
    client = Client()
    try:
        assert locked.wait(10)
        before = scrape(client)
        with pytest.raises(NumberingBusy):
            register_patient(full_name="Waits too long")
    finally:
        release.set()
        holder.join()
    after = scrape(client)
    timeouts = "tokenline_counter_lock_timeouts_total"
    assert value(after, timeouts, counter="mrn") - value(before, timeouts, counter="mrn") == 1
    waits = "tokenline_counter_lock_wait_seconds"
    assert value(after, f"{waits}_sum", counter="mrn") - value(before, f"{waits}_sum", counter="mrn") >= 0.2
    assert value(after, f"{waits}_bucket", counter="mrn", le="0.1") == value(before, f"{waits}_bucket", counter="mrn",
                                                                             le="0.1")
    assert register_patient(full_name="Next").mrn == "001-00-002"  # nothing was consumed


@pytest.mark.parametrize("key, label", [
    ("mrn", "mrn"),
    ("INV", "INV"),
    ("mrn-dated@2026-11-25", "mrn-dated"),
    ("INVY@2026", "INVY"),
    ("visit-token@GEN-20261125", "visit-token:GEN"),
    ("visit-token@OPD2-20261125", "visit-token:OPD2"),
    ("slot-token@0b7e6f5c-1a2b-4c3d-9e8f-0123456789ab", "slot-token"),
    ("visit-token:GEN:2026-11-25", "visit-token:GEN"),
    ("slot-token:42", "slot-token"),
    ("slot-token:0b7e6f5c-1a2b-4c3d-9e8f-0123456789ab", "slot-token"),
])
def test_counter_keys_are_labelled_without_their_day_or_slot(key, label):
    assert counter_label(key) == label


def test_a_multiprocess_directory_that_went_away_is_made_again_with_a_warning(db, tmp_path, monkeypatch, caplog):
    directory = tmp_path / "prometheus"  # set, but removed (or never made) while the server runs
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    samples = scrape(Client())
    assert directory.is_dir() and samples[("tokenline_database_figures_up", ())] == 1  # the database figures are there
    assert "was missing; made it again" in caplog.text


def test_a_multiprocess_directory_that_cannot_be_made_gives_this_processs_figures(db, tmp_path, monkeypatch, caplog):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "file" / "prometheus"))
    samples = scrape(Client())
    assert any(name.startswith("python_gc_") for name, _ in samples)  # this process's own collectors
    assert "cannot be made" in caplog.text
