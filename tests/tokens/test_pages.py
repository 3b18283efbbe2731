"""Reception pages: booking with free places shown, token and waiting slips, the daily report and its CSV."""

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tests.conftest import make_user
from tests.tokens.conftest import at, make_patients, make_slot
from tokens import services
from tokens.models import Category, Slot, Token


def test_the_booking_page_shows_the_days_slots_with_free_places(desk, doctor):
    slot = make_slot(doctor, at(9), capacity=3)
    services.book_token(slot_id=slot.pk, patient=make_patients(1)[0], category=Category.ONLINE)
    page = desk.get("/opd/book/", {"day": at(9).date().isoformat()})
    assert page.status_code == 200
    assert "Dr. Ayesha Khan" in page.text and "2 of 3" in page.text
    assert "No slots" in desk.get("/opd/book/").text  # today has none


def test_booking_by_mrn_prints_a_slip_with_number_doctor_time_and_estimate(desk, doctor):
    slot = make_slot(doctor, at(9), capacity=4)
    (patient,) = make_patients(1)
    response = desk.post(f"/opd/book/?day={at(9).date()}", {"slot": slot.pk, "patient": patient.mrn, "category": "ONLINE"})
    token = Token.objects.get()
    assert response.status_code == 302 and response.url == f"/opd/tokens/{token.pk}/"
    slip = desk.get(response.url).text
    assert 'data-testid="token-number">1<' in slip
    assert "Dr. Ayesha Khan" in slip and "09:00" in slip
    assert 'data-testid="estimated-time">09:00<' in slip


def test_a_full_slot_asks_first_then_shows_the_waiting_slip(desk, doctor):
    slot = make_slot(doctor, at(9), capacity=1)
    first, second = make_patients(2)
    services.book_token(slot_id=slot.pk, patient=first, category=Category.ONLINE)
    booking = {"slot": slot.pk, "patient": second.mrn, "category": "WALKIN"}
    asked = desk.post(f"/opd/book/?day={at(9).date()}", booking)
    assert asked.status_code == 200 and 'data-testid="ask-waitlist"' in asked.text
    assert f"Dr. Ayesha Khan, {at(9).day} {at(9):%b %Y} 09:00–10:00 is full (0 already waiting)" in asked.text
    assert not slot.waiting_entries.exists()
    response = desk.post(f"/opd/book/?day={at(9).date()}", {**booking, "waitlist": "1"})
    assert response.status_code == 302 and response.url.startswith("/opd/waiting/")
    assert 'data-testid="waiting-position">#1<' in desk.get(response.url).text


@pytest.mark.parametrize(
    "body, message",
    [
        ({"patient": "000-00-000"}, "No patient found for “000-00-000”."),
        ({"patient": "Patient"}, "Several patients match: choose one below."),
        ({"slot": ""}, "Choose a slot."),
        ({"category": "VIP"}, "Select a valid choice."),
        ({"patient": "holder"}, "Patient 0 (900-00-"),
    ],
)
def test_bad_bookings_show_form_errors_and_write_nothing(desk, doctor, body, message):
    slot = make_slot(doctor, at(9))
    holder, patient = make_patients(2)
    services.book_token(slot_id=slot.pk, patient=holder, category=Category.ONLINE)
    data = {"slot": slot.pk, "patient": patient.mrn, "category": "ONLINE", **body}
    if data["patient"] == "holder":
        data["patient"] = holder.mrn
    response = desk.post(f"/opd/book/?day={at(9).date()}", data)
    assert response.status_code == 200
    assert message in response.text
    assert Token.objects.count() == 1


def test_ops_reads_the_report_but_cannot_book(db):
    client = Client()
    client.force_login(make_user("watcher", "ops"))
    assert client.get("/opd/book/").status_code == 403
    assert client.get("/opd/report/").status_code == 200


def test_the_report_page_shows_figures_charts_and_a_csv(desk, doctor):
    slot = make_slot(doctor, at(9), capacity=2)
    a, b = make_patients(2)
    token = services.book_token(slot_id=slot.pk, patient=a, category=Category.FOLLOWUP)
    services.book_token(slot_id=slot.pk, patient=b, category=Category.EMERGENCY)
    services.mark_no_show(token_id=token.pk)
    day = at(9).date().isoformat()
    page = desk.get("/opd/report/", {"date": day})
    assert page.status_code == 200
    assert "chart-4.6.1.umd.min.js" in page.text and 'id="report-data"' in page.text
    assert "Dr. Ayesha Khan" in page.text and "50.0" in page.text  # utilisation 1 of 2 places
    csv = desk.get("/opd/report.csv", {"date": day})
    assert csv["Content-Type"] == "text/csv"
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("Date,Doctor,Specialization,Slots,Capacity")
    assert lines[1].startswith(f"{day},Dr. Ayesha Khan,Cardiology,1,2,1,0,0,1,1,0,50.0,50.0,0.0")
    assert lines[2].startswith(f"{day},Total,")


def test_seed_opd_creates_todays_demo_slots_once(db):
    call_command("seed_opd")
    call_command("seed_opd")
    today = Slot.objects.filter(start_time__date=timezone.localdate())
    assert today.count() == 20 and today.values("doctor").distinct().count() == 4


def test_the_admin_lists_and_shows_doctors_slots_with_tokens_and_waiting_entries(db, doctor):
    slot = make_slot(doctor, at(9), capacity=1)
    first, second = make_patients(2)
    token = services.book_token(slot_id=slot.pk, patient=first, category=Category.ONLINE)
    services.book_token(slot_id=slot.pk, patient=second, category=Category.WALKIN)
    client = Client()
    client.force_login(make_user("boss", "admin", is_staff=True))
    for url in ["/admin/tokens/doctor/", "/admin/tokens/slot/", "/admin/tokens/token/",
                "/admin/tokens/waitinglistentry/", f"/admin/tokens/token/{token.pk}/change/"]:
        assert client.get(url).status_code == 200, url
    assert second.mrn in client.get("/admin/tokens/waitinglistentry/").text
    assert "Patient 0" in client.get(f"/admin/tokens/slot/{slot.pk}/change/").text  # the inline token
    response = client.post("/admin/tokens/token/", {"action": "cancel_tokens", "_selected_action": [token.pk]})
    assert response.status_code == 302
    assert Token.objects.get(patient=second).token_number == 2  # promoted by the admin action


def test_the_admin_refuses_an_overlapping_slot_with_a_form_error(db, doctor):
    make_slot(doctor, at(9))
    client = Client()
    client.force_login(make_user("boss", "admin", is_staff=True))
    day = at(9).date().isoformat()
    response = client.post("/admin/tokens/slot/add/", {
        "doctor": doctor.pk, "start_time_0": day, "start_time_1": "09:30", "end_time_0": day, "end_time_1": "10:30",
        "max_capacity": 5, "status": "ACTIVE", "tokens-TOTAL_FORMS": 0, "tokens-INITIAL_FORMS": 0,
    })
    assert response.status_code == 200
    assert "This slot overlaps another slot of the same doctor." in response.text
    assert Slot.objects.count() == 1
