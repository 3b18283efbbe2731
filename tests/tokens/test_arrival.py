"""OPD arrival: a token is checked in once (desk or the patient's page), the doctor's Call next skips tokens not
checked in past the grace, and `opd_no_shows` ends them after the slot plus the grace, promoting the waiting list
as the room's No-show button does."""

import datetime
import io

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client

from core.errors import DomainError
from tests.tokens.conftest import at, make_patients, make_slot
from tokens import services
from tokens.models import Category, Token, WaitingListEntry
from tokens.views import my_token_link

GRACE = datetime.timedelta(minutes=15)  # OPD_CHECK_IN_GRACE_MINUTES's default, set below


@pytest.fixture
def morning(settings, doctor):
    """Today 09:50 in the hospital's zone (the clock runs on), a 10:00-11:00 slot of 2 places, 2 tokens booked
    and one patient on its waiting list: (slot, [token 1, token 2], entry)."""
    settings.OPD_CHECK_IN_GRACE_MINUTES = 15
    with time_machine.travel(at(9, 50, days=0), tick=True):
        slot = make_slot(doctor, at(10, days=0), capacity=2)
        first, second, waiting = make_patients(3)
        tokens = [services.book_token(slot_id=slot.pk, patient=p, category=Category.WALKIN) for p in (first, second)]
        entry = services.book_token(slot_id=slot.pk, patient=waiting, category=Category.WALKIN)
        assert isinstance(entry, WaitingListEntry)
        yield slot, tokens, entry


def test_checking_in_twice_keeps_the_first_time(morning):
    _, (token, _), _ = morning
    first = services.check_in(token_id=token.pk).checked_in_at
    assert first is not None
    assert services.check_in(token_id=token.pk).checked_in_at == first
    assert Token.objects.get(pk=token.pk).checked_in_at == first


def test_an_ended_token_or_one_of_another_day_does_not_check_in(morning, doctor):
    _, (token, _), _ = morning
    services.cancel_token(token_id=token.pk)
    with pytest.raises(DomainError, match="cancelled, not confirmed"):
        services.check_in(token_id=token.pk)
    tomorrow = make_slot(doctor, at(10))
    booked = services.book_token(slot_id=tomorrow.pk, patient=make_patients(1)[0], category=Category.WALKIN)
    with pytest.raises(DomainError, match="check in that day"):
        services.check_in(token_id=booked.pk)
    assert Token.objects.get(pk=booked.pk).checked_in_at is None


def test_call_next_skips_tokens_not_checked_in_once_the_grace_has_passed(morning):
    slot, (first, second), _ = morning
    services.check_in(token_id=second.pk)
    with time_machine.travel(at(10, 14, days=0), tick=False):  # within the grace: queue order, arrived or not
        assert services.call_next_token(slot_id=slot.pk).pk == first.pk
    Token.objects.filter(pk=first.pk).update(called_at=None, announced_at=None)  # as if never called
    with time_machine.travel(at(10, 15, days=0), tick=False):  # past it: token 1 has not come, token 2 has
        assert services.call_next_token(slot_id=slot.pk).pk == second.pk
        services.start_token(token_id=second.pk)
        services.complete_token(token_id=second.pk)
        with pytest.raises(DomainError, match=r"Nobody who has checked in is waiting .*\(1 not arrived\)"):
            services.call_next_token(slot_id=slot.pk)
        services.check_in(token_id=first.pk)  # late, but here: called now
        assert services.call_next_token(slot_id=slot.pk).pk == first.pk


def test_after_the_slot_and_the_grace_absent_tokens_become_no_shows_and_the_waiting_list_moves_up(morning):
    slot, (first, second), entry = morning
    services.check_in(token_id=second.pk)
    end = slot.end_time
    assert services.no_show_absent(now=end + GRACE - datetime.timedelta(seconds=1)) == []
    with time_machine.travel(end + GRACE, tick=False):
        out = io.StringIO()
        call_command("opd_no_shows", stdout=out)
    first.refresh_from_db()
    assert first.status == Token.Status.NO_SHOW and first.ended_by is None
    promoted = Token.objects.get(slot=slot, patient=entry.patient)
    assert (promoted.status, promoted.token_number) == (Token.Status.CONFIRMED, 3)
    assert not WaitingListEntry.objects.exists()
    assert out.getvalue() == f"No-show: token 1 of slot {slot.pk}; promoted token 3\n"
    assert Token.objects.get(pk=second.pk).status == Token.Status.CONFIRMED  # arrived: waits for the doctor
    # The promoted patient gets the grace from their promotion, not a no-show on the next run.
    assert services.no_show_absent(now=end + GRACE + datetime.timedelta(minutes=1)) == []
    late = services.no_show_absent(now=promoted.promoted_at + GRACE)
    assert [(t.pk, p) for t, p in late] == [(promoted.pk, None)]


def test_the_automatic_no_show_leaves_a_token_that_arrived_meanwhile(morning):
    slot, (first, _), _ = morning
    Token.objects.filter(pk=first.pk).update(checked_in_at=slot.start_time)  # arrived after the query's read
    with pytest.raises(DomainError, match="has arrived or been called"):
        services.mark_no_show(token_id=first.pk, absent_only=True)
    assert Token.objects.get(pk=first.pk).status == Token.Status.CONFIRMED


def test_i_am_here_on_the_token_page_checks_in_without_login_once(morning):
    _, (token, _), _ = morning
    client = Client(enforce_csrf_checks=True)
    link = my_token_link(token)
    page = client.get(link)
    assert page.status_code == 200 and 'data-testid="here"' in page.text
    assert token.patient.full_name not in page.text and token.patient.mrn not in page.text
    csrf = client.cookies["csrftoken"].value
    for _ in range(2):
        answer = client.post(f"{link}here/", {"csrfmiddlewaretoken": csrf})
        assert answer.status_code == 302 and answer["Location"] == link
    checked = Token.objects.get(pk=token.pk).checked_in_at
    assert checked is not None
    assert "Checked in at" in client.get(link).text
    assert client.post(f"{link[:-2]}x/here/", {"csrfmiddlewaretoken": csrf}).status_code == 404


def test_the_desk_checks_a_token_in_from_the_room_page(morning, desk):
    slot, (token, _), _ = morning
    room = desk.get(f"/opd/room/{slot.doctor_id}/?slot={slot.pk}").text
    assert f'data-testid="check-in-{token.token_number}"' in room
    answer = desk.post(f"/opd/room/tokens/{token.pk}/check-in/", follow=True)
    assert f"Token {token.token_number} checked in" in answer.text
    assert f'data-testid="check-in-{token.token_number}"' not in answer.text
    assert Token.objects.get(pk=token.pk).checked_in_at is not None


def test_the_entrance_qr_opens_the_token_page_this_phone_opened_today(morning, desk):
    _, (token, other), _ = morning
    phone = Client()
    assert "Scan the QR on your token slip" in phone.get("/opd/here/").text  # nothing opened yet
    phone.get(my_token_link(token))
    answer = phone.get("/opd/here/")
    assert answer.status_code == 302 and answer["Location"] == my_token_link(token)
    phone.get(my_token_link(other))  # a second token on the same phone: the phone asks which
    both = phone.get("/opd/here/").text
    assert my_token_link(token) in both and my_token_link(other) in both
    services.cancel_token(token_id=token.pk)  # an ended token is left out
    assert phone.get("/opd/here/")["Location"] == my_token_link(other)
    phone.cookies["tokenline_opd"] = "1.20991231:forged"
    assert "Scan the QR on your token slip" in phone.get("/opd/here/").text
    sign = desk.get("/opd/entrance/")
    assert sign.status_code == 200 and "http://testserver/opd/here/" in sign.text


def test_the_api_checks_a_token_in_once_and_shows_when(morning, api):
    _, (token, _), _ = morning
    first = api.post(f"/api/v1/tokens/{token.pk}/check_in/")
    assert first.status_code == 200, first.content
    arrived = first.json()["checked_in_at"]
    assert arrived is not None
    again = api.post(f"/api/v1/tokens/{token.pk}/check_in/")
    assert (again.status_code, again.json()["checked_in_at"]) == (200, arrived)
    assert api.get(f"/api/v1/tokens/{token.pk}/").json()["checked_in_at"] == arrived
    services.cancel_token(token_id=token.pk)
    refused = api.post(f"/api/v1/tokens/{token.pk}/check_in/")
    assert refused.status_code == 409 and "not confirmed" in refused.json()["detail"]
