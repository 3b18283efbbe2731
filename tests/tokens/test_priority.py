"""Seed 002's priority rule, computed in SQL at read time: base - min(hours since booking x 0.1, 1.0)."""

import datetime

import pytest
from django.db.models import F
from django.utils import timezone

from tests.tokens.conftest import make_patients
from tokens import selectors, services
from tokens.models import Category, Token, WaitingListEntry


def book(slot, category, hours_ago: float, model=Token):
    (patient,) = make_patients(1)
    booked = services.book_token(slot_id=slot.pk, patient=patient, category=category)
    assert isinstance(booked, model)
    model.objects.filter(pk=booked.pk).update(created_at=timezone.now() - datetime.timedelta(hours=hours_ago))
    return booked


@pytest.mark.django_db
def test_the_seed_example_online_booked_2_hours_ago_scores_3_8_and_goes_before_3_95(slot):
    later = book(slot, Category.ONLINE, 0.5)  # booked first, but 30 minutes ago by its booking time
    earlier = book(slot, Category.ONLINE, 2)
    queue = list(selectors.slot_queue(slot))
    assert [t.pk for t in queue] == [earlier.pk, later.pk]
    assert queue[0].final_priority == pytest.approx(3.8, abs=1e-3)
    assert queue[1].final_priority == pytest.approx(3.95, abs=1e-3)
    assert [t.position for t in queue] == [1, 2]


@pytest.mark.django_db
def test_the_time_bonus_stops_at_one_tier_and_ties_go_to_the_earlier_booking(slot):
    old_walkin = book(slot, Category.WALKIN, 30)  # 5 - 1.0 (capped) = 4.0
    fresh_online = book(slot, Category.ONLINE, 0)  # 4 - 0 = 4.0, booked later
    queue = list(selectors.slot_queue(slot))
    assert queue[0].final_priority == pytest.approx(4.0, abs=1e-3)
    assert [t.pk for t in queue] == [old_walkin.pk, fresh_online.pk]


@pytest.mark.django_db
def test_emergencies_come_first_even_against_an_aged_paid_token(slot):
    paid = book(slot, Category.PRIORITY_PAID, 50)  # 2 - 1.0 = 1.0, as good as an emergency's number
    emergency = book(slot, Category.EMERGENCY, 0)
    assert [t.pk for t in selectors.slot_queue(slot)] == [emergency.pk, paid.pk]


@pytest.mark.django_db
def test_nothing_is_stored_as_time_passes_and_numbers_never_change(slot):
    first = book(slot, Category.WALKIN, 0)
    second = book(slot, Category.FOLLOWUP, 0)
    before = list(Token.objects.order_by("pk").values("token_number", "priority", "updated_at"))
    Token.objects.filter(pk=first.pk).update(created_at=F("created_at") - datetime.timedelta(hours=30))
    assert [t.pk for t in selectors.slot_queue(slot)] == [second.pk, first.pk]  # 3.0 before 4.0
    assert list(Token.objects.order_by("pk").values("token_number", "priority", "updated_at")) == before


@pytest.mark.django_db
def test_positions_ignore_list_filters_and_cancelled_tokens(slot):
    paid = book(slot, Category.PRIORITY_PAID, 0)
    walkin = book(slot, Category.WALKIN, 0)
    online = book(slot, Category.ONLINE, 0)
    services.cancel_token(token_id=paid.pk)
    rows = selectors.tokens_in_queue().filter(category=Category.WALKIN)
    assert [(t.pk, t.position) for t in rows] == [(walkin.pk, 2)]
    cancelled = selectors.tokens_in_queue().get(pk=paid.pk)
    assert (cancelled.position, cancelled.estimated_time, cancelled.token_number) == (None, None, 1)
    assert selectors.tokens_in_queue().get(pk=online.pk).position == 1


@pytest.mark.django_db
def test_the_waiting_list_is_ordered_by_the_same_rule(slot):
    slot.max_capacity = 1
    slot.save()
    book(slot, Category.ONLINE, 0)
    walkin = book(slot, Category.WALKIN, 0, model=WaitingListEntry)
    online_old = book(slot, Category.ONLINE, 2, model=WaitingListEntry)
    online_new = book(slot, Category.ONLINE, 0.5, model=WaitingListEntry)
    rows = selectors.waiting_in_queue().order_by("waiting_position")
    assert [(e.pk, e.waiting_position) for e in rows] == [(online_old.pk, 1), (online_new.pk, 2), (walkin.pk, 3)]
    assert selectors.next_waiting_entry(slot).pk == online_old.pk
