"""The duplicates worklist (patients/worklist.py, its pages) and the desk's hint while typing; offline sync and
import store a likely duplicate and queue it instead of refusing it."""

import datetime

import pytest

from patients import worklist
from patients.models import DuplicatePair, Patient
from patients.services import import_patients, register_patient
from tests.conftest import make_user

BORN = datetime.date(1980, 5, 1)


@pytest.fixture
def first(db):
    return register_patient(full_name="Muhammad Ali Khan", father_name="Muhammad Aslam", dob=BORN, sex="M",
                            phone="0300-1234567")


@pytest.fixture
def ops_client(client, db):
    client.force_login(make_user("ops1", "ops"))
    return client


def queued(first):
    second = register_patient(full_name="Mohd Ali Kahn", father_name="Muhammad Aslam", dob=BORN, sex="M")
    return second, worklist.queue_pairs_for(second, source=worklist.SCAN)


def test_a_likely_duplicate_is_queued_once_and_not_the_same_is_remembered(first):
    second, pairs = queued(first)
    assert [(p.low_id, p.high_id) for p in pairs] == [(first.pk, second.pk)]
    assert worklist.queue_pairs_for(second, source=worklist.SCAN) == []  # queued already
    worklist.mark_not_same(DuplicatePair.objects.get(), decided_by=None)
    assert worklist.queue_pairs_for(second, source=worklist.SCAN) == []
    assert worklist.queue_pairs_for(first, source=worklist.SCAN) == []
    assert DuplicatePair.objects.get().status == "not_same" and not worklist.open_pairs().exists()


def test_a_namesake_born_another_year_is_not_queued(first):
    other = register_patient(full_name="Muhammad Ali Khan", father_name="Muhammad Aslam",
                             dob=datetime.date(1995, 1, 1), sex="M", phone="0333-7654321")
    assert worklist.queue_pairs_for(other, source=worklist.SCAN) == []


def test_the_worklist_shows_pairs_newest_first_side_by_side_and_merges(first, ops_client):
    second, _ = queued(first)
    third = register_patient(full_name="Ayesha Bibi", father_name="Ghulam Hussain", phone="0345-1111111")
    fourth = register_patient(full_name="Aisha Bibi", father_name="Ghulam Husain", phone="0345-1111111")
    worklist.queue_pairs_for(fourth, source=worklist.SCAN)
    page = ops_client.get("/patients/duplicates/").content.decode()
    assert page.index(fourth.mrn) < page.index(second.mrn)  # newest first
    pair = DuplicatePair.objects.get(low=first)
    side = ops_client.get(f"/patients/duplicates/{pair.pk}/").content.decode()
    assert 'data-testid="side-by-side"' in side and "Mohd Ali Kahn" in side and "Muhammad Ali Khan" in side
    form = {"decision": "merge", "survivor": first.pk, "reason": "same father and birth date",
            "low_version": first.history.first().history_id, "high_version": second.history.first().history_id}
    assert ops_client.post(f"/patients/duplicates/{pair.pk}/", form).status_code == 302
    assert Patient.objects.get(pk=second.pk).merged_into == first
    pair.refresh_from_db()
    listing = ops_client.get("/patients/duplicates/").content.decode()
    assert pair.status == "merged" and f"{second.mrn} merged into {first.mrn}" in listing  # the message, once
    assert second.mrn not in ops_client.get("/patients/duplicates/").content.decode()
    assert third.mrn  # the other pair stays open
    assert worklist.open_pairs().count() == 1


def test_a_stale_page_gets_a_form_error_naming_the_change(first, ops_client):
    second, _ = queued(first)
    pair = DuplicatePair.objects.get()
    form = {"decision": "merge", "survivor": first.pk, "reason": "same", "low_version": 1, "high_version": 1}
    answer = ops_client.post(f"/patients/duplicates/{pair.pk}/", form)
    assert answer.status_code == 200 and "Changed since you looked" in answer.content.decode()
    assert Patient.objects.get(pk=second.pk).merged_into is None


def test_not_the_same_from_the_page(first, ops_client):
    queued(first)
    pair = DuplicatePair.objects.get()
    form = {"decision": "not_same", "low_version": 0, "high_version": 0}
    assert ops_client.post(f"/patients/duplicates/{pair.pk}/", form).status_code == 302
    assert DuplicatePair.objects.get().status == "not_same"


def test_reception_sees_no_worklist_and_cannot_decide(first, client, reception):
    queued(first)
    client.force_login(reception)
    assert client.get("/patients/duplicates/").status_code == 403
    pair = DuplicatePair.objects.get()
    assert client.post(f"/patients/duplicates/{pair.pk}/", {"decision": "not_same"}).status_code == 403


def test_the_urdu_worklist_is_translated(first, ops_client):
    queued(first)
    page = ops_client.get("/patients/duplicates/", HTTP_ACCEPT_LANGUAGE="ur").content.decode()
    assert "ممکنہ دہرے اندراج" in page


def test_the_desk_hint_names_the_mrn_and_why(first, client, reception):
    client.force_login(reception)
    answer = client.get("/patients/likely/", {"full_name": "Mohd Ali Kahn", "father_name": "Muhammad Aslam",
                                              "dob": "01/05/1980"})
    html = answer.content.decode()
    assert answer.status_code == 200 and first.mrn in html and "same date of birth" in html
    assert client.get("/patients/likely/", {"full_name": "Zainab", "dob": "31/02"}).content.decode().strip() == ""


def test_the_api_hint_lists_likely_duplicates_with_scores(first, api):
    answer = api.get("/api/v1/patients/likely-duplicates/", {"full_name": "Mohammad Ali Khan",
                                                             "phone": "+92 300 1234567"})
    assert answer.status_code == 200
    assert [(row["mrn"], row["reasons"][:2]) for row in answer.json()] == [(first.mrn, ["similar name", "same phone"])]
    assert api.get("/api/v1/patients/likely-duplicates/").status_code == 400


def test_an_imported_likely_duplicate_is_stored_and_queued(first):
    row = Patient(mrn="009-00-001", full_name="Mohammad Ali Khan", father_name="Muhammad Aslam", dob=BORN, sex="M")
    assert import_patients(patients=[row]) == [row]
    pair = DuplicatePair.objects.get()
    assert (pair.low_id, pair.high_id, pair.source) == (first.pk, row.pk, "import")


def test_an_offline_likely_duplicate_is_stored_with_its_number_and_queued(first):
    from terminals import services as terminals
    from terminals.models import LabTerminal
    from tests.terminals.conftest import create_seed_terminals, lab1_user

    create_seed_terminals()
    terminals.issue_terminal_key(terminal=LabTerminal.objects.get(code="LAB1-PC"))
    user = lab1_user()
    stored = terminals.register_offline(terminal_code="LAB1-PC", user=user, full_name="Muhd Ali Khan",
                                        father_name="Mohammad Aslam", dob=BORN, sex="M", phone="03001234567").patient
    assert Patient.objects.filter(mrn=stored.mrn).exists()
    pair = DuplicatePair.objects.get()
    assert (pair.low_id, pair.high_id, pair.source) == (first.pk, stored.pk, "offline sync")


def test_find_duplicates_queues_the_pairs_of_recent_registrations(first):
    from io import StringIO

    from django.core.management import call_command

    register_patient(full_name="Mohd Ali Kahn", father_name="Muhammad Aslam", dob=BORN, sex="M")
    out = StringIO()
    call_command("find_duplicates", stdout=out)
    assert "1 likely duplicate pair(s)" in out.getvalue() and worklist.open_pairs().count() == 1
