"""In a real browser: registration and the desk by keyboard alone, an age for the date of birth,
the error summary with the focus on the first bad field, confirmations before a no-show."""

import os

import pytest

from patients.models import Patient
from queues import services
from queues.models import Visit
from tests.conftest import CHROMIUM, browser_context, make_user, press_shortcut
from tests.queues.conftest import make_desk, make_patients

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]


def test_keyboard_only_registration_and_call_next(live_server, general):
    user = make_user("keys", "reception")
    desk = make_desk("Room 2", general)
    first, second = make_patients(2)
    services.issue_visit(patient=first, queue=general)
    services.issue_visit(patient=second, queue=general)
    with browser_context(live_server, user) as context:
        page = context.new_page()
        page.goto("/patients/register/")
        assert page.evaluate("document.activeElement.id") == "id_full_name"  # autofocus, no tabbing through the menu
        page.keyboard.press("Control+Enter")  # nothing typed: the summary, and the focus back on the name
        page.wait_for_selector("[data-testid=error-summary]")
        page.wait_for_load_state("load")  # keys.js (deferred) moves the focus
        assert page.evaluate("document.activeElement.id") == "id_full_name"
        page.keyboard.type("Bibi Jan")
        page.keyboard.press("Tab")
        page.keyboard.type("Gul Khan")
        page.keyboard.press("Tab")
        page.keyboard.type("70")  # an age, not a date
        page.keyboard.press("Control+Enter")  # registers from any field (Enter moves to the next)
        page.wait_for_url("**/registered/")
        mrn = page.text_content("[data-testid=mrn]")

        page.goto(f"/queues/desks/{desk.pk}/")
        press_shortcut(page, "n")
        page.wait_for_selector("[data-testid=current-token]:has-text('GEN-001')")
        page.once("dialog", lambda dialog: dialog.dismiss())  # the no-show asks first; "no" keeps the patient
        page.click("[data-testid=no-show-GEN-001]")
        page.wait_for_timeout(300)
        assert page.locator("[data-testid=current-token]").text_content() == "GEN-001"
        press_shortcut(page, "s")
        page.wait_for_selector("[data-testid=complete-GEN-001]")
        press_shortcut(page, "c")
        page.wait_for_selector("[data-testid=call-next]")
        assert "N" in page.text_content("[data-testid=call-next] kbd")
        assert not context.blocked
    patient = Patient.objects.get(mrn=mrn)
    assert (patient.full_name, patient.father_name, patient.dob_estimated) == ("Bibi Jan", "Gul Khan", True)
    assert Visit.objects.get(patient=first).status == Visit.Status.COMPLETED


def test_desk_shortcuts_work_by_key_position_under_an_urdu_keyboard_layout(live_server, general):
    user = make_user("urdu", "reception")
    desk = make_desk("Room 3", general)
    (patient,) = make_patients(1)
    services.issue_visit(patient=patient, queue=general)
    with browser_context(live_server, user) as context:
        page = context.new_page()
        page.goto(f"/queues/desks/{desk.pk}/")
        page.wait_for_load_state("load")
        # The N key of an Urdu (phonetic) layout types "ن": the shortcut follows the key, not the letter.
        page.evaluate("""document.body.dispatchEvent(new KeyboardEvent("keydown",
            {key: "ن", code: "KeyN", bubbles: true, cancelable: true}))""")
        page.wait_for_selector("[data-testid=current-token]:has-text('GEN-001')")
        page.wait_for_load_state("load")
        page.evaluate("""document.body.dispatchEvent(new KeyboardEvent("keydown",
            {key: "س", code: "KeyS", bubbles: true, cancelable: true}))""")
        page.wait_for_selector("[data-testid=complete-GEN-001]")  # started: the C key completes
        page.wait_for_load_state("load")
        page.evaluate("""document.body.dispatchEvent(new KeyboardEvent("keydown",
            {key: "چ", code: "KeyC", bubbles: true, cancelable: true}))""")
        page.wait_for_selector("[data-testid=call-next]")
    assert Visit.objects.get(patient=patient).status == Visit.Status.COMPLETED
