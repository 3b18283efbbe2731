"""Slots that are over cannot be booked, estimates are never in the past, and a doctor logs in to run their own room:
call next, call again (the board announces it), and a page that refreshes itself with ETags like the board."""

import datetime
import os
import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from queues.views import board_key
from tests.conftest import CHROMIUM, browser_context, make_user, press_shortcut
from tests.tokens.conftest import make_patients, make_slot
from tokens import selectors, services
from tokens.models import Category, Token


def minutes_ago(minutes: int) -> datetime.datetime:
    return timezone.now().replace(second=0, microsecond=0) - datetime.timedelta(minutes=minutes)


@pytest.fixture
def doctor_user(db):
    return make_user("drkhan", "doctor")


def test_a_slot_that_is_over_is_greyed_out_and_refused_by_the_booking_form(desk, doctor):
    over = make_slot(doctor, minutes_ago(180), minutes=60)
    running = make_slot(doctor, minutes_ago(10), minutes=60)
    (patient,) = make_patients(1)
    page = desk.get("/opd/book/").content.decode()
    row = page.split('data-testid="slot-over"')[1].split("</tr>")[0]
    assert f'value="{over.pk}"' in row and "disabled" in row and "Over" in row
    assert page.count('data-testid="slot-over"') == 1  # the running slot stays bookable
    answer = desk.post("/opd/book/", {"slot": over.pk, "patient": patient.mrn, "category": Category.WALKIN})
    assert answer.status_code == 200 and "This slot is over: choose a later one." in answer.content.decode()
    assert not Token.objects.exists()
    assert desk.post("/opd/book/", {"slot": running.pk, "patient": patient.mrn, "category": Category.WALKIN}).status_code == 302


def test_an_emergency_booked_after_the_slot_began_is_not_estimated_in_the_past(doctor):
    slot = make_slot(doctor, minutes_ago(8), minutes=60, capacity=4)
    (patient,) = make_patients(1)
    booked_at = timezone.now()
    token = services.book_token(slot_id=slot.pk, patient=patient, category=Category.EMERGENCY)
    estimate = selectors.tokens_in_queue().get(pk=token.pk).estimated_time
    assert estimate >= booked_at - datetime.timedelta(seconds=1)  # not the slot's start, 8 minutes ago
    services.cancel_token(token_id=token.pk)
    assert selectors.tokens_in_queue().get(pk=token.pk).estimated_time is None  # only waiting tokens have one


def test_a_doctor_logs_in_runs_the_room_and_calls_again_but_books_nothing(doctor, doctor_user):
    slot = make_slot(doctor, minutes_ago(5), minutes=60)
    (token,) = [services.book_token(slot_id=slot.pk, patient=p, category=Category.WALKIN) for p in make_patients(1)]
    client = Client()
    assert client.login(username="drkhan", password="pw-drkhan")
    room = f"/opd/room/{doctor.pk}/"
    assert 'href="/opd/room/"' in client.get("/").content.decode()  # the home page leads to the rooms
    assert client.get("/opd/book/").status_code == 403
    assert client.post(f"/opd/room/slots/{slot.pk}/call-next/").status_code == 302
    called = Token.objects.get(pk=token.pk)
    assert 'data-testid="room-call-again"' in client.get(room).content.decode()
    client.post(f"/opd/room/tokens/{token.pk}/call-again/")
    again = Token.objects.get(pk=token.pk)
    assert again.announced_at > called.announced_at and again.called_at == called.called_at
    board = Client().get(f"/board/?key={board_key()}&sources=opd").content.decode()
    assert "OPD 1" in board.split('data-testid="now-calling"')[1].split("</section>")[0]
    client.post(f"/opd/room/tokens/{token.pk}/start/")
    answer = client.post(f"/opd/room/tokens/{token.pk}/call-again/", follow=True).content.decode()
    assert "only a called token is called again" in answer


def test_the_room_answers_304_while_nothing_changed(doctor, doctor_user):
    slot = make_slot(doctor, minutes_ago(5), minutes=60)
    client = Client()
    client.force_login(doctor_user)
    room = f"/opd/room/{doctor.pk}/?slot={slot.pk}"
    first = client.get(room)
    assert first.status_code == 200 and first["ETag"]
    assert client.get(room, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    services.book_token(slot_id=slot.pk, patient=make_patients(1)[0], category=Category.WALKIN)
    assert client.get(room, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")
@pytest.mark.django_db(transaction=True)
def test_the_open_room_page_shows_a_new_booking_without_a_reload(live_server, doctor, doctor_user):
    slot = make_slot(doctor, minutes_ago(5), minutes=60)
    patients = make_patients(1)

    def book_elsewhere():  # reception books at its own desk while the room page is open
        try:
            services.book_token(slot_id=slot.pk, patient=patients[0], category=Category.WALKIN)
        finally:
            connection.close()

    with browser_context(live_server, doctor_user) as context:
        page = context.new_page()
        page.goto(f"/opd/room/{doctor.pk}/")
        assert page.locator("[data-testid=room-call-next]").is_disabled()
        with page.expect_response(lambda r: f"/opd/room/{doctor.pk}/" in r.url and r.status == 304, timeout=6000):
            pass  # an unchanged room costs a 304
        worker = threading.Thread(target=book_elsewhere)
        worker.start()
        worker.join()
        page.wait_for_selector("[data-testid=room-call-next]:not([disabled])", timeout=6000)
        press_shortcut(page, "n")
        page.wait_for_selector("[data-testid=room-token]:has-text('1')")
        press_shortcut(page, "a")
        page.wait_for_selector(".messages:has-text('called again')")
        assert not context.blocked
