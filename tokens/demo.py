"""A realistic OPD morning for the demo: `seed_opd --morning`.

Bookings go through `tokens.services` (numbers, capacity, waiting list and priority as at the desk): each demo
doctor's current slot gets a day's mix of categories with one emergency, the first tokens are seen in the room
(called, started, completed) and one is with the doctor now; one slot is full with patients on its waiting list.
When every slot of today is over (an evening start), each doctor gets an evening slot from this hour so the demo
still has a clinic in progress. Development data only.
"""

import datetime
import random

from django.utils import timezone

from core.errors import DomainError
from patients.models import Patient
from tokens import selectors, services
from tokens.models import Category, Doctor, Slot, Token

CATEGORIES = [Category.WALKIN] * 5 + [Category.FOLLOWUP] * 2 + [Category.ONLINE] * 2 + [Category.PRIORITY_PAID]
BOOKED, SEEN, WAITING = 8, 3, 3  # per doctor: bookings, consultations done; waiting-list entries of the full slot


def play_morning(*, doctors: list[Doctor], rng: random.Random, now: datetime.datetime | None = None) -> int:
    """Book and see today's demo OPD tokens unless today already has tokens. Returns the tokens booked."""
    now = now or timezone.now()
    if Token.objects.filter(day=timezone.localdate(now)).exists():
        return 0
    patients = iter(Patient.objects.filter(is_active=True).order_by("?")[:200])
    booked = 0
    for index, doctor in enumerate(doctors):
        slot = _open_slot(doctor, now)
        if slot is None:
            continue
        extra = slot.max_capacity - BOOKED + WAITING if index == 1 else 0  # the second doctor's slot fills up
        for n in range(BOOKED + extra):
            patient = next(patients, None)
            if patient is None:
                break
            category = Category.EMERGENCY if (index == 0 and n == BOOKED - 1) else rng.choice(CATEGORIES)
            try:
                booked += isinstance(services.book_token(slot_id=slot.pk, patient=patient, category=category), Token)
            except DomainError:
                continue
        # Most patients have arrived (the desk checked them in); every fourth but an emergency has not, so the
        # room skips them once the slot's grace has passed.
        for token_id, number, category in Token.objects.filter(slot=slot).values_list("pk", "token_number", "category"):
            if number % 4 or category == Category.EMERGENCY:
                services.check_in(token_id=token_id)
        seen = []
        for _ in range(SEEN):
            token = services.call_next_token(slot_id=slot.pk)
            services.start_token(token_id=token.pk)
            seen.append(services.complete_token(token_id=token.pk))
        now_in = services.call_next_token(slot_id=slot.pk)  # with the doctor now
        _move_back(seen, now_in, now - datetime.timedelta(minutes=1 + 3 * index), rng)
    return booked


def _move_back(seen: list[Token], now_in: Token, clock: datetime.datetime, rng: random.Random) -> None:
    """Spread the consultations over the last hour (5-10 minutes each, backwards from `clock`) instead of all
    at this instant, so the board and the report look like a clinic in progress."""
    booked = clock - datetime.timedelta(minutes=rng.randint(30, 45))
    Token.objects.filter(pk=now_in.pk).update(called_at=clock, created_at=booked)
    for token in reversed(seen):
        end = clock - datetime.timedelta(minutes=1)
        started = end - datetime.timedelta(minutes=rng.randint(5, 10))
        clock = started - datetime.timedelta(minutes=1)
        booked = clock - datetime.timedelta(minutes=rng.randint(10, 40))  # booked before being seen
        Token.objects.filter(pk=token.pk).update(called_at=clock, started_at=started, actual_time=end,
                                                 created_at=booked)


def _open_slot(doctor: Doctor, now: datetime.datetime) -> Slot | None:
    """The doctor's slot to fill: today's running or next one, else a new two-hour evening slot from this hour."""
    today = list(selectors.slots_on(timezone.localdate(now)).filter(doctor=doctor).order_by("start_time"))
    slot = selectors.current_slot(today, now)
    if slot is not None and now < slot.end_time + datetime.timedelta(minutes=slot.delay_minutes):
        return slot
    start = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    end = min(start + datetime.timedelta(hours=2),
              timezone.make_aware(datetime.datetime.combine(start.date(), datetime.time(23, 59))))
    try:
        return services.create_slot(doctor=doctor, start_time=start, end_time=end, max_capacity=15)
    except DomainError:  # overlaps a slot of the doctor: nothing to fill this time
        return None
