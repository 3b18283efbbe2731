"""Reception pages for queues: one-click token from the patient page, the slip, the desk page and its buttons."""

import datetime

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from idseq.models import Counter
from queues import services
from queues.models import Desk, Queue, Visit
from tests.conftest import make_user
from tests.queues.conftest import make_desk, make_patients

S = Visit.Status


@pytest.fixture
def browser(asst):
    client = Client()
    client.force_login(asst)
    return client


def test_the_patient_page_issues_a_token_in_one_click_and_shows_the_slip(browser, general):
    (patient,) = make_patients(1)
    page = browser.get(f"/patients/{patient.pk}/").content.decode()
    assert 'data-testid="issue-GEN"' in page
    response = browser.post(f"/queues/issue/{patient.pk}/", {"queue": general.pk, "priority": "medium"}, follow=True)
    html = response.content.decode()
    assert '<p class="token-large" data-testid="token">GEN-001</p>' in html
    assert 'data-testid="position">1<' in html and 'data-testid="wait">you are next<' in html  # never "about 0 min"
    assert "<svg" in html and "window.print()" in html
    assert "GEN-001" in browser.get(f"/patients/{patient.pk}/").content.decode()  # today's tokens


def test_a_second_token_in_the_same_queue_is_an_error_message_not_a_500(browser, general):
    (patient,) = make_patients(1)
    services.issue_visit(patient=patient, queue=general)
    response = browser.post(f"/queues/issue/{patient.pk}/", {"queue": general.pk, "priority": "medium"}, follow=True)
    assert response.status_code == 200
    assert "already holds token GEN-001" in response.content.decode()
    assert Visit.objects.count() == 1
    assert Counter.objects.get(sequence__key="visit-token", scope__startswith="GEN-").last_value == 1


def test_the_desk_page_calls_starts_and_completes_with_its_buttons(browser, general):
    desk = make_desk("Room 1", general)
    a, b = make_patients(2)
    services.issue_visit(patient=a, queue=general)
    services.issue_visit(patient=b, queue=general)
    html = browser.get(f"/queues/desks/{desk.pk}/").content.decode()
    assert 'data-testid="call-next"' in html and "Patient 0" in html
    html = browser.post(f"/queues/desks/{desk.pk}/call-next/", follow=True).content.decode()
    assert 'data-testid="current-token">GEN-001<' in html and "GEN-001 called" in html
    visit = Visit.objects.get(token_number=1)
    for step in ("start", "complete"):
        browser.post(f"/queues/visits/{visit.pk}/{step}/", {"desk": desk.pk})
    visit.refresh_from_db()
    assert visit.status == S.COMPLETED
    html = browser.post(f"/queues/visits/{visit.pk}/start/", {"desk": desk.pk}, follow=True).content.decode()
    assert "Visit GEN-001 cannot be started: it is completed" in html


def test_a_visit_left_at_the_desk_yesterday_shows_on_the_desk_page_with_its_buttons(browser, general):
    desk = make_desk("Room 1", general)
    (patient,) = make_patients(1)
    with time_machine.travel(timezone.now() - datetime.timedelta(days=1)):
        services.issue_visit(patient=patient, queue=general)
        services.call_next(desk=desk)
    html = browser.get(f"/queues/desks/{desk.pk}/").content.decode()
    assert 'data-testid="current-token">GEN-001<' in html  # call-next would refuse (desk busy): it must be closable
    visit = Visit.objects.get()
    browser.post(f"/queues/visits/{visit.pk}/no-show/", {"desk": desk.pk})
    visit.refresh_from_db()
    assert visit.status == S.NO_SHOW


def test_no_show_recall_and_transfer_from_the_desk_page(browser, general, lab):
    desk = make_desk("Room 1", general)
    a, b = make_patients(2)
    services.issue_visit(patient=a, queue=general)
    services.issue_visit(patient=b, queue=general)
    browser.post(f"/queues/desks/{desk.pk}/call-next/")
    first = Visit.objects.get(token_number=1)
    browser.post(f"/queues/visits/{first.pk}/no-show/", {"desk": desk.pk})
    browser.post(f"/queues/visits/{first.pk}/recall/", {"desk": desk.pk})
    browser.post(f"/queues/desks/{desk.pk}/call-next/")
    second = Visit.objects.get(queue=general, token_number=2)
    html = browser.post(f"/queues/visits/{second.pk}/transfer/", {"desk": desk.pk, "queue": lab.pk}, follow=True)
    assert "LAB-001 issued by transfer" in html.content.decode()
    assert [(v.token, v.status) for v in Visit.objects.order_by("pk")] == [
        ("GEN-001", S.WAITING), ("GEN-002", S.TRANSFERRED), ("LAB-001", S.WAITING)
    ]


def test_queue_pages_need_the_queue_permissions(db, general):
    desk = make_desk("Room 1", general)
    client = Client()
    assert client.get(f"/queues/desks/{desk.pk}/").status_code == 302  # to the login page
    client.force_login(make_user("watcher", "ops"))
    assert client.get("/queues/").status_code == 200
    assert client.get(f"/queues/desks/{desk.pk}/").status_code == 403
    assert client.post(f"/queues/desks/{desk.pk}/call-next/").status_code == 403


def test_the_overview_lists_queues_desks_and_the_board_url(browser, general):
    make_desk("Room 1", general)
    html = browser.get("/queues/").content.decode()
    assert "Room 1" in html and "General" in html and "/board/?queues=GEN&amp;key=" in html


def test_the_demo_command_creates_four_queues_and_their_desks_once(db, settings):
    settings.DEBUG = True
    call_command("seed_demo_queues")
    call_command("seed_demo_queues")
    assert sorted(Queue.objects.values_list("code", flat=True)) == ["GEN", "LAB", "PHARM", "XRAY"]
    assert Desk.objects.get(name="Room 2").queues.get().code == "GEN"
    assert Desk.objects.count() == 5


def test_admins_manage_queues_and_desks_and_read_visits_in_the_admin(db, general):
    desk = make_desk("Room 1", general)
    (patient,) = make_patients(1)
    visit = services.issue_visit(patient=patient, queue=general)
    client = Client()
    client.force_login(make_user("boss", "admin", is_staff=True))
    for url in ["/admin/queues/queue/", f"/admin/queues/queue/{general.pk}/change/", "/admin/queues/desk/",
                f"/admin/queues/desk/{desk.pk}/change/", "/admin/queues/visit/", f"/admin/queues/visit/{visit.pk}/change/"]:
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/queues/visit/add/").status_code == 403  # tokens come only from the services
    response = client.post("/admin/queues/queue/add/", {"name": "Dental", "code": "DEN", "is_active": "on",
                                                         "default_service_minutes": 15})
    assert response.status_code == 302 and Queue.objects.filter(code="DEN").exists()
