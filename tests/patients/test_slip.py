"""The registration slip: page for the reception printer, SVG and PDF for terminals."""

import datetime
from xml.etree import ElementTree

import pytest
from django.db import connection
from django.test import override_settings

from patients.models import Patient
from patients.services import register_patient
from patients.slips import Slip, age_label
from tests.patients.code128 import decode_svg


@pytest.fixture
def patient(db):
    return register_patient(full_name="Ayesha Khan", father_name="Imran Khan", sex="F", dob=datetime.date(1992, 5, 15))


@override_settings(HOSPITAL_NAME="Al Shifa Hospital")
@pytest.mark.parametrize("paper", ["80mm", "a4", "a5"])
def test_the_slip_page_shows_the_mrn_as_code_128_and_qr_with_the_particulars(desk, patient, paper):
    response = desk.get(f"/patients/{patient.pk}/slip/", {"paper": paper})
    html = response.content.decode()
    assert response.status_code == 200
    assert decode_svg(html.split('data-testid="barcode">')[1]) == patient.mrn
    assert 'data-testid="qr"><svg' in html
    for text in ["Al Shifa Hospital", "Ayesha Khan", "d/o Imran Khan", " y / F", f'class="paper-{paper}"']:
        assert text in html
    assert "data-autoprint" not in html
    width, height = {"80mm": (80, 110), "a4": (210, 297), "a5": (148, 210)}[paper]
    assert f"@page {{ size: {width}mm {height}mm; margin: 0; }}" in html  # `80mm auto` is not valid CSS


@pytest.mark.parametrize(("sex", "line"), [("M", "s/o Imran"), ("F", "d/o Imran"), ("O", "s/o, d/o Imran"), ("", "s/o, d/o Imran")])
def test_the_slip_names_the_father_as_son_of_or_daughter_of_by_sex(db, sex, line):
    assert Slip.of(register_patient(full_name="A", father_name="Imran", sex=sex)).father_line == line


def test_one_click_after_registration_opens_the_slip_ready_to_print(desk, patient):
    registered = desk.get(f"/patients/{patient.pk}/registered/").content.decode()
    assert f'href="/patients/{patient.pk}/slip/?print=1"' in registered
    assert "data-autoprint" in desk.get(f"/patients/{patient.pk}/slip/", {"print": "1"}).content.decode()


def test_the_api_gives_the_slip_as_svg_by_default(api, patient):
    response = api.get(f"/api/v1/patients/{patient.pk}/slip/")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    svg = response.content.decode()
    assert svg.startswith("<?xml") and 'width="80mm"' in svg and "Ayesha Khan" in svg
    assert decode_svg(svg) == patient.mrn


def test_the_api_gives_the_slip_as_a_pdf_on_a4(api, patient):
    response = api.get(f"/api/v1/patients/{patient.pk}/slip/", {"output": "pdf", "paper": "a4"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF") and b"/MediaBox [ 0 0 595.2756 841.8898 ]" in response.content


def test_the_slip_is_well_formed_xml_whatever_name_was_stored(api, desk, patient):
    # Stored around the fields' rule and the database's (a row from before them): the constraint is dropped for this
    # test's transaction only.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending: ALTER TABLE refuses them
        cursor.execute("ALTER TABLE patients_patient DROP CONSTRAINT patients_patient_no_control_characters")
    name = "Ayesha\u0007 <b>&amp; \"Khan\"]]>\x1b\ufffe"
    Patient.objects.filter(pk=patient.pk).update(full_name=name, father_name="Imran\u202e\x0c")
    response = api.get(f"/api/v1/patients/{patient.pk}/slip/")
    assert response.status_code == 200
    root = ElementTree.fromstring(response.content)  # raises ParseError when not well-formed
    texts = ["".join(element.itertext()) for element in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "Ayesha\ufffd <b>&amp; \"Khan\"]]>\ufffd\ufffd" in texts and "d/o Imran\ufffd\ufffd" in texts
    pdf = api.get(f"/api/v1/patients/{patient.pk}/slip/", {"output": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "Ayesha\ufffd" in desk.get(f"/patients/{patient.pk}/slip/").content.decode()


def test_the_api_refuses_an_unknown_output_and_answers_404_for_no_patient(api, patient):
    assert api.get(f"/api/v1/patients/{patient.pk}/slip/", {"output": "png"}).status_code == 400
    assert api.get(f"/api/v1/patients/{patient.pk + 99}/slip/").status_code == 404


@pytest.mark.parametrize(
    ("dob", "today", "label"),
    [("1990-12-01", "2026-11-25", "35 y"), ("1990-11-25", "2026-11-25", "36 y"), ("2026-04-30", "2026-11-25", "6 mo"),
     ("2026-11-20", "2026-11-25", "0 mo")],
)
def test_ages_are_whole_years_or_months_for_babies(dob, today, label):
    assert age_label(datetime.date.fromisoformat(dob), datetime.date.fromisoformat(today)) == label
