"""The words of patients' names (patients/name_words.py), and a search for one of them at the cap."""

import pytest
from django.db import connection

from patients.models import NameWord, Patient
from patients.services import import_patients, register_patient, update_patient
from tests.conftest import migrate


def words() -> dict[int, dict[str, float]]:
    """patient id -> {word: closeness}, as stored."""
    stored: dict[int, dict[str, float]] = {}
    for row in NameWord.objects.values("patient_id", "word", "closeness"):
        stored.setdefault(row["patient_id"], {})[row["word"]] = row["closeness"]
    return stored


def closeness(name: str) -> float:
    """1 / pg_trgm's number of distinct trigrams of `name` folded, computed by PostgreSQL."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT cardinality(show_trgm(patients_fold(%s)))", [name])
        return 1 / cursor.fetchone()[0]


def test_the_words_follow_each_patient_through_registration_import_correction_and_deletion(db):
    zoe = register_patient(full_name="Zoë  Ahmed Ahmed")  # two spaces, a repeated word: each word once
    imported = import_patients(patients=[Patient(mrn="001-23-456", full_name="Kashif Ali")])[0]
    assert words() == {zoe.pk: {"zoe": closeness("Zoë Ahmed"), "ahmed": closeness("Zoë Ahmed")},
                       imported.pk: {"kashif": closeness("Kashif Ali"), "ali": closeness("Kashif Ali")}}
    update_patient(zoe, full_name="Zoë Raza Khan")
    update_patient(imported, phone="0300-1234567")  # not its name: nothing to do
    Patient.objects.filter(pk=imported.pk).delete()
    assert words() == {zoe.pk: dict.fromkeys(["zoe", "raza", "khan"], closeness("Zoë Raza Khan"))}


def test_a_lone_word_ranks_the_closest_patients_with_that_whole_word_when_they_pass_the_cap(api, monkeypatch):
    from patients import selectors

    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    # Oldest first: the first matches the trigram index yields, which the cap used to rank alone.
    for name in ["Abida Khanum", "Muhammad Ali Khan Yousafzai", "Ali Khan Durrani", "Ali Khan", "Abid Khan", "Bo Khan"]:
        register_patient(full_name=name)

    def found(**params):
        return [p["full_name"] for p in api.get("/api/v1/patients/", params).json()["results"]]

    # Similarity 5/8, 5/9, 5/10: "khan"'s 5 trigrams among the name's.
    assert found(name="khan") == ["Bo Khan", "Ali Khan", "Abid Khan"]
    assert found(q="khan", is_active="true") == ["Bo Khan", "Ali Khan", "Abid Khan"]  # other filters: checked each
    # Fewer whole-word matches than the cap: the other matches too, by similarity (4/14: "abid" inside "abida").
    assert found(name="abid") == ["Abid Khan", "Abida Khanum"]
    monkeypatch.setattr(selectors, "COUNT_CAP", 1000)
    assert len(found(name="khan")) == 6


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_words_the_triggers_write_and_goes_back():
    for name in ["Ayesha Khan", "Bilal  Ahmed", "José Ahmed Ahmed"]:
        register_patient(full_name=name)
    written = words()
    migrate(("patients", "0013_mrn_value"))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('patients_nameword'), count(*) FROM pg_trigger"
                           " WHERE tgname LIKE 'patients_patient_name_words%%'")
            assert cursor.fetchone() == (None, 0)
    finally:
        migrate()
    assert words() == written
