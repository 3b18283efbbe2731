"""Merging two records of one patient and undoing it (patients/merge.py): what moves, the retired MRN (never
reissued, still found by every search path and FHIR), refusals, the race, permissions."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from idseq.exceptions import CounterBehindLedger
from idseq.models import Counter, IssuedNumber
from idseq.selectors import ledger_problems
from notifications.models import Notification
from patients.merge import MergeConflict, MergeRefused, RecordChanged, merge_patients, unmerge, version_of
from patients.models import DuplicatePair, Patient, PatientMerge
from patients.mrn import mrn_value
from patients.selectors import search_patients
from patients.services import MRN_COUNTER, register_patient, update_patient
from queues.models import Queue
from queues.services import issue_visit
from tests.conftest import make_user, token_client
from tokens import services as tokens


@pytest.fixture
def pair(db):
    """The same patient registered twice: the first with a phone, the second (a week later) with a CNIC."""
    kept = register_patient(full_name="Muhammad Ali", father_name="Muhammad Aslam", dob=datetime.date(1980, 5, 1),
                            sex="M", phone="0300-1234567")
    other = register_patient(full_name="Mohd Ali", father_name="Muhammad Aslam", dob=datetime.date(1980, 5, 1),
                             sex="M", cnic="35202-1234567-1")
    return kept, other


@pytest.fixture
def ops(db):
    return make_user("ops1", "ops")


def slot_tomorrow(capacity=1):
    doctor = tokens.create_doctor(name="Dr. Sana")
    start = timezone.make_aware(datetime.datetime.combine(timezone.localdate() + datetime.timedelta(days=1),
                                                          datetime.time(9)))
    return tokens.create_slot(doctor=doctor, start_time=start, end_time=start + datetime.timedelta(hours=1),
                              max_capacity=capacity)


def test_a_merge_moves_every_record_to_the_survivor_and_retires_the_other_mrn(pair, ops):
    kept, other = pair
    visit = issue_visit(patient=other, queue=Queue.objects.create(name="General", code="GEN"))
    slot = slot_tomorrow(capacity=1)
    token = tokens.book_token(slot_id=slot.pk, patient=other, category="ONLINE")
    someone = register_patient(full_name="Zainab Bibi")
    waiting = tokens.book_token(slot_id=slot.pk, patient=someone, category="ONLINE")
    note = Notification.objects.create(patient=other, kind="called", number="GEN-001", room="Desk 1",
                                       language="ur", adapter="sms")

    merge = merge_patients(survivor=kept, merged=other, reason="same father, same date of birth", merged_by=ops)

    kept.refresh_from_db()
    other.refresh_from_db()
    assert other.merged_into == kept and not other.is_active and kept.is_active
    visit.refresh_from_db(), token.refresh_from_db(), note.refresh_from_db()
    assert visit.patient == kept and token.patient == kept and note.patient == kept
    assert waiting.patient == someone  # a waiting entry of another patient stays put
    assert kept.cnic == "35202-1234567-1" and kept.phone == "0300-1234567"  # a blank filled, nothing overwritten
    number = IssuedNumber.objects.get(formatted=other.mrn)
    assert number.voided_at and number.void_reason == f"merged into {kept.mrn}" and number.voided_by == ops
    assert merge.merged_by == ops and merge.moved["queues.visit.patient"] == [str(visit.pk)]
    assert other.history.first().history_change_reason.startswith(f"merged into {kept.mrn}")
    assert kept.history.first().history_change_reason.startswith(f"{other.mrn} merged in")


def test_waiting_list_entries_move_too(pair):
    kept, other = pair
    slot = slot_tomorrow(capacity=1)
    tokens.book_token(slot_id=slot.pk, patient=register_patient(full_name="First Come"), category="ONLINE")
    entry = tokens.book_token(slot_id=slot.pk, patient=other, category="ONLINE")
    merge_patients(survivor=kept, merged=other, reason="one patient")
    entry.refresh_from_db()
    assert entry.patient == kept


def test_the_retired_mrn_is_never_issued_again_even_with_the_counter_forced_onto_it(pair):
    kept, other = pair
    merge_patients(survivor=kept, merged=other, reason="one patient")
    assert ledger_problems() == []  # counted once: its ledger row stays, voided
    assert IssuedNumber.objects.filter(formatted=other.mrn).count() == 1
    Counter.objects.filter(key=MRN_COUNTER).update(last_value=mrn_value(other.mrn) - 1)
    with pytest.raises(CounterBehindLedger):
        register_patient(full_name="Somebody New")
    assert list(Patient.objects.filter(mrn=other.mrn)) == [other]


def test_the_retired_mrn_finds_the_survivor_on_every_search_path(pair, fhir_reader, api):
    kept, other = pair
    merge_patients(survivor=kept, merged=other, reason="one patient")
    digits = other.mrn.replace("-", "")
    for typed in (other.mrn, digits):
        assert kept in search_patients(typed).patients and other in search_patients(typed).patients
    for query in (f"mrn={other.mrn}", f"q={other.mrn}", f"q={digits}"):
        found = {row["mrn"]: row for row in api.get(f"/api/v1/patients/?{query}").json()["results"]}
        assert set(found) == {kept.mrn, other.mrn}, query
        assert found[other.mrn]["merged_into"] == kept.pk and not found[other.mrn]["is_active"]
    bundle = fhir_reader.get(f"/fhir/Patient?identifier={other.mrn}").json()
    assert {entry["resource"]["id"] for entry in bundle["entry"]} == {str(kept.pk), str(other.pk)}
    merged_away = fhir_reader.get(f"/fhir/Patient/{other.pk}").json()
    assert merged_away["active"] is False
    assert merged_away["link"] == [{"other": {"reference": f"Patient/{kept.pk}"}, "type": "replaced-by"}]
    survivor = fhir_reader.get(f"/fhir/Patient/{kept.pk}").json()
    assert survivor["link"] == [{"other": {"reference": f"Patient/{other.pk}"}, "type": "replaces"}]


def test_the_desk_pages_lead_from_the_old_mrn_to_the_survivor(pair, client, reception):
    kept, other = pair
    merge_patients(survivor=kept, merged=other, reason="one patient")
    client.force_login(reception)
    page = client.get(f"/patients/?q={other.mrn}").content.decode()
    assert kept.mrn in page and other.mrn in page
    detail = client.get(f"/patients/{other.pk}/").content.decode()
    assert f"/patients/{kept.pk}/" in detail and "merged into" in detail.lower()


def test_a_merge_into_itself_or_a_merged_away_record_is_refused(pair):
    kept, other = pair
    with pytest.raises(MergeRefused, match="itself"):
        merge_patients(survivor=kept, merged=kept, reason="x")
    merge_patients(survivor=kept, merged=other, reason="one patient")
    third = register_patient(full_name="Muhammad Ali")
    with pytest.raises(MergeConflict, match=f"{other.mrn} was merged into {kept.mrn}"):
        merge_patients(survivor=other, merged=third, reason="x")
    with pytest.raises(MergeConflict):
        merge_patients(survivor=third, merged=other, reason="x")
    with pytest.raises(MergeRefused, match="why"):
        merge_patients(survivor=third, merged=kept, reason="  ")


def test_two_cnics_need_the_override_and_a_reason(pair):
    kept, other = pair
    update_patient(kept, cnic="35202-7654321-1")
    with pytest.raises(MergeRefused, match="CNIC"):
        merge_patients(survivor=kept, merged=other, reason="one patient")
    assert Patient.objects.get(pk=other.pk).merged_into is None
    merge = merge_patients(survivor=kept, merged=other, reason="CNIC mistyped at first visit", cnic_override=True)
    assert merge.cnic_override


def test_a_record_changed_since_the_user_looked_gets_409_naming_the_fields(pair, api, ops):
    kept, other = pair
    seen = {kept.pk: version_of(kept), other.pk: version_of(other)}
    update_patient(other, phone="0321-5555555", address="Lahore")
    with pytest.raises(RecordChanged) as refused:
        merge_patients(survivor=kept, merged=other, reason="one patient", versions=seen)
    assert refused.value.extra["changed"] == {other.mrn: ["address", "phone"]}
    response = token_client(ops).post(f"/api/v1/patients/{kept.pk}/merge/", {
        "other": other.pk, "reason": "one patient", "survivor_version": seen[kept.pk],
        "other_version": seen[other.pk]}, format="json")
    assert response.status_code == 409 and "phone" in response.json()["detail"]
    assert Patient.objects.get(pk=other.pk).merged_into is None


@pytest.mark.django_db(transaction=True)
def test_two_merges_of_one_record_at_once_one_wins_the_other_gets_409():
    kept = register_patient(full_name="Ayesha Bibi")
    other = register_patient(full_name="Aisha Bibi")
    third = register_patient(full_name="Aysha Bibi")
    outcomes, barrier = [], threading.Barrier(2)

    def merge_into(survivor):
        barrier.wait()
        try:
            merge_patients(survivor=survivor, merged=other, reason="one patient")
            outcomes.append("merged")
        except MergeConflict as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=merge_into, args=(target,)) for target in (kept, third)]
    [thread.start() for thread in threads]
    [thread.join() for thread in threads]
    assert outcomes.count("merged") == 1 and any("was merged into" in outcome for outcome in outcomes), outcomes
    assert PatientMerge.objects.count() == 1


def test_unmerge_restores_both_records_and_the_number(pair, ops):
    kept, other = pair
    visit = issue_visit(patient=other, queue=Queue.objects.create(name="General", code="GEN"))
    merge = merge_patients(survivor=kept, merged=other, reason="one patient", merged_by=ops)
    later = issue_visit(patient=kept, queue=Queue.objects.create(name="Laboratory", code="LAB"))
    unmerge(merge, reason="two brothers after all", unmerged_by=ops)
    kept.refresh_from_db(), other.refresh_from_db(), visit.refresh_from_db(), later.refresh_from_db()
    assert other.is_active and other.merged_into is None and other.cnic == "35202-1234567-1"
    assert kept.cnic == "" and kept.phone == "0300-1234567"
    assert visit.patient == other and later.patient == kept  # what came after the merge stays with the survivor
    assert IssuedNumber.objects.get(formatted=other.mrn).voided_at is None
    assert search_patients(other.mrn).patients.get() == other
    with pytest.raises(MergeConflict, match="undone already"):
        unmerge(merge, reason="again")
    low, high = sorted((kept.pk, other.pk))
    assert not DuplicatePair.objects.exclude(status="not_same").filter(low=low, high=high).exists()


def test_only_a_role_with_the_merge_permission_merges(pair, api, ops):
    kept, other = pair
    body = {"other": other.pk, "reason": "one patient"}
    assert api.post(f"/api/v1/patients/{kept.pk}/merge/", body, format="json").status_code == 403
    response = token_client(ops).post(f"/api/v1/patients/{kept.pk}/merge/", body, format="json")
    assert response.status_code == 201 and response.json()["merged"] == other.pk
    assert api.post(f"/api/v1/patients/{other.pk}/unmerge/", {"reason": "x"}, format="json").status_code == 403
    answer = token_client(ops).post(f"/api/v1/patients/{other.pk}/unmerge/", {"reason": "x"}, format="json")
    assert answer.status_code == 200 and answer.json()["unmerged_by"] is not None


def test_the_api_answers_refusals_with_their_status_and_detail(pair, ops):
    kept, other = pair
    client = token_client(ops)
    itself = client.post(f"/api/v1/patients/{kept.pk}/merge/", {"other": kept.pk, "reason": "x"}, format="json")
    assert itself.status_code == 422 and "itself" in itself.json()["detail"]
    missing = client.post(f"/api/v1/patients/{kept.pk}/merge/", {"other": 999999, "reason": "x"}, format="json")
    assert missing.status_code == 404
    assert client.post(f"/api/v1/patients/{kept.pk}/unmerge/", {"reason": "x"}, format="json").status_code == 404


def test_unmerge_also_moves_what_the_user_names_from_the_survivor(pair, ops):
    kept, other = pair
    merge = merge_patients(survivor=kept, merged=other, reason="one patient", merged_by=ops)
    later = issue_visit(patient=kept, queue=Queue.objects.create(name="Laboratory", code="LAB"))
    answer = token_client(ops).post(f"/api/v1/patients/{other.pk}/unmerge/", {
        "reason": "two people", "also_move": {"queues.visit.patient": [later.pk]}}, format="json")
    assert answer.status_code == 200
    later.refresh_from_db()
    assert later.patient == other and PatientMerge.objects.get(pk=merge.pk).unmerged_at
    with pytest.raises(MergeRefused, match="called"):
        unmerge(merge_patients(survivor=kept, merged=other, reason="again"), reason="x", also_move={"nope": [1]})


def test_the_admin_lists_merges_read_only(pair, client):
    kept, other = pair
    merge_patients(survivor=kept, merged=other, reason="one patient")
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    page = client.get("/admin/patients/patientmerge/")
    assert page.status_code == 200 and other.mrn in page.content.decode()
    assert client.get("/admin/patients/patientmerge/add/").status_code == 403
    change = client.get(f"/admin/patients/patient/{other.pk}/change/").content.decode()
    assert 'name="is_active"' not in change and kept.mrn in change  # read-only: only unmerging reactivates it
