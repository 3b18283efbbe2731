"""In a real browser: Enter moves through the registration form instead of registering a half-typed patient, and a
minimal registration with its slip printed takes at most 25 keys; CNIC and phone are accepted typed any common way."""

import os

import pytest
from django.test import Client

from patients.models import Patient
from queues.models import Queue
from tests.conftest import CHROMIUM, browser_context, make_user

MAX_KEYS = 25  # a minimal registration with its slip printed


class Keyboard:
    """Playwright's keyboard, counting every key pressed (a typed character is one key; Ctrl+Enter one)."""

    def __init__(self, page):
        self.page, self.count = page, 0

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)
        self.count += len(text)

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
        self.count += 1

    def focused(self) -> str:
        return self.page.evaluate("document.activeElement.id || document.activeElement.dataset.testid || ''")


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")
@pytest.mark.django_db(transaction=True)
def test_a_minimal_registration_with_its_slip_takes_at_most_25_keys_and_enter_never_registers_early(live_server):
    user = make_user("keys", "reception")
    Queue.objects.create(name="General OPD", code="GEN")
    with browser_context(live_server, user) as context:
        page = context.new_page()
        page.goto("/patients/register/")
        page.wait_for_load_state("load")
        keys = Keyboard(page)
        assert keys.focused() == "id_full_name"
        keys.type("Bibi Jan")
        keys.press("Enter")  # the next field, not a registration
        assert keys.focused() == "id_father_name" and page.url.endswith("/patients/register/")
        keys.press("Enter")
        assert keys.focused() == "id_dob"
        keys.type("70")  # an age
        keys.press("Enter")
        assert keys.focused() == "id_sex"
        keys.type("F")  # Female, chosen by its first letter
        keys.press("Control+Enter")  # registers from any field
        page.wait_for_url("**/registered/")
        page.wait_for_load_state("load")
        assert keys.focused() == "print-slip"
        assert page.locator("[data-testid=issue-GEN]").is_visible()  # a walk-in's token from the same page
        with context.expect_page() as slip:
            keys.press("Enter")
        slip.value.wait_for_load_state("load")
        assert "/slip/?print=1" in slip.value.url
        assert keys.count <= MAX_KEYS, keys.count
        mrn = page.text_content("[data-testid=mrn]")
        assert not context.blocked
    patient = Patient.objects.get(mrn=mrn)
    assert (patient.full_name, patient.sex, patient.dob_estimated) == ("Bibi Jan", "F", True)
    assert Patient.objects.count() == 1  # the Enters on the way registered nothing


@pytest.mark.django_db
def test_cnic_and_phone_are_accepted_typed_any_common_way_and_kept_normalised(reception):
    client = Client()
    client.force_login(reception)
    for cnic, phone in (("3520212345671", "(0300) 123 4567"), ("35202 7654321 2", "0092 321 7654321")):
        answer = client.post("/patients/register/", {"full_name": f"Patient {cnic[-1]}", "cnic": cnic, "phone": phone})
        assert answer.status_code == 302, answer.content.decode()
    assert sorted(Patient.objects.values_list("cnic", "phone")) == [
        ("35202-1234567-1", "0300-1234567"), ("35202-7654321-2", "+92 321 7654321")]
    refused = client.post("/patients/register/", {"full_name": "Short", "cnic": "352021234567"}).content.decode()
    assert "Enter the CNIC as 12345-1234567-1." in refused
