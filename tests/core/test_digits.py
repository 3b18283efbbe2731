"""URDU_DIGITS: the numbers people read on Urdu slips and the board's Urdu line in the hospital's digits; QR codes,
barcodes and English pages always in Latin digits."""

import itertools
import re

import pytest
from django.conf import settings
from django.test import Client

from core.digits import urdu_digits
from patients.services import register_patient
from queues import services as queue_services
from queues.models import Desk, Queue
from queues.views import board_key, urdu_call
from tests.conftest import make_user


_users = itertools.count()


def get(path: str, *, urdu: bool) -> str:
    """The page at `path` as a reception user reads it, in Urdu or English."""
    client = Client()
    client.force_login(make_user(f"desk{next(_users)}", "reception"))
    if urdu:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ur"
    return client.get(path).content.decode()


def text_of(html: str, name: str) -> str:
    """The text of the element with data-testid=`name`."""
    return re.search(rf'data-testid="{name}">([^<]*)<', html).group(1)


def codes(html: str) -> str:
    """The slip's barcode and QR code, as drawn."""
    return re.search(r'<div class="codes">.*?</article>', html, re.S).group(0)


@pytest.fixture
def visit(db):
    patient = register_patient(full_name="بی بی جان")
    return queue_services.issue_visit(patient=patient, queue=Queue.objects.create(name="جنرل", code="GEN"))


@pytest.mark.parametrize("style, mrn, token", [
    ("latin", "001-00-001", "GEN-001"), ("eastern", "۰۰۱-۰۰-۰۰۱", "GEN-۰۰۱"),
])
def test_urdu_slips_write_numbers_in_the_chosen_digits(settings, visit, style, mrn, token):
    settings.URDU_DIGITS = style
    patient_slip = get(f"/patients/{visit.patient.pk}/slip/", urdu=True)
    token_slip = get(f"/queues/visits/{visit.pk}/slip/", urdu=True)
    assert text_of(patient_slip, "slip-mrn") == mrn
    assert text_of(token_slip, "token") == token and text_of(token_slip, "position") == urdu_digits("1")


def test_codes_and_english_pages_keep_latin_digits(settings, visit):
    settings.URDU_DIGITS = "latin"
    latin = get(f"/patients/{visit.patient.pk}/slip/", urdu=True)
    settings.URDU_DIGITS = "eastern"
    eastern = get(f"/patients/{visit.patient.pk}/slip/", urdu=True)
    assert codes(eastern) == codes(latin)  # the barcode and the QR code encode 001-00-001 either way
    assert text_of(get(f"/patients/{visit.patient.pk}/slip/", urdu=False), "slip-mrn") == "001-00-001"
    assert text_of(get(f"/queues/visits/{visit.pk}/slip/", urdu=False), "token") == "GEN-001"


@pytest.mark.parametrize("style, line, waiting", [
    ("latin", "ٹوکن GEN-001 ← کمرہ 2", "0 منتظر"), ("eastern", "ٹوکن GEN-۰۰۱ ← کمرہ ۲", "۰ منتظر"),
])
def test_the_boards_urdu_line_uses_the_chosen_digits_and_its_english_line_latin(settings, visit, style, line, waiting):
    settings.URDU_DIGITS = style
    desk = Desk.objects.create(name="Room 2")
    desk.queues.set([visit.queue])
    queue_services.call_next(desk=desk)
    assert urdu_call("GEN-001", "Room 2") == line
    board = Client().get(f"/board/?key={board_key()}").content.decode()
    assert text_of(board, "called-urdu") == line and text_of(board, "called-token") == "GEN-001"
    assert f'<span lang="ur" dir="rtl">{waiting}</span>' in board
