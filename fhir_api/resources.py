"""Tokenline's records as FHIR R4 resources, built with the fhir.resources library.

fhir.resources 8 models FHIR R5 at its top level; `fhir.resources.R4B` is FHIR 4.3, whose Patient, Bundle,
OperationOutcome and CapabilityStatement are the R4 (4.0.1) resources unchanged in every element used here, so
clients written for R4 read them as they are. Building through the library validates each resource as it is made
(pydantic): a wrong code or a malformed date raises here instead of reaching a client.
"""

from datetime import date, datetime

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient as FHIRPatient

from patients.models import Patient

FHIR_VERSION = "4.0.1"
V2_IDENTIFIER_TYPES = "http://terminology.hl7.org/CodeSystem/v2-0203"
V3_ROLE_CODES = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
# Our extension on birthDate: true when the date of birth was estimated from a stated age.
BIRTHDATE_ESTIMATED_URL = "urn:tokenline:fhir:StructureDefinition:birthdate-estimated"
GENDERS = {Patient.Sex.MALE: "male", Patient.Sex.FEMALE: "female", Patient.Sex.OTHER: "other"}
# Search parameters of Patient (fhir_api/search.py implements them), as the CapabilityStatement lists them.
SEARCH_PARAMS = {
    "identifier": ("token", "MRN (system FHIR_MRN_SYSTEM; with or without dashes, offline MRNs too) or CNIC "
                            "(system FHIR_CNIC_SYSTEM), as system|value, or value alone for either"),
    "name": ("string", "Part of the name; case and accents ignored"),
    "birthdate": ("date", "Date of birth: YYYY-MM-DD, YYYY-MM or YYYY"),
    "phone": ("token", "Phone number in any formatting, or its last 7 or more digits"),
}


def patient(record: Patient) -> FHIRPatient:
    """The FHIR Patient of `record`.

    `record` may carry `last_updated` (annotated by fhir_api.search.patients(): its latest history row); without
    it, or without history, meta.lastUpdated is the registration time. Identifiers: the MRN (type MR, system
    setting FHIR_MRN_SYSTEM; an offline terminal MRN such as `710042` the same way) and the CNIC (type NI, system
    FHIR_CNIC_SYSTEM). A merged record links (`Patient.link`) to its survivor (`replaced-by`, and is inactive); a
    survivor (with `replaces` annotated) to the records merged into it. The father's name, which Pakistani registration records, is a contact with relationship FTH.
    """
    resource = {
        "id": str(record.pk),
        "meta": {"lastUpdated": _instant(getattr(record, "last_updated", None) or record.created_at)},
        "identifier": [_identifier("MR", "Medical record number", settings.FHIR_MRN_SYSTEM, record.mrn, "usual")],
        "active": record.is_active,
        "name": [{"use": "official", "text": record.full_name}],
        "gender": GENDERS.get(record.sex, "unknown"),
    }
    if record.cnic:
        resource["identifier"].append(
            _identifier("NI", "National unique individual identifier", settings.FHIR_CNIC_SYSTEM, record.cnic,
                        "official")
        )
    if record.dob:
        resource["birthDate"] = record.dob.isoformat()
        if _has_field("dob_estimated"):  # models without the flag (older states) leave the extension out
            resource["birthDate__ext"] = {
                "extension": [{"url": BIRTHDATE_ESTIMATED_URL, "valueBoolean": bool(record.dob_estimated)}]
            }
    telecom = [{"system": "phone", "value": record.phone, "use": "mobile"}] if record.phone else []
    telecom += [{"system": "email", "value": record.email}] if record.email else []
    if telecom:
        resource["telecom"] = telecom
    if record.address:
        resource["address"] = [{"text": record.address}]
    links = [{"other": {"reference": f"Patient/{pk}"}, "type": "replaces"} for pk in getattr(record, "replaces", [])]
    if record.merged_into_id:  # merged away: FHIR's `replaced-by` names the record that holds the patient now
        links.insert(0, {"other": {"reference": f"Patient/{record.merged_into_id}"}, "type": "replaced-by"})
    if links:
        resource["link"] = links
    if record.father_name:
        resource["contact"] = [{
            "relationship": [{"coding": [{"system": V3_ROLE_CODES, "code": "FTH", "display": "father"}]}],
            "name": {"text": record.father_name},
        }]
    return FHIRPatient(**resource)


def searchset(resources: list, *, total: int, links: dict[str, str], base_url: str) -> Bundle:
    """A searchset Bundle of `resources` (this page), `total` matches in all, paging `links` (relation -> URL:
    self, first, previous, next, last) and each entry's fullUrl under `base_url` (`.../fhir/`)."""
    return Bundle(
        type="searchset",
        timestamp=_instant(timezone.now()),
        total=total,
        link=[{"relation": relation, "url": url} for relation, url in links.items()],
        entry=[
            {"fullUrl": f"{base_url}{r.get_resource_type()}/{r.id}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ]
        or None,
    )


def operation_outcome(code: str, diagnostics: str) -> OperationOutcome:
    """An error as FHIR sends it: one issue of severity error with an issue-type `code` (invalid, login,
    forbidden, not-found, ...) and the message in `diagnostics`."""
    return OperationOutcome(issue=[{"severity": "error", "code": code, "diagnostics": diagnostics}])


def capability_statement(base_url: str) -> CapabilityStatement:
    """What this server does: read and search Patient, JSON, token or session authentication."""
    return CapabilityStatement(
        status="active",
        date=_instant(timezone.now()),
        publisher=settings.HOSPITAL_NAME,
        kind="instance",
        software={"name": "Tokenline"},
        implementation={"description": f"Tokenline at {settings.HOSPITAL_NAME}", "url": base_url},
        fhirVersion=FHIR_VERSION,
        format=["application/fhir+json", "json"],
        rest=[{
            "mode": "server",
            "security": {
                "description": "Authorization: Token <key> (POST /api/v1/auth/token/), a user with the "
                               "fhir_reader role (or any role that may view patients)."
            },
            "resource": [{
                "type": "Patient",
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchParam": [
                    {"name": name, "type": kind, "documentation": doc} for name, (kind, doc) in SEARCH_PARAMS.items()
                ],
            }],
        }],
    )


def _identifier(code: str, display: str, system: str, value: str, use: str) -> dict:
    return {
        "use": use,
        "type": {"coding": [{"system": V2_IDENTIFIER_TYPES, "code": code, "display": display}]},
        "system": system,
        "value": value,
    }


def _instant(moment: datetime | date) -> str:
    return timezone.localtime(moment).isoformat()


def _has_field(name: str) -> bool:
    try:
        Patient._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True
