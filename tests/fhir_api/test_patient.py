"""FHIR R4 under /fhir/: every answer is validated with fhir.resources, the library that built it."""

import datetime

import pytest
from fhir.resources.R4B import get_fhir_model_class
from rest_framework.test import APIClient

from fhir_api import resources
from patients.models import Patient
from patients.services import register_patient, update_patient
from tests.conftest import make_user, token_client

MRN_SYSTEM = "urn:tokenline:mrn"
CNIC_SYSTEM = "urn:tokenline:cnic"


def fhir_get(client, url: str, status: int = 200) -> dict:
    """GET `url`, check the status and the FHIR content type, validate the body with the library; the body."""
    response = client.get(url)
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    get_fhir_model_class(body["resourceType"]).model_validate(body)  # raises on anything invalid
    return body


def ids(bundle: dict) -> list[str]:
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


@pytest.fixture
def ali(db):
    return register_patient(
        full_name="Ali Raza", father_name="Raza Khan", dob=datetime.date(1990, 5, 17), sex="M",
        phone="0300-1234567", cnic="12345-1234567-1", email="ali@example.org", address="House 1, Lahore",
    )


@pytest.fixture
def others(db):
    return [register_patient(full_name=f"Other {i}", phone=f"0321-765432{i}") for i in range(3)]


def test_metadata_is_a_capability_statement_anyone_may_read(db):
    body = fhir_get(APIClient(), "/fhir/metadata")
    assert body["resourceType"] == "CapabilityStatement" and body["fhirVersion"] == "4.0.1"
    (patient,) = body["rest"][0]["resource"]
    assert patient["type"] == "Patient"
    assert {p["name"] for p in patient["searchParam"]} == {"identifier", "name", "birthdate", "phone"}


def test_reading_a_patient_gives_its_identifiers_and_demographics(fhir_reader, ali):
    body = fhir_get(fhir_reader, f"/fhir/Patient/{ali.pk}")
    assert body["resourceType"] == "Patient" and body["id"] == str(ali.pk)
    mrn, cnic = body["identifier"]
    assert mrn["type"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR", "display": "Medical record number"
    }
    assert (mrn["system"], mrn["value"]) == (MRN_SYSTEM, "001-00-001")
    assert cnic["type"]["coding"][0]["code"] == "NI"
    assert (cnic["system"], cnic["value"]) == (CNIC_SYSTEM, "12345-1234567-1")
    assert body["name"] == [{"use": "official", "text": "Ali Raza"}]
    assert body["gender"] == "male" and body["birthDate"] == "1990-05-17" and body["active"] is True
    assert body["telecom"] == [
        {"system": "phone", "value": "0300-1234567", "use": "mobile"}, {"system": "email", "value": "ali@example.org"}
    ]
    assert body["address"] == [{"text": "House 1, Lahore"}]
    assert body["contact"][0]["name"] == {"text": "Raza Khan"}
    assert body["contact"][0]["relationship"][0]["coding"][0]["code"] == "FTH"
    registered = ali.history.earliest().history_date
    assert datetime.datetime.fromisoformat(body["meta"]["lastUpdated"]) == registered


def test_last_updated_is_the_latest_correction_and_a_deactivated_patient_is_inactive(fhir_reader, ali):
    update_patient(ali, phone="0333-7654321")
    ali.is_active = False
    ali.save()
    body = fhir_get(fhir_reader, f"/fhir/Patient/{ali.pk}")
    assert datetime.datetime.fromisoformat(body["meta"]["lastUpdated"]) == ali.history.latest().history_date
    assert body["active"] is False and body["telecom"][0]["value"] == "0333-7654321"


def test_a_sparse_patient_has_no_empty_elements(fhir_reader):
    sparse = register_patient(full_name="Bare Minimum")
    body = fhir_get(fhir_reader, f"/fhir/Patient/{sparse.pk}")
    assert len(body["identifier"]) == 1 and body["gender"] == "unknown"
    assert not {"birthDate", "telecom", "address", "contact"} & set(body)


def test_an_estimated_date_of_birth_carries_the_extension(ali, monkeypatch):
    # The extension follows the model's flag; `_has_field` leaves it out for a model state without the field.
    monkeypatch.setattr(resources, "_has_field", lambda name: name == "dob_estimated")
    ali.dob_estimated = True
    resource = resources.patient(ali)
    get_fhir_model_class("Patient").model_validate_json(resource.model_dump_json())
    assert resource.birthDate__ext.extension[0].url == resources.BIRTHDATE_ESTIMATED_URL
    assert resource.birthDate__ext.extension[0].valueBoolean is True


@pytest.mark.parametrize("value", ["001-00-001", "00100001", "01-00-001"])
def test_search_by_mrn_with_or_without_dashes_finds_exactly_the_patient(fhir_reader, ali, others, value):
    bundle = fhir_get(fhir_reader, f"/fhir/Patient?identifier={MRN_SYSTEM}|{value}")
    assert ids(bundle) == [str(ali.pk)] and bundle["total"] == 1
    assert bundle["entry"][0]["fullUrl"] == f"http://testserver/fhir/Patient/{ali.pk}"


def test_search_by_an_offline_mrn_finds_exactly_the_patient(fhir_reader, others):
    offline = Patient.objects.create(mrn="710042", full_name="Lab Walk-in", is_offline_entry=True)
    Patient.objects.create(mrn="7100421", full_name="Longer Number", is_offline_entry=True)
    bundle = fhir_get(fhir_reader, f"/fhir/Patient?identifier={MRN_SYSTEM}|710042")
    assert ids(bundle) == [str(offline.pk)]
    assert bundle["entry"][0]["resource"]["identifier"][0]["value"] == "710042"


@pytest.mark.parametrize("value", ["12345-1234567-1", "1234512345671"])
def test_search_by_cnic_finds_exactly_the_patient(fhir_reader, ali, others, value):
    assert ids(fhir_get(fhir_reader, f"/fhir/Patient?identifier={CNIC_SYSTEM}|{value}")) == [str(ali.pk)]


@pytest.mark.parametrize("value", ["001-00-001", "12345-1234567-1"])
def test_an_identifier_without_a_system_is_looked_up_as_mrn_or_cnic(fhir_reader, ali, others, value):
    assert ids(fhir_get(fhir_reader, f"/fhir/Patient?identifier={value}")) == [str(ali.pk)]


def test_an_identifier_of_another_system_matches_nothing(fhir_reader, ali):
    bundle = fhir_get(fhir_reader, "/fhir/Patient?identifier=urn:other|001-00-001")
    assert ids(bundle) == [] and bundle["total"] == 0


def test_search_by_name_birthdate_and_phone(fhir_reader, ali, others):
    assert ids(fhir_get(fhir_reader, "/fhir/Patient?name=raza")) == [str(ali.pk)]
    assert ids(fhir_get(fhir_reader, "/fhir/Patient?birthdate=1990-05-17")) == [str(ali.pk)]
    assert ids(fhir_get(fhir_reader, "/fhir/Patient?birthdate=1990")) == [str(ali.pk)]
    assert ids(fhir_get(fhir_reader, "/fhir/Patient?birthdate=1990-06")) == []
    assert ids(fhir_get(fhir_reader, "/fhir/Patient?phone=%2B92%20300%201234567")) == [str(ali.pk)]
    assert ids(fhir_get(fhir_reader, "/fhir/Patient?name=ali&phone=03001234567")) == [str(ali.pk)]
    assert ids(fhir_get(fhir_reader, "/fhir/Patient?name=ali&birthdate=2000")) == []


def test_search_results_come_in_pages_with_links(fhir_reader, others):
    register_patient(full_name="Other 3")
    register_patient(full_name="Other 4")
    first = fhir_get(fhir_reader, "/fhir/Patient?name=other&_count=2")
    assert first["total"] == 5 and len(ids(first)) == 2
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert set(links) == {"self", "first", "next", "last"}
    assert "page=3" in links["last"] and "_count=2" in links["next"]
    last = fhir_get(fhir_reader, links["last"].removeprefix("http://testserver"))
    assert len(ids(last)) == 1
    assert {link["relation"] for link in last["link"]} == {"self", "first", "previous", "last"}
    seen = ids(first) + ids(fhir_get(fhir_reader, links["next"].removeprefix("http://testserver"))) + ids(last)
    assert len(set(seen)) == 5


def test_unknown_id_is_404_operation_outcome(fhir_reader, ali):
    for url in [f"/fhir/Patient/{ali.pk + 1000}", "/fhir/Patient/abc", "/fhir/Patient/%C2%B2"]:
        body = fhir_get(fhir_reader, url, status=404)
        assert body["resourceType"] == "OperationOutcome"
        assert body["issue"][0]["code"] == "not-found"


def test_without_a_token_the_answer_is_401_operation_outcome(ali):
    response = APIClient().get(f"/fhir/Patient/{ali.pk}")
    assert response["WWW-Authenticate"] == "Token"
    body = fhir_get(APIClient(), f"/fhir/Patient/{ali.pk}", status=401)
    assert body["issue"][0]["code"] == "login"
    assert fhir_get(APIClient(), "/fhir/Patient?name=ali", status=401)["resourceType"] == "OperationOutcome"


def test_a_user_without_a_patient_role_gets_403_operation_outcome(ali):
    body = fhir_get(token_client(make_user("nobody")), f"/fhir/Patient/{ali.pk}", status=403)
    assert body["issue"][0]["code"] == "forbidden"


def test_the_fhir_reader_role_may_only_read_patients(fhir_reader, ali):
    assert fhir_reader.post("/api/v1/patients/", {"full_name": "X"}, format="json").status_code == 403
    assert fhir_reader.get("/api/v1/visits/").status_code == 403


@pytest.mark.parametrize(
    "query",
    ["identifer=001-00-001", "birthdate=1990-13", "birthdate=gt1990", "phone=123", "_count=0", "page=x",
     f"identifier={MRN_SYSTEM}|not-an-mrn"],
)
def test_bad_search_parameters_are_400_operation_outcome(fhir_reader, ali, query):
    body = fhir_get(fhir_reader, f"/fhir/Patient?{query}", status=400)
    assert body["issue"][0]["code"] == "invalid" and body["issue"][0]["diagnostics"]
