"""Hard capacity, the waiting list and its promotions, emergency overflow: under real concurrency."""

import pytest
from django.db import transaction

from idseq.models import Counter, IssuedNumber
from tests.conftest import run_in_threads
from tests.tokens.conftest import at, make_patients, make_slot
from tokens import selectors, services
from tokens.models import Category, Slot, Token, WaitingListEntry

ORDINARY = [Category.PRIORITY_PAID, Category.FOLLOWUP, Category.ONLINE, Category.WALKIN]


@pytest.mark.django_db(transaction=True)
def test_50_concurrent_requests_fill_15_places_then_cancellations_promote_and_an_emergency_overflows():
    slot = make_slot(services.create_doctor(name="Dr. Busy"), at(9), capacity=15)
    patients = make_patients(50)

    booked, errors = run_in_threads(
        lambda i: services.book_token(slot_id=slot.pk, patient=patients[i], category=ORDINARY[i % 4]), 50
    )
    assert not errors
    tokens = [b for b in booked if isinstance(b, Token)]
    assert sorted(t.token_number for t in tokens) == list(range(1, 16))
    assert WaitingListEntry.objects.filter(slot=slot).count() == 35
    slot.refresh_from_db()
    assert (slot.current_capacity, slot.emergency_overflow) == (15, 0)

    best_waiting = [e.patient_id for e in selectors.waiting_in_queue().filter(slot=slot).order_by("waiting_position")]
    ended, errors = run_in_threads(lambda i: services.cancel_token(token_id=tokens[i].pk), 5)
    assert not errors
    promoted = [p for _, p in ended]
    assert sorted(p.token_number for p in promoted) == list(range(16, 21))
    assert sorted(p.patient_id for p in promoted) == sorted(best_waiting[:5])
    slot.refresh_from_db()
    assert (slot.current_capacity, slot.emergency_overflow) == (15, 0)
    assert WaitingListEntry.objects.filter(slot=slot).count() == 30
    assert Token.objects.filter(slot=slot, status=Token.Status.CANCELLED).count() == 5

    (extra,) = make_patients(1)
    emergency = services.book_token(slot_id=slot.pk, patient=extra, category=Category.EMERGENCY)
    assert isinstance(emergency, Token) and emergency.token_number == 21
    slot.refresh_from_db()
    assert (slot.current_capacity, slot.emergency_overflow) == (16, 1)
    assert selectors.slot_queue(slot).first().pk == emergency.pk


@pytest.mark.django_db
def test_cancelling_while_over_capacity_shrinks_the_overflow_instead_of_promoting(slot):
    slot.max_capacity = 1
    slot.save()
    first, emergency, waiting = make_patients(3)
    token = services.book_token(slot_id=slot.pk, patient=first, category=Category.ONLINE)
    services.book_token(slot_id=slot.pk, patient=emergency, category=Category.EMERGENCY)
    entry = services.book_token(slot_id=slot.pk, patient=waiting, category=Category.WALKIN)
    assert isinstance(entry, WaitingListEntry)

    assert services.cancel_token(token_id=token.pk)[1] is None
    slot.refresh_from_db()
    assert (slot.current_capacity, slot.emergency_overflow) == (1, 0)
    assert WaitingListEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db
def test_a_no_show_promotes_the_best_waiting_entry_keeping_its_booking_time(slot):
    slot.max_capacity = 1
    slot.save()
    seated, walkin, paid = make_patients(3)
    token = services.book_token(slot_id=slot.pk, patient=seated, category=Category.ONLINE)
    services.book_token(slot_id=slot.pk, patient=walkin, category=Category.WALKIN)
    paid_entry = services.book_token(slot_id=slot.pk, patient=paid, category=Category.PRIORITY_PAID)

    ended, promoted = services.mark_no_show(token_id=token.pk)
    assert ended.status == Token.Status.NO_SHOW
    assert (promoted.patient_id, promoted.token_number) == (paid.pk, 2)
    assert promoted.created_at == paid_entry.created_at
    assert list(WaitingListEntry.objects.values_list("patient_id", flat=True)) == [walkin.pk]


@pytest.mark.django_db
def test_promotion_skips_a_waiting_patient_who_meanwhile_got_a_token_with_the_doctor(doctor, slot):
    slot.max_capacity = 1
    slot.save()
    later = make_slot(doctor, at(11))
    seated, both, other = make_patients(3)
    token = services.book_token(slot_id=slot.pk, patient=seated, category=Category.ONLINE)
    services.book_token(slot_id=slot.pk, patient=both, category=Category.PRIORITY_PAID)
    services.book_token(slot_id=slot.pk, patient=other, category=Category.WALKIN)
    services.book_token(slot_id=later.pk, patient=both, category=Category.ONLINE)

    assert services.cancel_token(token_id=token.pk)[1].patient_id == other.pk


@pytest.mark.django_db
def test_a_failed_booking_consumes_no_token_number(slot):
    (patient,) = make_patients(1)
    services.book_token(slot_id=slot.pk, patient=patient, category=Category.ONLINE)
    with pytest.raises(services.DoubleBooking):
        services.book_token(slot_id=slot.pk, patient=patient, category=Category.WALKIN)
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        services.book_token(slot_id=slot.pk, patient=make_patients(1)[0], category=Category.ONLINE)
        1 / 0
    assert Counter.objects.get(sequence__key="slot-token", scope=services.token_scope(slot)).last_value == 1
    assert IssuedNumber.objects.filter(sequence__key="slot-token").count() == 1  # the rolled-back booking's went too
    assert Slot.objects.get(pk=slot.pk).current_capacity == 1


@pytest.mark.django_db
def test_a_patient_left_waiting_gets_a_free_place_and_leaves_the_waiting_list(doctor, slot):
    slot.max_capacity = 1
    slot.save()
    later = make_slot(doctor, at(11))
    seated, both = make_patients(2)
    token = services.book_token(slot_id=slot.pk, patient=seated, category=Category.ONLINE)
    services.book_token(slot_id=slot.pk, patient=both, category=Category.PRIORITY_PAID)  # waits
    other = services.book_token(slot_id=later.pk, patient=both, category=Category.ONLINE)
    assert services.cancel_token(token_id=token.pk)[1] is None  # skipped: holds a token with the doctor
    services.cancel_token(token_id=other.pk)

    seat = services.book_token(slot_id=slot.pk, patient=both, category=Category.PRIORITY_PAID)
    assert isinstance(seat, Token) and seat.token_number == 2
    assert not WaitingListEntry.objects.filter(slot=slot).exists()
