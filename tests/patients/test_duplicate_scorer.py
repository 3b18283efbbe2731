"""The likely-duplicate scorer (patients/duplicates.py) on a labelled set of realistic Pakistani records, and its
candidate lookup on the database."""

import re
from datetime import date

import pytest
from django.db import connection

from patients.duplicates import (
    SCALE, THRESHOLD, W_FATHER_SAME, W_NAME, W_SEX_SAME, Record, canonical_words, candidate_rows, likely_duplicates,
    name_similarity, score, spellings,
)
from patients.models import Patient
from patients.services import register_patient
from tests.patients.pakistani_names import labelled_pairs

MIN_PRECISION = 0.97
MIN_RECALL = 0.95


def precision_and_recall(pairs) -> tuple[float, float, dict]:
    """(precision, recall, counts) of the scorer's `likely` on labelled pairs."""
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for a, b, same in pairs:
        likely = score(a, b).likely
        counts[("t" if likely == same else "f") + ("p" if likely else "n")] += 1
    precision = counts["tp"] / max(counts["tp"] + counts["fp"], 1)
    recall = counts["tp"] / max(counts["tp"] + counts["fn"], 1)
    return precision, recall, counts


def test_the_scorer_separates_second_registrations_from_namesakes_on_300_labelled_pairs():
    pairs = labelled_pairs(300)
    assert len(pairs) >= 300 and sum(same for *_, same in pairs) >= 150
    precision, recall, counts = precision_and_recall(pairs)
    print(f"\nduplicate scorer, {len(pairs)} labelled pairs, threshold {THRESHOLD}: precision {precision:.3f}, "
          f"recall {recall:.3f} ({counts})")
    assert precision >= MIN_PRECISION and recall >= MIN_RECALL


def test_the_scorer_holds_on_other_seeds_of_the_generator():
    precision, recall, counts = precision_and_recall(labelled_pairs(2000, seed=7))
    print(f"\nduplicate scorer, 2000 pairs (seed 7): precision {precision:.3f}, recall {recall:.3f} ({counts})")
    assert precision >= MIN_PRECISION and recall >= MIN_RECALL


@pytest.mark.parametrize("a, b", [
    ("Muhammad Ali", "Mohammad Ali"), ("Muhammad Ali", "Muhd Ali"), ("Muhammad Ali", "Mohd. Ali"),
    ("Muhammad Ali", "Muhammed Ali"), ("Ayesha Khan", "Aisha Kahn"), ("Aysha Bibi", "Ayesha Bibi"),
    ("Kamran Akmal", "Kamrn Akmal"), ("Imran Butt", "Immran Butt"), ("Bilal Ahmed", "Billal Ahmad"),
    ("Ali Muhammad", "Muhammad Ali"), ("مُحمّد علی", "محمد علي"),
])
def test_spelling_variants_of_one_name_are_alike(a, b):
    assert name_similarity(a, b) >= 0.9


@pytest.mark.parametrize("a, b", [("Ayesha Khan", "Fatima Khan"), ("Bilal Ahmed", "Asif Ahmed"),
                                  ("محمد علی", "Muhammad Ali"), ("Hina", "Hamza")])
def test_different_names_are_not_alike(a, b):
    assert name_similarity(a, b) < 0.75


def test_canonical_words_replace_the_known_variants():
    assert canonical_words("Mohd. AISHA Kahn") == ["muhammad", "ayesha", "khan"]
    assert canonical_words("Mohhd Ali") == ["muhammad", "ali"]


def test_a_namesake_with_another_birth_date_and_phone_is_not_a_duplicate():
    a = Record("Muhammad Ali", "Muhammad Aslam", date(1980, 5, 1), sex="M", phone="0300-1234567")
    b = Record("Muhammad Ali", "Muhammad Aslam", date(1992, 3, 9), sex="M", phone="0321-7654321")
    assert score(a, b).score < THRESHOLD


def test_the_same_cnic_wins_and_a_different_cnic_refuses():
    a = Record("Ayesha Bibi", "Ghulam Hussain", cnic="35202-1234567-1")
    assert score(a, Record("Aisha Bibi", "Ghulam Husain", cnic="3520212345671")).likely
    b = Record("Aisha Bibi", "Ghulam Husain", date(1990, 1, 1), phone="0300-1111111", cnic="35202-7654321-1")
    assert not score(Record("Ayesha Bibi", "Ghulam Hussain", date(1990, 1, 1), phone="0300-1111111",
                            cnic="35202-1234567-1"), b).likely


def test_the_reasons_name_what_agrees():
    match = score(Record("Mohd Ali", "Muhammad Aslam", date(1980, 5, 1), phone="0300-1234567"),
                  Record("Muhammad Ali", "Muhammad Aslam", date(1980, 5, 1), phone="+92 300 1234567"))
    assert match.likely and match.reasons == ["similar name", "same phone", "same date of birth",
                                              "same father's name"]


def test_spellings_try_the_common_variants_of_a_word():
    found = spellings("Mohd Ali")
    assert found[0] == "mohd ali" and "muhammad ali" in found and len(found) <= 6


@pytest.mark.django_db
def test_candidates_come_from_the_names_phone_and_cnic_and_are_scored():
    same = register_patient(full_name="Muhammad Ali Khan", father_name="Muhammad Aslam", dob=date(1980, 5, 1),
                            phone="0300-1234567", sex="M")
    namesake = register_patient(full_name="Muhammad Ali Khan", father_name="Muhammad Aslam", dob=date(1999, 5, 1),
                                phone="0333-9999999", sex="M")
    register_patient(full_name="Zainab Bibi", father_name="Nazir Ahmed")
    typed = Record("Mohd Ali Kahn", "Muhammad Aslam", date(1980, 5, 1), sex="M")
    assert set(candidate_rows(Patient.objects.all(), typed)) == {same}
    assert namesake in candidate_rows(Patient.objects.all(), Record("Mohd Ali", dob=date(1999, 1, 5)))  # 1, 5 swapped
    assert not candidate_rows(Patient.objects.all(), Record("Muhammad Ali Khan", "Muhammad Aslam")).exists()
    found = likely_duplicates(Patient.objects.all(), typed)
    assert [patient for patient, _ in found] == [same]
    by_phone = candidate_rows(Patient.objects.all(), Record("Someone Else", phone="+92 300 1234567"))
    assert list(by_phone) == [same]


@pytest.mark.django_db
def test_the_candidate_lookup_can_be_answered_from_indexes_alone():
    register_patient(full_name="Muhammad Ali", father_name="Muhammad Aslam")
    queryset = candidate_rows(Patient.objects.all(), Record("Mohd Ali", "Muhammad Aslam", date(1980, 5, 1),
                                                            phone="0300-1234567", cnic="35202-1234567-1"))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = queryset.explain()
    assert "Seq Scan" not in plan
    assert {"patients_dob", "patients_dob_estimated", "patients_phone_key", "patients_cnic"} <= set(
        re.findall(r"Index Scan on (\w+)", plan)), plan


def test_a_name_alone_never_reaches_the_threshold():
    """What makes the candidate lookup complete: a pair needs a CNIC, a phone or a birth date that agrees."""
    assert W_NAME + W_FATHER_SAME + W_SEX_SAME < THRESHOLD * SCALE
    assert not score(Record("Muhammad Ali", "Muhammad Aslam", sex="M"),
                     Record("Muhammad Ali", "Muhammad Aslam", sex="M")).likely
