"""Register and issue token: a new walk-in patient's MRN and token in one submit, one transaction (both numbers
commit together or neither is used up), from the desk page by keyboard, with both slips to print after."""

import os
from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from core.errors import DomainError
from patients.exceptions import DuplicatePatient
from patients.models import Patient
from patients.services import register_patient
from queues import services
from queues.exceptions import QueueInactive
from queues.models import Visit
from tests.conftest import CHROMIUM, browser_context, make_user
from tests.queues.conftest import make_desk


def test_one_call_registers_the_patient_and_issues_the_token(general, asst):
    visit = services.register_and_issue(
        registration={"full_name": "Bibi Jan", "father_name": "Gul Khan"}, queue=general, priority="high",
        issued_by=asst,
    )
    visit.refresh_from_db()
    assert (visit.patient.mrn, visit.token) == ("001-00-001", "GEN-001")
    assert (visit.priority, visit.status) == ("high", "waiting")
    assert (visit.patient.created_by, visit.issued_by) == (asst, asst)


@pytest.mark.django_db(transaction=True)
def test_a_token_refused_after_registering_takes_back_the_mrn_too(general):
    with mock.patch.object(services, "issue_visit", side_effect=DomainError("refused")), \
            pytest.raises(DomainError, match="refused"):
        services.register_and_issue(registration={"full_name": "Bibi Jan"}, queue=general)
    assert not Patient.objects.exists()
    assert register_patient(full_name="Next").mrn == "001-00-001"  # the MRN was not used up


@pytest.mark.django_db(transaction=True)
def test_a_refused_registration_takes_no_token(general):
    register_patient(full_name="Card holder", cnic="12345-1234567-1")
    with pytest.raises(DuplicatePatient):
        services.register_and_issue(registration={"full_name": "Bibi Jan", "cnic": "12345-1234567-1"}, queue=general)
    assert Patient.objects.count() == 1 and not Visit.objects.exists()
    (patient,) = Patient.objects.all()
    assert services.issue_visit(patient=patient, queue=general).token == "GEN-001"  # the token was not used up


def test_a_closed_queue_or_unknown_priority_is_refused_before_any_number(general):
    general.is_active = False
    general.save()
    with pytest.raises(QueueInactive):
        services.register_and_issue(registration={"full_name": "Bibi Jan"}, queue=general)
    general.is_active = True
    general.save()
    with pytest.raises(ValidationError):
        services.register_and_issue(registration={"full_name": "Bibi Jan"}, queue=general, priority="urgent")
    assert not Patient.objects.exists()
    assert register_patient(full_name="Next").mrn == "001-00-001"


def test_the_page_registers_and_issues_then_shows_the_registered_page_with_the_token(client, general, lab, asst):
    client.force_login(asst)
    assert f'<option value="{lab.pk}" selected>' in client.get(f"/queues/register/?queue={lab.pk}").content.decode()
    response = client.post("/queues/register/", {"full_name": "Bibi Jan", "queue": lab.pk, "priority": "medium"})
    visit = Visit.objects.get()
    assert response.status_code == 302 and response.url == f"/patients/{visit.patient_id}/registered/"
    page = client.get(response.url).content.decode()
    assert 'data-testid="print-slip"' in page and 'data-testid="print-token-LAB-001"' in page


def test_the_page_shows_form_errors_and_writes_nothing(client, general, asst):
    client.force_login(asst)
    response = client.post("/queues/register/", {"full_name": "", "queue": general.pk, "priority": "medium"})
    assert response.status_code == 200 and 'data-testid="error-summary"' in response.content.decode()
    assert not Patient.objects.exists() and not Visit.objects.exists()


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")
@pytest.mark.django_db(transaction=True)
def test_from_the_desk_by_keyboard_register_and_issue_then_print_both_slips(live_server, general):
    user = make_user("keys", "reception")
    desk = make_desk("Room 2", general)
    with browser_context(live_server, user) as context:
        page = context.new_page()
        page.goto(f"/queues/desks/{desk.pk}/")
        page.wait_for_load_state("load")
        page.keyboard.press("r")
        page.wait_for_url("**/queues/register/**")
        page.wait_for_load_state("load")
        page.keyboard.type("Bibi Jan")
        page.keyboard.press("Enter")  # the next field, not a submit
        assert page.evaluate("document.activeElement.id") == "id_father_name"
        page.keyboard.press("Control+Enter")
        page.wait_for_url("**/registered/")
        mrn = page.text_content("[data-testid=mrn]")
        with context.expect_page() as slip_page:
            page.click("[data-testid=print-token-GEN-001]")
        token_slip = slip_page.value
        token_slip.wait_for_load_state()
        token = token_slip.text_content("[data-testid=token]")
        assert page.get_attribute("[data-testid=print-slip]", "href").endswith("?print=1")
        assert not context.blocked
    assert (mrn, token) == ("001-00-001", "GEN-001")
    assert Visit.objects.get().patient.mrn == "001-00-001"
