"""Delivery from the outbox by django-tasks' real worker, to local HTTP servers standing in for the SMS
gateway and the webhook receiver: exactly once when all goes well, retries with backoff, at most once per row even
when the worker is killed, and calls that never wait for any of it."""

import datetime
import hashlib
import hmac
import json
import re
import signal
import time

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone

from core.signals import VISIT_CALLED, notify_patient
from notifications import delivery
from notifications.models import Notification
from patients.models import Patient
from patients.services import register_patient
from queues import services as queue_services
from queues.models import Queue, Visit
from queues.views import board_key
from tests.conftest import start_worker, worker_output
from tests.queues.conftest import make_desk

pytestmark = pytest.mark.django_db(transaction=True)
SMS_PATH = "/send?user={username}&pass={password}&to={phone}&text={message}"


def run_worker(*args: str) -> None:
    """django-tasks-db's worker in this process until no task is ready (`--batch`), or as `args` say."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    try:
        call_command("db_worker", "--queue-name", "notifications", "--interval", "0.05", "--no-startup-delay",
                     "--no-reload", *(args or ["--batch"]))
    finally:  # the worker installs its own; give pytest's back
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


@pytest.fixture
def gateway(receiver, settings):
    """A stand-in SMS gateway (answering 200) configured as NOTIFY_SMS_URL with credentials."""
    server = receiver()
    settings.NOTIFY_SMS_URL = server.url + SMS_PATH
    settings.NOTIFY_SMS_USERNAME, settings.NOTIFY_SMS_PASSWORD = "hospital", "s3cret&="
    return server


@pytest.fixture
def call(db):
    """call(): a patient with a phone is issued a GEN token and called to Room 4; returns the visit."""
    queue = Queue.objects.create(name="General", code="GEN")
    desk = make_desk("Room 4", queue)

    def make(name="Sana Bibi", language="ur"):
        patient = register_patient(full_name=name, phone="0300-1234567", notify_language=language)
        queue_services.issue_visit(patient=patient, queue=queue)
        visit = queue_services.call_next(desk=desk)
        queue_services.mark_no_show(visit=visit)  # frees the desk for the next call
        return visit

    return make


def test_a_call_produces_exactly_one_sms_and_one_signed_webhook(gateway, receiver, settings, call):
    hook = receiver()
    settings.NOTIFY_WEBHOOK_URL, settings.NOTIFY_WEBHOOK_SECRET = hook.url + "/tokenline", "hook-secret"
    visit = call(language="en")
    run_worker()
    run_worker()  # a second pass finds nothing to send again

    (sms,) = gateway.requests
    assert sms["path"] == "/send" and sms["query"]["to"] == ["923001234567"]
    assert sms["query"]["user"] == ["hospital"] and sms["query"]["pass"] == ["s3cret&="]
    assert sms["query"]["text"] == ["Tokenline Hospital: token GEN-001, please come to Room 4."]
    (webhook,) = hook.requests
    expected = hmac.new(b"hook-secret", webhook["body"], hashlib.sha256).hexdigest()
    assert webhook["headers"]["X-Tokenline-Signature"] == f"sha256={expected}"
    body = json.loads(webhook["body"])
    assert (body["kind"], body["number"], body["room"]) == ("visit_called", "GEN-001", "Room 4")
    assert body["patient"] == {"id": visit.patient_id, "mrn": visit.patient.mrn}
    assert webhook["headers"]["X-Tokenline-Delivery"] == str(body["id"])
    assert set(Notification.objects.values_list("state", "attempts")) == {("delivered", 1)}


def test_urdu_is_the_default_message_language(gateway, call):
    call()
    run_worker()
    (sms,) = gateway.requests
    assert sms["query"]["text"] == ["Tokenline Hospital: ٹوکن GEN-001، براہِ کرم Room 4 پر تشریف لائیں۔"]


def test_a_gateway_failing_twice_then_succeeding_delivers_once_after_backoff(receiver, settings, call):
    gateway = receiver(answers=[500, 503])
    settings.NOTIFY_SMS_URL = gateway.url + SMS_PATH
    settings.NOTIFY_RETRY_SECONDS = 0.3
    call()
    run_worker("--max-tasks", "3")  # the first run, then one enqueued after each failure, when the row is due

    assert len(gateway.requests) == 3
    assert len({tuple(r["query"]["text"]) for r in gateway.requests}) == 1
    first, second, third = (r["at"] for r in gateway.requests)
    assert second - first >= 0.3 and third - second >= 0.6  # NOTIFY_RETRY_SECONDS, then doubled
    row = Notification.objects.get()
    assert (row.state, row.attempts, row.last_error) == ("delivered", 3, "")
    run_worker()
    assert len(gateway.requests) == 3


def test_retries_stop_after_the_last_attempt_with_the_error_kept(receiver, settings, call):
    gateway = receiver(answers=[502] * 5)
    settings.NOTIFY_SMS_URL = gateway.url + SMS_PATH
    settings.NOTIFY_RETRY_SECONDS, settings.NOTIFY_MAX_ATTEMPTS = 0.05, 2
    call()
    run_worker("--max-tasks", "2")
    row = Notification.objects.get()
    assert (row.state, row.attempts, row.last_error) == ("failed", 2, "HTTP 502")
    assert len(gateway.requests) == 2


def test_a_refused_request_is_not_retried(receiver, settings, call):
    gateway = receiver(answers=[400])
    settings.NOTIFY_SMS_URL = gateway.url + SMS_PATH
    call()
    run_worker()
    row = Notification.objects.get()
    assert (row.state, row.attempts, row.last_error) == ("failed", 1, "HTTP 400")


def test_an_unreachable_gateway_is_retried(receiver, settings, call):
    gone = receiver()
    settings.NOTIFY_SMS_URL = gone.url + SMS_PATH
    gone.close()
    call()
    run_worker()
    row = Notification.objects.get()
    assert (row.state, row.attempts) == ("pending", 1) and "Could not reach" in row.last_error
    assert row.next_attempt_at > timezone.now()


def test_a_gateway_that_takes_the_request_but_never_answers_is_not_sent_twice(receiver, settings, call):
    gateway = receiver(answers=["hang"])
    settings.NOTIFY_SMS_URL = gateway.url + SMS_PATH
    settings.NOTIFY_TIMEOUT_SECONDS = 0.5
    call()
    run_worker()
    row = Notification.objects.get()
    assert (row.state, row.attempts) == ("failed", 1) and "may have arrived" in row.last_error
    run_worker()
    assert len(gateway.requests) == 1


def test_a_worker_killed_mid_batch_leaves_the_rest_to_the_next_without_duplicates(receiver, settings):
    gateway = receiver(answers=[200, 200, 200, "hang"])  # the fourth request is in flight when the worker dies
    settings.NOTIFY_SMS_URL = gateway.url + SMS_PATH
    patients = [register_patient(full_name=f"Patient {i}", phone="0300-1234567") for i in range(8)]
    with transaction.atomic():  # every task delivers all due rows: the first worker's first task takes them all
        for number, patient in enumerate(patients, start=1):
            notify_patient(sender=Visit, patient=patient, kind=VISIT_CALLED, number=f"GEN-{number:03d}",
                           room="Room 4")
    env = {"NOTIFY_SMS_URL": settings.NOTIFY_SMS_URL, "NOTIFY_TIMEOUT_SECONDS": "30"}

    worker = start_worker(**env)
    try:
        deadline = time.monotonic() + 30
        while len(gateway.requests) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(gateway.requests) == 4, worker_output(worker)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    states = dict(Notification.objects.values_list("number", "state"))
    assert sorted(states.values()).count("delivered") == 3 and sorted(states.values()).count("sending") == 1

    restarted = start_worker("--batch", **env)
    assert restarted.wait(60) == 0, worker_output(restarted)

    sent = [re.search(r"GEN-\d{3}", r["query"]["text"][0]).group() for r in gateway.requests]
    assert sorted(sent) == [f"GEN-{n:03d}" for n in range(1, 9)]  # each once, the one in flight included
    in_flight = sent[3]
    assert Notification.objects.get(number=in_flight).state == "sending"  # unknown outcome: never sent again
    assert Notification.objects.exclude(number=in_flight).filter(state="delivered").count() == 7


def test_send_again_picks_up_failed_and_abandoned_rows_only(receiver, settings, call):
    gateway = receiver()
    settings.NOTIFY_SMS_URL = gateway.url + SMS_PATH
    for name in ("A", "B", "C"):
        call(name=name)
    failed, abandoned, in_flight = Notification.objects.order_by("pk")
    Notification.objects.filter(pk=failed.pk).update(state="failed", attempts=1)
    long_ago = timezone.now() - datetime.timedelta(hours=1)
    Notification.objects.filter(pk=abandoned.pk).update(state="sending", attempts=1, claimed_at=long_ago)
    Notification.objects.filter(pk=in_flight.pk).update(state="sending", attempts=1, claimed_at=timezone.now())
    assert delivery.send_again(Notification.objects.all()) == 2
    run_worker()
    assert len(gateway.requests) == 2
    assert Notification.objects.get(pk=in_flight.pk).state == "sending"


def test_calls_do_not_wait_for_a_gateway_that_hangs_and_the_board_keeps_working(receiver, settings, call):
    gateway = receiver(answers=["hang"] * 10)
    hook = receiver(answers=[500] * 10)
    settings.NOTIFY_SMS_URL = gateway.url + SMS_PATH
    settings.NOTIFY_WEBHOOK_URL = hook.url
    env = {"NOTIFY_SMS_URL": settings.NOTIFY_SMS_URL, "NOTIFY_WEBHOOK_URL": hook.url, "NOTIFY_TIMEOUT_SECONDS": "20"}
    worker = start_worker(**env)
    try:
        call(name="First")
        assert gateway.arrived.wait(30), "the worker never reached the gateway"
        # The worker now waits on the gateway (for up to 20 s); calls go on at their usual pace meanwhile.
        durations = []
        for i in range(5):
            started = time.monotonic()
            call(name=f"Patient {i}")
            durations.append(time.monotonic() - started)
        assert max(durations) < 2, durations
        assert len(gateway.requests) == 1
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    desk = make_desk("Room 5", Queue.objects.get(code="GEN"))
    waiting = register_patient(full_name="Board Check")
    queue_services.issue_visit(patient=waiting, queue=Queue.objects.get(code="GEN"))
    queue_services.call_next(desk=desk)
    html = Client().get("/board/", {"queues": "GEN", "key": board_key()}).content.decode()
    assert 'data-testid="called-token">GEN-007<' in html and "Room 5" in html
    assert Patient.objects.count() == 7


def test_a_broken_gateway_setting_fails_the_row_without_showing_the_credentials(settings, call):
    settings.NOTIFY_SMS_URL = "http://127.0.0.1:port{password}/send?to={phone}"  # a typo: no port number
    settings.NOTIFY_SMS_PASSWORD = "s3cret"
    call()
    run_worker()
    row = Notification.objects.get()
    assert row.state == "failed" and "s3cret" not in row.last_error and row.last_error
