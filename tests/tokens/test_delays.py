"""Doctor delays cascade over the day's later slots; estimated times follow."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from core.errors import DomainError
from tests.tokens.conftest import at, make_patients, make_slot
from tokens import selectors, services
from tokens.models import Category, Slot

MINUTE = datetime.timedelta(minutes=1)


def delays(*slots):
    return [(s.delay_minutes, s.status) for s in Slot.objects.filter(pk__in=[s.pk for s in slots]).order_by("start_time")]


@pytest.mark.django_db
def test_a_delay_cascades_fully_over_back_to_back_slots(doctor):
    slots = [make_slot(doctor, at(9)), make_slot(doctor, at(10)), make_slot(doctor, at(11))]
    changed = services.delay_slot(slot_id=slots[0].pk, delay_minutes=30)
    assert [s.pk for s in changed] == [s.pk for s in slots]
    assert delays(*slots) == [(30, "DELAYED")] * 3


@pytest.mark.django_db
def test_gaps_between_slots_absorb_the_delay(doctor):
    slots = [make_slot(doctor, at(9)), make_slot(doctor, at(10, 15)), make_slot(doctor, at(11, 30))]
    services.delay_slot(slot_id=slots[0].pk, delay_minutes=30)
    assert delays(*slots) == [(30, "DELAYED"), (15, "DELAYED"), (0, "ACTIVE")]


@pytest.mark.django_db
def test_only_later_slots_of_the_same_doctor_that_day_move(doctor):
    earlier = make_slot(doctor, at(8))
    slot = make_slot(doctor, at(9))
    tomorrow = make_slot(doctor, at(10, days=2))
    other = make_slot(services.create_doctor(name="Dr. Other"), at(10))
    services.delay_slot(slot_id=slot.pk, delay_minutes=45)
    assert delays(earlier, slot, tomorrow, other) == [(0, "ACTIVE"), (45, "DELAYED"), (0, "ACTIVE"), (0, "ACTIVE")]


@pytest.mark.django_db
def test_a_cascade_never_shortens_a_later_slots_own_delay_and_zero_ends_the_delay(doctor):
    first, second = make_slot(doctor, at(9)), make_slot(doctor, at(10))
    services.delay_slot(slot_id=second.pk, delay_minutes=40)
    services.delay_slot(slot_id=first.pk, delay_minutes=10)
    assert delays(first, second) == [(10, "DELAYED"), (40, "DELAYED")]
    services.delay_slot(slot_id=first.pk, delay_minutes=0)
    assert delays(first, second) == [(0, "ACTIVE"), (40, "DELAYED")]


@pytest.mark.django_db
def test_estimated_times_follow_the_delay_and_the_position(doctor):
    first = make_slot(doctor, at(9), minutes=60, capacity=4)
    second = make_slot(doctor, at(10), minutes=60, capacity=4)
    for patient, slot in zip(make_patients(3), [first, first, second]):
        services.book_token(slot_id=slot.pk, patient=patient, category=Category.ONLINE)
    services.delay_slot(slot_id=first.pk, delay_minutes=20)
    assert [t.estimated_time for t in selectors.slot_queue(first)] == [at(9, 20), at(9, 35)]
    assert [t.estimated_time for t in selectors.slot_queue(second)] == [at(10, 20)]


@pytest.mark.django_db
@pytest.mark.parametrize("minutes", [-1, 721])
def test_a_negative_or_over_12_hour_delay_is_refused(slot, minutes):
    with pytest.raises(ValidationError):
        services.delay_slot(slot_id=slot.pk, delay_minutes=minutes)
    assert delays(slot) == [(0, "ACTIVE")]


@pytest.mark.django_db
def test_a_cancelled_slot_cannot_be_delayed(slot):
    services.cancel_slot(slot_id=slot.pk)
    with pytest.raises(DomainError):
        services.delay_slot(slot_id=slot.pk, delay_minutes=10)
