"""The automatic no-show run twice at once ends each absent token once and promotes each waiting patient once; a
check-in racing the automatic no-show leaves either an arrived token or a no-show, never a no-show that arrived."""

import datetime

import pytest
import time_machine

from core.errors import DomainError
from tests.conftest import run_in_threads
from tests.tokens.conftest import at, make_patients, make_slot
from tokens import services
from tokens.models import Category, Token, WaitingListEntry

pytestmark = pytest.mark.django_db(transaction=True)


def booked_morning(doctor, places: int, waiting: int):
    """Today 09:50 (the clock runs on in the caller's travel): a 10:00-11:00 slot full with `places` tokens and
    `waiting` patients on its waiting list."""
    slot = make_slot(doctor, at(10, days=0), capacity=places)
    for patient in make_patients(places + waiting):
        services.book_token(slot_id=slot.pk, patient=patient, category=Category.WALKIN)
    return slot


def test_two_automatic_runs_at_once_end_each_absent_token_once(settings):
    settings.OPD_CHECK_IN_GRACE_MINUTES = 15
    with time_machine.travel(at(9, 50, days=0), tick=True):
        slot = booked_morning(services.create_doctor(name="Dr. Sana Mirza"), places=6, waiting=3)
        after = slot.end_time + datetime.timedelta(minutes=15)
        results, errors = run_in_threads(lambda i: services.no_show_absent(now=after), 2)
    assert not errors
    ended = [token.token_number for run in results for token, _ in run]
    assert sorted(ended) == [1, 2, 3, 4, 5, 6]  # each once, whichever run ended it
    promoted = [p.token_number for run in results for _, p in run if p is not None]
    assert sorted(promoted) == [7, 8, 9] and not WaitingListEntry.objects.exists()
    assert Token.objects.filter(slot=slot, status=Token.Status.NO_SHOW).count() == 6


def test_a_check_in_racing_the_automatic_no_show_is_never_lost(settings):
    settings.OPD_CHECK_IN_GRACE_MINUTES = 15
    with time_machine.travel(at(9, 50, days=0), tick=True):
        slot = booked_morning(services.create_doctor(name="Dr. Sana Mirza"), places=8, waiting=0)
        tokens = list(Token.objects.filter(slot=slot).values_list("pk", flat=True))

        def race(i):
            token_id = tokens[i // 2]
            if i % 2:
                return services.mark_no_show(token_id=token_id, absent_only=True)[0]
            return services.check_in(token_id=token_id)

        results, errors = run_in_threads(race, 2 * len(tokens))
    assert len(results) + len(errors) == 16
    assert all(isinstance(e, DomainError) for e in errors)
    for token in Token.objects.filter(slot=slot):
        # one of the two won under the token's lock: arrived and confirmed, or a no-show never checked in
        assert (token.status, token.checked_in_at is None) in {
            (Token.Status.CONFIRMED, False), (Token.Status.NO_SHOW, True)}
    assert len(errors) == 8  # each pair: the loser is refused
