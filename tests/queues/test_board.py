"""The waiting-room board (key in the URL, tokens only, ETag/304 polling), the notifier hook and queue_check."""

import json
import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from queues import services
from queues.models import Visit
from queues.views import board_key
from tests.queues.conftest import make_desk, make_patients


@pytest.fixture
def called_board(general, lab):
    """GEN-001 called to Room 1, GEN-002 and LAB-001 waiting."""
    desk = make_desk("Room 1", general)
    a, b = make_patients(2)
    services.issue_visit(patient=a, queue=general)
    services.issue_visit(patient=b, queue=general)
    services.issue_visit(patient=a, queue=lab)
    services.call_next(desk=desk)
    return desk, (a, b)


def test_the_board_needs_its_key_not_a_login(called_board):
    client = Client()
    assert client.get("/board/", {"queues": "GEN"}).status_code == 403
    assert client.get("/board/", {"queues": "GEN", "key": "wrong"}).status_code == 403
    assert client.get("/board/panel/", {"queues": "GEN", "key": "wrong"}).status_code == 403
    assert client.get("/board/", {"queues": "GEN,NOPE", "key": board_key()}).status_code == 404
    assert client.get("/board/", {"queues": "GEN", "key": board_key()}).status_code == 200


def test_the_board_shows_called_tokens_with_desks_and_the_next_waiting_but_no_names(called_board):
    _, patients = called_board
    html = Client().get("/board/", {"queues": "GEN,LAB", "key": board_key()}).content.decode()
    assert 'data-testid="called-token">GEN-001<' in html and "Room 1" in html
    assert html.index("GEN-002") < html.index("LAB-001")
    assert "htmx.min.js" in html and 'hx-trigger="every 1s"' in html
    for patient in patients:
        assert patient.full_name not in html and patient.mrn not in html


def test_the_panel_answers_304_until_something_changes(called_board, general):
    desk, _ = called_board
    client, query = Client(), {"queues": "GEN", "key": board_key()}
    first = client.get("/board/panel/", query)
    assert first.status_code == 200 and first["ETag"]
    assert client.get("/board/panel/", query, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    services.mark_no_show(visit=Visit.objects.get(token_number=1, queue=general))
    changed = client.get("/board/panel/", query, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    assert 'data-testid="called-token">GEN-001<' not in changed.content.decode()


# The notifier hook: tests plug in one that records where and when it ran.
notified = []
release = threading.Event()


def recording_notifier(queue_ids):
    notified.append((queue_ids, threading.current_thread().name))


def blocking_notifier(queue_ids):
    release.wait(5)
    notified.append((queue_ids, "after release"))


def wait_for(predicate, seconds=3.0):
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def test_notifiers_run_after_commit_off_the_request_thread(general, settings, django_capture_on_commit_callbacks):
    settings.QUEUE_BOARD_NOTIFIERS = ["tests.queues.test_board.recording_notifier"]
    notified.clear()
    desk = make_desk("Room 1", general)
    (patient,) = make_patients(1)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.issue_visit(patient=patient, queue=general)
        services.call_next(desk=desk)
    assert not notified  # nothing before commit
    for callback in callbacks:
        callback()
    assert wait_for(lambda: len(notified) == 2)
    assert notified == [([general.pk], "board-notifier")] * 2


def test_a_failed_call_notifies_nobody(general, settings, django_capture_on_commit_callbacks):
    settings.QUEUE_BOARD_NOTIFIERS = ["tests.queues.test_board.recording_notifier"]
    notified.clear()
    desk = make_desk("Room 1", general)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Exception):
            services.call_next(desk=desk)
    assert not callbacks and not notified


@pytest.mark.django_db(transaction=True)
def test_a_stuck_notifier_never_holds_up_call_next(general, asst, settings):
    settings.QUEUE_BOARD_NOTIFIERS = ["tests.queues.test_board.blocking_notifier"]
    notified.clear()
    release.clear()
    desk = make_desk("Room 1", general)
    for patient in make_patients(3):
        services.issue_visit(patient=patient, queue=general)  # the notifier is now stuck on the first of these
    api = APIClient()
    api.force_authenticate(asst)
    started = time.monotonic()
    response = api.post(f"/api/v1/desks/{desk.pk}/call-next/")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed < 2.5 and not notified  # answered while the notifier still waits (up to 5 s)
    release.set()
    assert wait_for(lambda: len(notified) == 4)


def test_queue_check_prints_a_report_per_queue_and_fails_on_a_missing_token(general, lab, capsys):
    a, b = make_patients(2)
    for patient in (a, b):
        services.issue_visit(patient=patient, queue=general)
    call_command("queue_check")
    reports = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["queue"], r["ok"], r["max_token"], r["max_position"]) for r in reports] == [
        ("GEN", True, 2, 2), ("LAB", True, 0, 0)
    ]
    Visit.objects.filter(token_number=1).delete()  # a lost number, as seed 000's retry loop could cause
    with pytest.raises(CommandError, match="GEN"):
        call_command("queue_check", "--queue", "gen")
    report = json.loads(capsys.readouterr().out)
    assert (report["missing_tokens"], report["ok"]) == ([1], False)
    call_command("queue_check", "--date", "2001-01-01")
    with pytest.raises(CommandError):
        call_command("queue_check", "--queue", "NOPE")
