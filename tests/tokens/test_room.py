"""The doctor's room calls the next token of a slot in priority order, starts, completes and marks
no-shows; a slot's waiting list can be promoted and cancelled; messages to the desk use names and written dates."""

import re

import pytest

from core.errors import DomainError
from tests.tokens.conftest import at, make_patients, make_slot
from tokens import selectors, services
from tokens.models import Category, Slot, Token, WaitingListEntry


def book(slot, patients, categories):
    return [services.book_token(slot_id=slot.pk, patient=p, category=c) for p, c in zip(patients, categories)]


def test_call_next_takes_the_slot_queue_in_priority_order_one_at_a_time(slot):
    walkin, followup, emergency = book(slot, make_patients(3), [Category.WALKIN, Category.FOLLOWUP, Category.EMERGENCY])
    assert services.call_next_token(slot_id=slot.pk).pk == emergency.pk
    with pytest.raises(DomainError, match="is still with Dr. Ayesha Khan"):
        services.call_next_token(slot_id=slot.pk)
    services.start_token(token_id=emergency.pk)
    services.complete_token(token_id=emergency.pk)
    assert services.call_next_token(slot_id=slot.pk).pk == followup.pk
    services.mark_no_show(token_id=followup.pk)
    assert services.call_next_token(slot_id=slot.pk).pk == walkin.pk
    services.complete_token(token_id=walkin.pk)
    with pytest.raises(DomainError, match="Nobody is waiting"):
        services.call_next_token(slot_id=slot.pk)


def test_a_token_starts_only_once_and_only_after_its_call(slot):
    (token,) = book(slot, make_patients(1), [Category.ONLINE])
    with pytest.raises(DomainError, match="has not been called"):
        services.start_token(token_id=token.pk)
    services.call_next_token(slot_id=slot.pk)
    services.start_token(token_id=token.pk)
    with pytest.raises(DomainError, match="already started"):
        services.start_token(token_id=token.pk)
    token.refresh_from_db()
    assert token.called_at <= token.started_at and token.status == Token.Status.CONFIRMED


def test_the_current_slot_is_the_one_running_else_the_next_else_the_last(doctor):
    nine, ten = make_slot(doctor, at(9)), make_slot(doctor, at(10))
    assert selectors.current_slot([nine, ten], at(9, 30)) == nine
    assert selectors.current_slot([nine, ten], at(10)) == ten
    assert selectors.current_slot([nine, ten], at(8)) == nine
    assert selectors.current_slot([nine, ten], at(12)) == ten
    assert selectors.current_slot([], at(12)) is None


def test_promote_seats_a_waiting_patient_only_when_a_place_is_free(doctor):
    slot = make_slot(doctor, at(9), capacity=1)
    seated, waiting = make_patients(2)
    book(slot, [seated, waiting], [Category.ONLINE, Category.WALKIN])
    entry = WaitingListEntry.objects.get()
    with pytest.raises(DomainError, match="has no free place"):
        services.promote_waiting_entry(entry_id=entry.pk)
    Slot.objects.filter(pk=slot.pk).update(max_capacity=2)
    token = services.promote_waiting_entry(entry_id=entry.pk)
    assert (token.patient, token.token_number, token.created_at) == (waiting, 2, entry.created_at)
    assert not WaitingListEntry.objects.exists()


def test_errors_name_the_doctor_and_the_day_in_words_without_ids(slot):
    (patient,) = make_patients(1)
    (token,) = book(slot, [patient], [Category.ONLINE])
    with pytest.raises(DomainError) as refused:
        services.book_token(slot_id=slot.pk, patient=patient, category=Category.ONLINE)
    message = str(refused.value)
    assert message == (f"Patient 0 ({patient.mrn}) already holds token 1 with Dr. Ayesha Khan on "
                       f"{at(9).day} {at(9):%b %Y}.")
    assert str(token.pk) not in message and not re.search(r"\d{4}-\d{2}-\d{2}", message)


def test_the_room_page_drives_a_token_from_waiting_to_completed(desk, doctor):
    slot = make_slot(doctor, at(9))
    (token,) = book(slot, make_patients(1), [Category.ONLINE])
    room = f"/opd/room/{doctor.pk}/?slot={slot.pk}"
    assert 'data-testid="room-call-next"' in desk.get(room).text
    assert desk.post(f"/opd/room/slots/{slot.pk}/call-next/").status_code == 302
    assert 'data-testid="room-start"' in desk.get(room).text
    desk.post(f"/opd/room/tokens/{token.pk}/start/")
    assert 'data-testid="room-complete"' in desk.get(room).text
    desk.post(f"/opd/room/tokens/{token.pk}/complete/")
    token.refresh_from_db()
    assert token.status == Token.Status.COMPLETED and token.actual_time is not None
    again = desk.post(f"/opd/room/tokens/{token.pk}/complete/", follow=True)
    assert "Token 1 is completed, not confirmed." in again.text  # a message, not a 500


def test_the_waiting_list_page_promotes_and_cancels(desk, doctor):
    slot = make_slot(doctor, at(9), capacity=1)
    book(slot, make_patients(3), [Category.ONLINE, Category.WALKIN, Category.FOLLOWUP])
    page = desk.get(f"/opd/slots/{slot.pk}/waiting/").text
    assert page.index("Patient 2") < page.index("Patient 1")  # follow-up before walk-in
    first = WaitingListEntry.objects.get(patient__full_name="Patient 2")
    response = desk.post(f"/opd/waiting/{first.pk}/cancel/", follow=True)
    assert "Patient 2 is off the waiting list." in response.text
    refused = desk.post(f"/opd/waiting/{WaitingListEntry.objects.get().pk}/promote/", follow=True)
    assert "has no free place" in refused.text and WaitingListEntry.objects.count() == 1
