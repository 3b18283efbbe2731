"""The outbox: a call writes its notification rows in its own transaction; nothing here sends them."""

import datetime
import logging

import pytest
from django.db import DatabaseError, transaction
from django.test import Client
from django_tasks_db.models import DBTaskResult

from core import signals
from notifications import messages, selectors
from notifications.models import Notification
from patients.models import Patient
from patients.services import register_patient
from queues import services as queue_services
from queues.models import Queue, Visit
from tests.conftest import make_user
from tests.queues.conftest import make_desk
from tokens import services as token_services
from tokens.models import Token

ADAPTERS_ON = {"NOTIFY_SMS_URL": "http://127.0.0.1:9/sms?to={phone}&text={message}",
               "NOTIFY_WEBHOOK_URL": "http://127.0.0.1:9/hook"}


@pytest.fixture
def adapters_on(settings):
    for name, value in ADAPTERS_ON.items():
        setattr(settings, name, value)


@pytest.fixture
def called(db):
    """A desk and a visit of a patient with a phone, waiting in GEN."""
    queue = Queue.objects.create(name="General", code="GEN")
    patient = register_patient(full_name="Sana Bibi", phone="0300-1234567", notify_language="ur")
    queue_services.issue_visit(patient=patient, queue=queue)
    return make_desk("Room 4", queue), patient


def test_a_call_writes_one_row_per_adapter_with_what_the_message_needs(adapters_on, called):
    desk, patient = called
    queue_services.call_next(desk=desk)
    rows = Notification.objects.order_by("adapter")
    assert [row.adapter for row in rows] == ["sms", "webhook"]
    for row in rows:
        assert (row.patient, row.kind, row.number, row.room, row.language, row.state, row.attempts) == (
            patient, "visit_called", "GEN-001", "Room 4", "ur", "pending", 0
        )


def test_the_rows_commit_with_the_call_and_a_delivery_task_is_enqueued_after_commit(
    adapters_on, called, django_capture_on_commit_callbacks
):
    desk, _ = called
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        queue_services.call_next(desk=desk)
    assert len(callbacks) >= 1
    (task,) = DBTaskResult.objects.all()
    assert task.task_path == "notifications.delivery.deliver_due" and task.queue_name == "notifications"


def test_a_call_that_rolls_back_leaves_no_row(adapters_on, called):
    desk, _ = called
    with pytest.raises(RuntimeError), transaction.atomic():
        queue_services.call_next(desk=desk)
        raise RuntimeError("the request failed after the call")
    assert not Notification.objects.exists()
    assert Visit.objects.get().status == "waiting"


def test_without_adapters_configured_no_row_is_written(called):
    desk, _ = called
    queue_services.call_next(desk=desk)
    assert not Notification.objects.exists()


@pytest.mark.parametrize("wishes", [{"notify_opt_out": True}, {"phone": ""}])
def test_a_patient_who_opted_out_or_has_no_phone_gets_no_sms_but_the_webhook_still_hears(adapters_on, called, wishes):
    desk, patient = called
    Patient.objects.filter(pk=patient.pk).update(**wishes)
    queue_services.call_next(desk=desk)
    assert list(Notification.objects.values_list("adapter", flat=True)) == ["webhook"]


def test_a_failing_outbox_never_fails_or_rolls_back_the_call(adapters_on, called, monkeypatch, caplog):
    desk, _ = called

    def broken(*args, **kwargs):
        raise DatabaseError("outbox table unavailable")

    monkeypatch.setattr(Notification.objects, "bulk_create", broken)
    with caplog.at_level(logging.ERROR, logger="tokenline.notifications"):
        visit = queue_services.call_next(desk=desk)
    assert Visit.objects.get(pk=visit.pk).status == "called"
    assert "not recorded" in caplog.text


def test_opd_promotion_and_delays_write_rows_for_the_patients_concerned(db, adapters_on, settings):
    settings.NOTIFY_WEBHOOK_URL = ""
    doctor = token_services.create_doctor(name="Dr. Ayesha Khan")
    start = datetime.datetime.now(datetime.UTC).replace(microsecond=0) + datetime.timedelta(days=1)
    slot = token_services.create_slot(
        doctor=doctor, start_time=start, end_time=start + datetime.timedelta(hours=1), max_capacity=1
    )
    seated, waiting = (register_patient(full_name=name, phone="0300-1111111") for name in ("Seated", "Waiting"))
    token = token_services.book_token(slot_id=slot.pk, patient=seated, category="WALKIN")
    token_services.book_token(slot_id=slot.pk, patient=waiting, category="ONLINE")
    assert not Notification.objects.exists()

    _, promoted = token_services.cancel_token(token_id=token.pk)
    row = Notification.objects.get()
    assert (row.patient, row.kind, row.number, row.room) == (waiting, "token_promoted", "2", "Dr. Ayesha Khan")
    assert row.extra == {"starts_at": f"{start.astimezone(datetime.timezone(datetime.timedelta(hours=5))):%H:%M}"}

    token_services.delay_slot(slot_id=slot.pk, delay_minutes=30)
    delayed = Notification.objects.get(kind="slot_delayed")
    assert delayed.patient == waiting and delayed.extra["delay_minutes"] == 30
    token_services.delay_slot(slot_id=slot.pk, delay_minutes=0)  # back on time: nobody is texted
    assert Notification.objects.filter(kind="slot_delayed").count() == 1
    assert Token.objects.get(pk=promoted.pk).status == "CONFIRMED"


@pytest.mark.parametrize("language", ["ur", "en"])
@pytest.mark.parametrize("kind", [k for k, _ in Notification.Kind.choices])
def test_every_kind_has_a_message_in_urdu_and_english(settings, kind, language):
    settings.HOSPITAL_NAME = "Mayo Hospital"
    text = messages.render(kind=kind, language=language, number="GEN-007", room="Room 4",
                           extra={"delay_minutes": 20, "starts_at": "10:30", "ahead": 3})
    assert text.startswith("Mayo Hospital: ") and "GEN-007" in text and "Room 4" in text
    assert ("ٹوکن" in text) == (language == "ur")


def test_the_kinds_are_the_notices_core_defines():
    assert set(Notification.Kind.values) == {
        signals.VISIT_CALLED, signals.VISIT_CALLED_AGAIN, signals.TOKEN_CALLED, signals.TOKEN_PROMOTED,
        signals.SLOT_DELAYED, signals.SLOT_CANCELLED, signals.REMINDER_EVENING, signals.REMINDER_SOON,
        signals.VISIT_AHEAD,
    }


def test_counts_by_state_lists_every_state(adapters_on, called):
    desk, _ = called
    assert selectors.counts_by_state() == {"pending": 0, "sending": 0, "delivered": 0, "failed": 0,
                                             "skipped": 0}
    queue_services.call_next(desk=desk)
    Notification.objects.filter(adapter="webhook").update(state="failed")
    assert selectors.counts_by_state() == {"pending": 1, "sending": 0, "delivered": 0, "failed": 1,
                                             "skipped": 0}


def test_registration_takes_the_patients_wishes_over_the_api_and_the_form(api, reception):
    response = api.post("/api/v1/patients/", {"full_name": "Quiet One", "notify_opt_out": True,
                                              "notify_language": "en"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["notify_opt_out"] is True and response.json()["notify_language"] == "en"
    assert api.post("/api/v1/patients/", {"full_name": "X", "notify_language": "fr"},
                    format="json").status_code == 400

    client = Client()
    client.force_login(reception)
    page = client.get("/patients/register/").content.decode()
    assert 'name="notify_opt_out"' in page and 'type="checkbox"' in page
    client.post("/patients/register/", {"full_name": "Form Patient", "notify_opt_out": "on", "notify_language": "ur"})
    assert Patient.objects.get(full_name="Form Patient").notify_opt_out is True


def test_the_admin_shows_delivery_state_and_sends_failed_rows_again(adapters_on, called):
    desk, _ = called
    queue_services.call_next(desk=desk)
    Notification.objects.filter(adapter="sms").update(state="failed", attempts=5, last_error="HTTP 502")
    make_user("boss", "admin", is_staff=True)
    client = Client()
    client.login(username="boss", password="pw-boss")
    page = client.get("/admin/notifications/notification/", {"state": "failed"}).content.decode()
    assert "HTTP 502" in page and "Send again" in page
    failed = Notification.objects.get(adapter="sms")
    response = client.post("/admin/notifications/notification/",
                           {"action": "send_again", "_selected_action": [failed.pk]})
    assert response.status_code == 302
    assert Notification.objects.get(pk=failed.pk).state == "pending"
    assert client.get(f"/admin/notifications/notification/{failed.pk}/change/").status_code == 200  # read-only view


def test_a_desk_calling_again_and_a_doctor_calling_next_write_their_kinds(adapters_on, settings, called):
    settings.NOTIFY_WEBHOOK_URL = ""
    desk, patient = called
    visit = queue_services.call_next(desk=desk)
    queue_services.call_again(visit=visit)
    doctor = token_services.create_doctor(name="Dr. Imran")
    start = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    slot = token_services.create_slot(doctor=doctor, start_time=start, end_time=start + datetime.timedelta(hours=1),
                                      max_capacity=5)
    token_services.book_token(slot_id=slot.pk, patient=patient, category="WALKIN")
    token_services.call_next_token(slot_id=slot.pk)
    assert list(Notification.objects.order_by("pk").values_list("kind", "number", "room")) == [
        ("visit_called", "GEN-001", "Room 4"), ("visit_called_again", "GEN-001", "Room 4"),
        ("token_called", "1", "Dr. Imran"),
    ]
