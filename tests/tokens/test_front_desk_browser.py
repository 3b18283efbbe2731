"""In a real browser: reception books by an MRN typed without dashes, a full slot asks before the
waiting list, and the doctor's room drives the token from waiting to completed with the keyboard."""

import os

import pytest

from patients.services import register_patient
from tests.conftest import CHROMIUM, browser_context, make_user, press_shortcut
from tests.tokens.conftest import at, make_slot
from tokens import services
from tokens.models import Token

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]


def test_booking_by_00100001_finds_001_00_001_and_the_room_completes_the_token(live_server):
    user = make_user("frontdesk", "reception")
    doctor = services.create_doctor(name="Dr. Sana Mirza", specialization="Medicine")
    later = make_slot(services.create_doctor(name="Dr. Bilal Ahmed"), at(11), capacity=1)
    slot = make_slot(doctor, at(10), capacity=4)
    patient = register_patient(full_name="Ayesha Khan", mrn="001-00-001")
    other = register_patient(full_name="Kashif Ali", mrn="001-00-002")
    services.book_token(slot_id=later.pk, patient=other, category="WALKIN")
    with browser_context(live_server, user) as context:
        page = context.new_page()
        page.goto(f"/opd/book/?day={at(10).date()}")
        assert page.locator("[data-testid=slot-doctor]").all_inner_texts()[0].startswith("Dr. Sana Mirza")  # 10:00 first
        assert page.evaluate("document.activeElement.name") == "patient"  # autofocus
        page.keyboard.type("00100001")
        page.check("#slot-1")
        page.click("[data-testid=book]")
        page.wait_for_url("**/opd/tokens/**")
        assert page.text_content("[data-testid=token-number]").strip() == "1"
        assert "001-00-001" in page.text_content(".patient-name")

        # The 11:00 slot is full: the page asks before the waiting list.
        page.goto(f"/opd/book/?day={at(10).date()}")
        page.fill("#id_patient", "Ayesha")
        page.check("#slot-2")
        page.click("[data-testid=book]")
        assert "is full" in page.text_content("[data-testid=ask-waitlist]")
        page.click("[data-testid=confirm-waitlist]")
        page.wait_for_url("**/opd/waiting/**")

        page.goto(f"/opd/room/{doctor.pk}/?slot={slot.pk}")
        press_shortcut(page, "n")
        page.wait_for_selector("[data-testid=room-start]")
        assert page.text_content("[data-testid=room-token]").strip() == "1"
        press_shortcut(page, "s")
        page.wait_for_selector("[data-testid=room-complete]")
        press_shortcut(page, "c")
        page.wait_for_selector("[data-testid=room-call-next]")
        assert "Completed" in page.text_content("[data-testid=room-queue]")
        assert not context.blocked
    token = Token.objects.get(slot=slot)
    assert token.status == Token.Status.COMPLETED and token.called_at <= token.started_at <= token.actual_time
    assert later.waiting_entries.get().patient == patient
