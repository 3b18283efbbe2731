"""A fresh demo shows a morning in progress: visits served, at desks and waiting; OPD tokens seen,
one with the doctor, an emergency and a waiting list; the board, desks and report have data on first start."""

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from queues.models import Visit
from queues.views import board_key
from tokens import reports
from tokens.models import Category, Token, WaitingListEntry


@pytest.fixture
def morning(db):
    with override_settings(DEBUG=True):
        call_command("seed_demo", patients=120, stdout=None)
        call_command("seed_opd", morning=True, seed=1)
        call_command("seed_demo_queues", morning=True, seed=1)


def test_the_demo_morning_has_visits_in_every_state_with_service_times(morning):
    today = Visit.objects.filter(visit_date=timezone.localdate())
    statuses = set(today.values_list("status", flat=True))
    assert {Visit.Status.WAITING, Visit.Status.CALLED, Visit.Status.IN_CONSULTATION, Visit.Status.COMPLETED} <= statuses
    for visit in today.filter(status=Visit.Status.COMPLETED):
        minutes = (visit.completed_at - visit.started_at).total_seconds() / 60
        assert visit.issued_at < visit.called_at < visit.started_at and 0 < minutes <= 12
    html = Client().get("/board/", {"key": board_key(), "sources": "opd"}).content.decode()
    assert html.count('data-testid="called-token"') == 6  # now calling and the last 5


def test_the_demo_morning_has_opd_consultations_an_emergency_and_a_waiting_list(morning):
    today = Token.objects.filter(day=timezone.localdate())
    assert today.filter(status=Token.Status.COMPLETED).count() >= 4
    assert today.filter(category=Category.EMERGENCY).exists()
    assert today.filter(status=Token.Status.CONFIRMED, called_at__isnull=False).exists()  # with a doctor now
    assert WaitingListEntry.objects.count() == 3
    total = reports.daily_report(**reports.report_args(date=timezone.localdate(), doctor_id=None))["total"]
    assert total["completed"] >= 4
    for token in today.filter(status=Token.Status.COMPLETED):
        assert token.created_at < token.called_at < token.started_at < token.actual_time <= timezone.now()


def test_running_the_demo_again_adds_nothing(morning):
    visits, tokens = Visit.objects.count(), Token.objects.count()
    with override_settings(DEBUG=True):
        call_command("seed_opd", morning=True)
        call_command("seed_demo_queues", morning=True)
    assert (Visit.objects.count(), Token.objects.count()) == (visits, tokens)
