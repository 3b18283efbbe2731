"""Reminders before the call, with the clock frozen in the hospital's zone (Asia/Karachi): each due once at its
local time, never for a cancelled token (neither written nor, when cancelled after, sent), opt-out and language
respected, once when the scheduler runs twice or twice at once."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from notifications import delivery, messages
from notifications.models import Notification
from patients.services import register_patient
from queues import services as queue_services
from queues.models import Queue
from reminders import services
from tests.conftest import run_in_threads
from tests.queues.conftest import make_desk
from tokens import services as token_services

KARACHI = zoneinfo.ZoneInfo("Asia/Karachi")
BOOKED = datetime.datetime(2026, 12, 10, 10, 0, tzinfo=KARACHI)  # the slot is the next day at 11:00
SLOT_START = datetime.datetime(2026, 12, 11, 11, 0, tzinfo=KARACHI)


def karachi(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 12, day, hour, minute, tzinfo=KARACHI)


@pytest.fixture
def sms(settings):
    """SMS on (to a closed port: a reminder sent for real would be retried, never `skipped`); no webhook."""
    settings.NOTIFY_SMS_URL = "http://127.0.0.1:9/sms?to={phone}&text={message}"
    settings.NOTIFY_WEBHOOK_URL = ""
    settings.REMINDER_EVENING_AT, settings.REMINDER_BEFORE_MINUTES = "18:00", 120


def book(language="ur", **wishes):
    """At BOOKED, a patient with a phone books a token in a slot of the next day at 11:00; returns the token."""
    with time_machine.travel(BOOKED, tick=False):
        doctor = token_services.create_doctor(name="Dr. Ayesha Khan")
        slot = token_services.create_slot(doctor=doctor, start_time=SLOT_START,
                                          end_time=SLOT_START + datetime.timedelta(hours=1), max_capacity=5)
        patient = register_patient(full_name="Sana Bibi", phone="0300-1234567", notify_language=language, **wishes)
        return token_services.book_token(slot_id=slot.pk, patient=patient, category="ONLINE")


def run_at(moment: datetime.datetime) -> dict:
    with time_machine.travel(moment, tick=False):
        return services.send_due()


def reminders() -> list[tuple[str, str]]:
    return list(Notification.objects.order_by("created_at", "id").values_list("kind", "key"))


@pytest.mark.django_db
def test_each_reminder_is_written_once_at_its_local_time(sms):
    token = book()
    for moment in (karachi(10, 17, 59), karachi(10, 12, 0)):
        run_at(moment)
    assert reminders() == []
    run_at(karachi(10, 18, 0))
    run_at(karachi(10, 23, 30))  # a second run the same evening writes nothing more
    assert reminders() == [("reminder_evening", f"token:{token.pk}:reminder_evening")]
    run_at(karachi(11, 8, 59))  # 2 h 1 min before the slot
    assert len(reminders()) == 1
    run_at(karachi(11, 9, 0))
    run_at(karachi(11, 10, 30))
    assert reminders()[1:] == [("reminder_soon", f"token:{token.pk}:reminder_soon")]
    row = Notification.objects.get(kind="reminder_evening")
    assert row.created_at == karachi(10, 18, 0)
    assert (row.patient_id, row.number, row.room, row.language, row.extra) == (
        token.patient_id, "1", "Dr. Ayesha Khan", "ur", {"starts_at": "11:00"})
    assert messages.render(kind=row.kind, language="ur", number=row.number, room=row.room, extra=row.extra).endswith(
        "ٹوکن 1 کل 11:00 بجے ہے۔")


@pytest.mark.django_db
def test_the_reminder_before_follows_the_slots_delay_and_stops_once_it_started(sms):
    token = book()
    token_services.delay_slot(slot_id=token.slot_id, delay_minutes=30)  # now 11:30
    Notification.objects.all().delete()  # the delay's own message
    run_at(karachi(11, 9, 15))
    assert reminders() == []
    run_at(karachi(11, 9, 30))
    assert reminders() == [("reminder_soon", f"token:{token.pk}:reminder_soon")]
    assert Notification.objects.get().extra == {"starts_at": "11:30"}


@pytest.mark.django_db
def test_a_patient_who_booked_after_the_evening_moment_gets_only_the_reminder_before(sms):
    token = book()
    type(token).objects.filter(pk=token.pk).update(created_at=karachi(10, 19, 0))
    run_at(karachi(10, 20, 0))
    run_at(karachi(11, 9, 0))
    assert [kind for kind, _ in reminders()] == ["reminder_soon"]


@pytest.mark.django_db
def test_no_reminder_is_written_for_a_cancelled_token_or_a_cancelled_slot(sms):
    token = book()
    token_services.cancel_token(token_id=token.pk)
    run_at(karachi(10, 18, 0))
    run_at(karachi(11, 9, 0))
    assert reminders() == []


@pytest.mark.django_db
def test_a_reminder_written_before_the_token_was_cancelled_is_skipped_not_sent(sms):
    token = book()
    run_at(karachi(10, 18, 0))
    token_services.cancel_token(token_id=token.pk)
    with time_machine.travel(karachi(10, 18, 1), tick=False):
        assert delivery.deliver_due.call() == 1
    row = Notification.objects.get()
    assert (row.state, row.attempts) == ("skipped", 1)
    assert "no longer holds" in row.last_error


@pytest.mark.django_db
def test_a_reminder_still_wanted_is_sent(sms):
    book()
    run_at(karachi(10, 18, 0))
    with time_machine.travel(karachi(10, 18, 1), tick=False):
        delivery.deliver_due.call()
    # Sent to the closed port: connection refused, so pending again for a retry, not skipped.
    row = Notification.objects.get()
    assert (row.state, row.attempts) == ("pending", 1)
    assert "Could not reach" in row.last_error


@pytest.mark.django_db
def test_a_patient_who_opted_out_gets_no_reminder(sms):
    book(notify_opt_out=True)
    run_at(karachi(10, 18, 0))
    run_at(karachi(11, 9, 0))
    assert reminders() == []


@pytest.mark.django_db
def test_english_reminders_for_a_patient_who_chose_english(sms):
    book(language="en")
    run_at(karachi(11, 9, 0))
    row = Notification.objects.get()
    assert row.language == "en"
    assert messages.render(kind=row.kind, language=row.language, number=row.number, room=row.room,
                           extra=row.extra).endswith("reminder, token 1 with Dr. Ayesha Khan today at 11:00.")


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_at_once_write_each_reminder_once(sms, monkeypatch):
    # Both find every reminder unsent, as when both read before either commits: the outbox's unique key decides.
    monkeypatch.setattr(services, "written_keys", lambda keys: set())
    tokens = [book()]
    with time_machine.travel(BOOKED, tick=False):
        others = [register_patient(full_name=f"Patient {i}", phone="0300-7654321") for i in range(4)]
        tokens += [token_services.book_token(slot_id=tokens[0].slot_id, patient=p, category="ONLINE") for p in others]
    with time_machine.travel(karachi(10, 18, 0), tick=False):
        results, errors = run_in_threads(lambda i: services.send_due(), 2)
    assert not errors
    assert [result["reminder_evening"] for result in results] == [5, 5]
    keys = sorted(Notification.objects.values_list("key", flat=True))
    assert keys == sorted(f"token:{token.pk}:reminder_evening" for token in tokens)


@pytest.mark.django_db
def test_a_run_with_nothing_new_writes_nothing_and_wakes_no_worker(sms, django_capture_on_commit_callbacks):
    book()
    for minute in (0, 1, 2):
        with django_capture_on_commit_callbacks(execute=True):
            counts = run_at(karachi(10, 18, minute))
        assert counts["reminder_evening"] == (1 if minute == 0 else 0)
    assert DBTaskResult.objects.count() == 1
    assert len(reminders()) == 1


@pytest.mark.django_db
def test_the_command_runs_once_and_reports(sms, capsys):
    book()
    with time_machine.travel(karachi(10, 18, 0), tick=False):
        call_command("send_reminders")
    assert "reminder_evening: 1" in capsys.readouterr().out


@pytest.mark.django_db
def test_a_walk_in_visit_is_told_once_when_it_reaches_its_place(sms, settings):
    settings.REMINDER_VISIT_AHEAD = 2
    queue = Queue.objects.create(name="General", code="GEN")
    desk = make_desk("Room 4", queue)
    patients = [register_patient(full_name=f"Patient {i}", phone="0300-1234567") for i in range(5)]
    visits = [queue_services.issue_visit(patient=p, queue=queue) for p in patients]
    services.send_due()
    services.send_due()
    assert reminders() == [("visit_ahead", f"visit:{visits[2].pk}:visit_ahead")]
    queue_services.call_next(desk=desk)
    Notification.objects.filter(kind="visit_called").delete()
    services.line_moved([queue.pk])
    assert [key for _, key in reminders()] == [f"visit:{visits[2].pk}:visit_ahead", f"visit:{visits[3].pk}:visit_ahead"]
    row = Notification.objects.get(key=f"visit:{visits[3].pk}:visit_ahead")
    assert messages.render(kind=row.kind, language="en", number=row.number, room=row.room, extra=row.extra) == (
        "Tokenline Hospital: token GEN-004, 2 patients are ahead of you for General. Please stay close.")


@pytest.mark.django_db
def test_cancelling_a_slot_tells_each_confirmed_token_once(sms):
    token = book()
    with time_machine.travel(BOOKED, tick=False):
        other = token_services.book_token(
            slot_id=token.slot_id, patient=register_patient(full_name="Other", phone="0300-7654321"), category="WALKIN")
        token_services.cancel_token(token_id=other.pk)
        token_services.cancel_slot(slot_id=token.slot_id)
    assert reminders() == [("slot_cancelled", f"token:{token.pk}:slot_cancelled")]
    assert Notification.objects.get().extra == {"starts_at": "11:00"}
    with time_machine.travel(BOOKED, tick=False):
        delivery.deliver_due.call()
    assert Notification.objects.get().state == "pending"  # tried (closed port), not skipped


@pytest.mark.django_db
def test_the_admin_delays_or_cancels_a_slot_and_every_token_is_told_once(sms, admin_client):
    token = book()
    with time_machine.travel(BOOKED, tick=False):
        url = "/admin/tokens/slot/"
        for _ in range(2):
            response = admin_client.post(url, {"action": "delay_slots", "_selected_action": [token.slot_id]})
            assert response.status_code == 302
        admin_client.post(url, {"action": "cancel_slots", "_selected_action": [token.slot_id]})
    assert reminders() == [("slot_delayed", f"token:{token.pk}:slot_delayed:15"),
                           ("slot_delayed", f"token:{token.pk}:slot_delayed:30"),
                           ("slot_cancelled", f"token:{token.pk}:slot_cancelled")]
    assert Notification.objects.filter(kind="slot_cancelled").get().extra == {"starts_at": "11:30"}
