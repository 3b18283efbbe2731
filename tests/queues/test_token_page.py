"""The patient's token page of a walk-in visit: opened by its signed link with no login, it shows the token, place
and estimated call, then where to go; it names no patient; forged, other-kind and expired links get a friendly 404;
its panel answers 304 while the line is unchanged."""

import datetime
import re

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from core import tokenlinks
from queues import services
from queues.views import my_token_link
from tests.queues.conftest import make_desk, make_patients

pytestmark = pytest.mark.django_db


@pytest.fixture
def line(general):
    """Three visits in GEN with desk "Room 2": (desk, [visit 1, 2, 3])."""
    return make_desk("Room 2", general), [services.issue_visit(patient=p, queue=general) for p in make_patients(3)]


def test_the_link_opens_the_visit_without_login_and_names_no_patient(line):
    _, visits = line
    third = visits[2]
    page = Client().get(my_token_link(third))
    assert page.status_code == 200
    text = page.text
    assert "GEN-003" in text
    assert re.search(r'data-testid="position">3<', text)
    assert "about 20 min" in text  # two ahead, 10 min each, one desk
    for visit in visits:
        assert visit.patient.full_name not in text and visit.patient.mrn not in text
    assert "GEN-001" not in text and "GEN-002" not in text


def test_called_it_says_where_to_go_in_english_or_urdu(line):
    desk, (first, *_) = line
    services.call_next(desk=desk)
    client = Client()
    assert "Called: go to Room 2" in client.get(my_token_link(first)).text
    client.post("/i18n/setlang/", {"language": "ur", "next": "/"})
    urdu = client.get(my_token_link(first)).text
    assert 'lang="ur" dir="rtl"' in urdu and "کمرہ 2" in urdu


def test_forged_other_kind_and_expired_links_get_the_friendly_404(line):
    _, (first, *_) = line
    good = tokenlinks.sign("visit", first.pk, first.visit_date)
    forged = tokenlinks.sign("visit", first.pk + 1, first.visit_date).split(":")[0] + ":" + good.split(":")[1]
    other_kind = tokenlinks.sign("opd", first.pk, first.visit_date)
    client = Client()
    for key in (forged, other_kind, "17", good[:-1]):
        for suffix in ("", "panel/"):
            answer = client.get(f"/t/{key}/{suffix}")
            assert answer.status_code == 404, key
            assert "This token link does not open" in answer.text
    assert client.get(f"/t/{good}/").status_code == 200
    with time_machine.travel(timezone.now() + datetime.timedelta(days=1)):
        assert client.get(f"/t/{good}/").status_code == 404


def test_the_panel_answers_304_until_the_line_changes(line):
    desk, (first, *_) = line
    client = Client()
    panel = f"{my_token_link(first)}panel/"
    answer = client.get(panel)
    etag = answer["ETag"]
    assert answer.status_code == 200 and 'data-status="waiting"' in answer.text
    assert client.get(panel, HTTP_IF_NONE_MATCH=etag).status_code == 304
    services.call_next(desk=desk)
    changed = client.get(panel, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and "Called: go to Room 2" in changed.text
