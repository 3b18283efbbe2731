"""In a real browser: an old-format MRN in the search box finds the patient, the favicon is local,
the desk page fits a 390 px phone, the report says when a day has no slots and names categories in words."""

import os

import pytest

from patients.services import register_patient
from queues import services
from queues.models import Queue
from tests.conftest import CHROMIUM, browser_context, make_user
from tests.queues.conftest import make_desk
from tests.tokens.conftest import at, make_slot
from tokens import services as opd

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]


def test_old_numbers_favicon_phone_desk_and_report(live_server):
    user = make_user("edges", "reception")
    patient = register_patient(full_name="Ayesha Khan", mrn="001-23-456")
    register_patient(full_name="Other Patient")
    general = Queue.objects.create(name="General OPD", code="GEN")
    desk = make_desk("Room 1", general)
    services.issue_visit(patient=patient, queue=general)
    services.call_next(desk=desk)
    slot = make_slot(opd.create_doctor(name="Dr. Sana Mirza"), at(9))
    opd.book_token(slot_id=slot.pk, patient=patient, category="PRIORITY_PAID")
    with browser_context(live_server, user) as context:
        page = context.new_page()
        page.goto("/patients/")
        page.locator("#id_q").press_sequentially("01-23-456")  # the old xx-xx-xxx number
        page.wait_for_function("document.querySelectorAll('#results tbody tr').length === 1")
        assert patient.full_name in page.text_content("#results tbody tr")
        assert page.text_content(".mrn-error") == ""
        icon = page.get_attribute("link[rel=icon]", "href")
        assert page.request.get(icon).status == 200 and icon.startswith("/static/")

        phone = context.new_page()
        phone.set_viewport_size({"width": 390, "height": 844})
        phone.goto(f"/queues/desks/{desk.pk}/")
        start = phone.locator("[data-testid=start-GEN-001]").bounding_box()
        assert start["x"] >= 0 and start["x"] + start["width"] <= 390
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390

        page.goto(f"/opd/report/?date={at(9, days=-400).date()}")
        assert "No OPD slots on" in page.text_content("[data-testid=report-empty]")
        assert page.locator("canvas").count() == 0
        page.goto(f"/opd/report/?date={at(9).date()}")
        labels = page.evaluate("Chart.getChart(document.getElementById('chart-categories')).data.labels")
        assert not context.blocked
    assert "Priority (paid)" in labels and "PRIORITY_PAID" not in labels
