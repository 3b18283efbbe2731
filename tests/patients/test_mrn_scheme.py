"""TOKENLINE_MRN_SCHEME: grouped (seed 000) or dated (seed 001) MRNs, both from idseq; switching keeps
every issued number valid, findable and unique."""

import re

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from patients.mrn import client_formats, validate_mrn
from patients.services import register_patient


def today() -> str:
    return timezone.localdate().strftime("%Y%m%d")


@pytest.mark.django_db
def test_the_dated_scheme_issues_pat_numbers_and_switching_keeps_both_findable(api):
    with override_settings(TOKENLINE_MRN_SCHEME="dated"):
        dated = [register_patient(full_name=f"Dated {i}").mrn for i in range(2)]
    grouped = register_patient(full_name="Grouped").mrn
    with override_settings(TOKENLINE_MRN_SCHEME="dated"):
        dated.append(register_patient(full_name="Dated again").mrn)
    assert dated == [f"PAT-{today()}-0001", f"PAT-{today()}-0002", f"PAT-{today()}-0003"]
    assert grouped == "001-00-001"
    for mrn in [*dated, grouped]:
        for params in ({"mrn": mrn}, {"q": mrn}, {"q": mrn.lower()}):
            assert [row["mrn"] for row in api.get("/api/v1/patients/", params).json()["results"]] == [mrn]
    call_command("idseq_check", stdout=None)


@pytest.mark.django_db
@override_settings(TOKENLINE_MRN_SCHEME="dated")
def test_a_carried_over_dated_number_is_stepped_over_by_that_days_counter_without_skipping_any():
    register_patient(full_name="Old card", mrn=f"PAT-{today()}-0002")
    numbers = [register_patient(full_name="Next").mrn for _ in range(3)]
    assert numbers == [f"PAT-{today()}-0001", f"PAT-{today()}-0003", f"PAT-{today()}-0004"]
    call_command("idseq_check")


@pytest.mark.django_db
@override_settings(TOKENLINE_MRN_SCHEME="dated")
def test_strict_fields_take_numbers_of_both_schemes_and_name_the_active_one():
    validate_mrn("001-23-456")
    validate_mrn("PAT-20241103-0001")
    with pytest.raises(ValidationError, match=rf"Enter the MRN as PAT-YYYYMMDD-NNNN, e.g. PAT-{today()}-0001"):
        validate_mrn("PAT-2024-1")
    with pytest.raises(ValidationError, match="this patient's number is 001-23-456"):
        validate_mrn("01-23-456")


@pytest.mark.django_db
@pytest.mark.parametrize("scheme", ["grouped", "dated"])
def test_the_browser_gets_the_active_schemes_pattern_first(scheme):
    with override_settings(TOKENLINE_MRN_SCHEME=scheme):
        mrn = register_patient(full_name="Someone").mrn
        formats = client_formats()
    assert re.fullmatch(formats["patterns"][0], mrn) and re.fullmatch(formats["patterns"][0], formats["examples"][0])
    assert not re.fullmatch(formats["patterns"][1], mrn)


@override_settings(TOKENLINE_MRN_SCHEME="daily")
def test_an_unknown_scheme_stops_startup():
    errors = [error for error in run_checks() if error.id == "patients.E001"]
    assert errors and "use one of grouped, dated" in errors[0].msg
