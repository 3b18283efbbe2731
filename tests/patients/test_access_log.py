"""Who saw which patient: each read of a patient's details writes an access record in the same request, searches
record their kind and count but never their text, admins read a patient's history, old records are pruned."""

import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from patients.models import Patient, PatientAccess
from patients.services import register_patient
from queues.models import Queue
from terminals.models import LabTerminal
from terminals import services as terminal_services
from tests.conftest import make_user
from tests.terminals.conftest import create_seed_terminals


@pytest.fixture
def patient(reception):
    return register_patient(full_name="Ayesha Khan", cnic="12345-1234567-1", phone="0300-1234567",
                            created_by=reception)


@pytest.fixture
def page(reception) -> Client:
    client = Client()
    client.force_login(reception)
    return client


def only_record(**filters) -> PatientAccess:
    (record,) = PatientAccess.objects.filter(**filters)
    return record


def assert_one_read(response, patient, user, channel: str) -> None:
    """The request answered 200 and wrote exactly one read of `patient` by `user` through `channel`, carrying the
    request's id."""
    assert response.status_code == 200, response.content[:300]
    record = only_record()
    assert (record.patient, record.user, record.channel) == (patient, user, channel)
    assert record.search_kind == "" and record.result_count is None
    assert record.request_id == response["X-Request-ID"]
    assert timezone.now() - record.at < datetime.timedelta(seconds=30)


def test_the_patient_page_records_its_read(page, patient, reception):
    assert_one_read(page.get(f"/patients/{patient.pk}/"), patient, reception, "page")


def test_the_correction_form_records_a_read_but_the_correction_itself_does_not(page, patient, reception):
    assert_one_read(page.get(f"/patients/{patient.pk}/correct/"), patient, reception, "page")
    PatientAccess.objects.all().delete()
    page.post(f"/patients/{patient.pk}/correct/", {"full_name": "Ayesha Khan Raza"})
    assert not PatientAccess.objects.exists()  # a write: the patient's history has it


def test_the_slip_page_records_a_slip_read(page, patient, reception):
    assert_one_read(page.get(f"/patients/{patient.pk}/slip/"), patient, reception, "slip")


def test_the_success_page_is_no_read_for_the_clerk_who_registered_but_is_for_anyone_else(page, patient, db):
    assert page.get(f"/patients/{patient.pk}/registered/").status_code == 200
    assert not PatientAccess.objects.exists()
    other = make_user("desk2", "reception")
    client = Client()
    client.force_login(other)
    assert_one_read(client.get(f"/patients/{patient.pk}/registered/"), patient, other, "page")


def test_the_api_detail_and_slip_record_their_reads(api, patient, reception):
    assert_one_read(api.get(f"/api/v1/patients/{patient.pk}/"), patient, reception, "api")
    PatientAccess.objects.all().delete()
    assert_one_read(api.get(f"/api/v1/patients/{patient.pk}/slip/?output=svg"), patient, reception, "slip")


def test_the_fhir_read_records_its_read(fhir_reader, patient):
    response = fhir_reader.get(f"/fhir/Patient/{patient.pk}")
    assert_one_read(response, patient, PatientAccess.objects.get().user, "fhir")
    assert PatientAccess.objects.get().user.username == "his"


def test_the_admin_change_page_records_a_read_and_links_to_the_patients_access_history(patient, db):
    boss = make_user("boss", "admin", is_staff=True)
    client = Client()
    client.force_login(boss)
    page = client.get(f"/admin/patients/patient/{patient.pk}/change/")
    assert_one_read(page, patient, boss, "admin")
    history_url = f"/admin/patients/patientaccess/?patient__id__exact={patient.pk}"
    assert history_url.replace("&", "&amp;") in page.content.decode()

    other = register_patient(full_name="Somebody Else")
    client.get(f"/admin/patients/patient/{other.pk}/change/")
    history = client.get(history_url)
    assert history.status_code == 200
    assert list(history.context["cl"].result_list) == list(PatientAccess.objects.filter(patient=patient))
    assert "boss" in history.content.decode()


def test_the_admin_history_pages_of_a_patient_record_reads(patient, db):
    boss = make_user("boss", "admin", is_staff=True)
    client = Client()
    client.force_login(boss)
    assert_one_read(client.get(f"/admin/patients/patient/{patient.pk}/history/"), patient, boss, "admin")
    PatientAccess.objects.all().delete()
    version = patient.history.get()
    page = client.get(f"/admin/patients/patient/{patient.pk}/history/{version.history_id}/")
    assert_one_read(page, patient, boss, "admin")


def test_a_page_search_records_its_kind_and_count_never_its_text(page, patient, reception):
    response = page.get("/patients/?q=Ayesha")
    assert response.status_code == 200
    record = only_record()
    assert (record.user, record.channel, record.patient, record.search_kind, record.result_count) == (
        reception, "page", None, "name", 1)
    PatientAccess.objects.all().delete()
    page.get("/patients/?q=12345-1234567-1")
    assert (only_record().search_kind, only_record().result_count) == ("cnic", 1)
    stored = " ".join(str(value) for value in PatientAccess.objects.values_list().get())
    assert "Ayesha" not in stored and "12345" not in stored


def test_an_api_search_records_the_parameters_given_not_their_values(api, patient, reception):
    assert api.get("/api/v1/patients/?q=0300-1234567&dob=1990-01-01").status_code == 200
    record = only_record()
    assert (record.channel, record.search_kind, record.result_count) == ("api", "dob+q:phone", 0)
    PatientAccess.objects.all().delete()
    api.get("/api/v1/patients/")
    assert (only_record().search_kind, only_record().result_count) == ("all", 1)


def test_a_fhir_search_records_its_parameters(fhir_reader, patient):
    assert fhir_reader.get("/fhir/Patient?name=ayesha&phone=03001234567").status_code == 200
    record = only_record()
    assert (record.channel, record.search_kind, record.result_count) == ("fhir", "name+phone", 1)


def test_a_terminal_reads_through_fhir_only_its_own_patients_and_its_refusals_leave_no_read(db):
    create_seed_terminals()
    keys = {code: terminal_services.issue_terminal_key(terminal=LabTerminal.objects.get(code=code))
            for code in ("LAB1-PC", "LAB2-PC")}
    lab_b_user = LabTerminal.objects.get(code="LAB2-PC").user
    theirs = register_patient(full_name="Of Terminal B", cnic="54321-7654321-1", created_by=lab_b_user)
    lab_a = APIClient()
    lab_a.credentials(HTTP_AUTHORIZATION=f"Token {keys['LAB1-PC']}")
    assert lab_a.get(f"/fhir/Patient/{theirs.pk}").status_code == 404
    bundle = lab_a.get("/fhir/Patient?identifier=54321-7654321-1").json()
    assert bundle["total"] == 0 and "entry" not in bundle
    assert not PatientAccess.objects.filter(patient__isnull=False).exists()
    lab_b = APIClient()
    lab_b.credentials(HTTP_AUTHORIZATION=f"Token {keys['LAB2-PC']}")
    assert lab_b.get("/fhir/Patient?identifier=54321-7654321-1").json()["total"] == 1
    assert lab_b.get(f"/fhir/Patient/{theirs.pk}").status_code == 200


def test_an_export_records_every_row_with_who_exported(patient, reception, tmp_path):
    register_patient(full_name="Second Patient")
    call_command("export_patients", output=str(tmp_path / "out.csv"), by="desk1", stderr=io.StringIO())
    records = PatientAccess.objects.order_by("patient_id")
    assert [(r.channel, r.user) for r in records] == [("export", reception)] * 2
    assert [r.patient_id for r in records] == sorted(Patient.objects.values_list("pk", flat=True))
    assert records.count() == len((tmp_path / "out.csv").read_text().splitlines()) - 1  # one per data row
    with pytest.raises(CommandError):
        call_command("export_patients", output=str(tmp_path / "x.csv"), by="nobody")


def test_registration_and_token_issue_are_not_reads(api, reception):
    registered = api.post("/api/v1/patients/", {"full_name": "New Patient"}, format="json")
    assert registered.status_code == 201
    Queue.objects.create(name="General", code="GEN", default_service_minutes=10)
    issued = api.post("/api/v1/visits/", {"patient": registered.json()["id"], "queue": "GEN"}, format="json")
    assert issued.status_code == 201, issued.content
    assert not PatientAccess.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_detail_read_adds_one_insert(api, production_caches):
    patient = register_patient(full_name="Ayesha Khan")
    api.get(f"/api/v1/patients/{patient.pk}/")  # warm: content types, the token's user
    with CaptureQueriesContext(connection) as captured:
        assert api.get(f"/api/v1/patients/{patient.pk}/").status_code == 200
    writes = [query["sql"] for query in captured.captured_queries if not query["sql"].lstrip().startswith("SELECT")]
    assert len(writes) == 1 and writes[0].startswith('INSERT INTO "patients_patientaccess"'), writes


def test_prune_deletes_records_older_than_the_retention(patient, reception, settings):
    settings.TOKENLINE_ACCESS_LOG_DAYS = 30
    now = timezone.now()
    old, kept = (PatientAccess.objects.create(patient=patient, user=reception, channel="page",
                                              at=now - datetime.timedelta(days=days)) for days in (31, 29))
    out = io.StringIO()
    call_command("prune_access_log", stdout=out)
    assert "Deleted 1 " in out.getvalue()
    assert list(PatientAccess.objects.all()) == [kept]
    assert not PatientAccess.objects.filter(pk=old.pk).exists()
    call_command("prune_access_log", days=1, stdout=io.StringIO())
    assert not PatientAccess.objects.exists()
    with pytest.raises(CommandError):
        call_command("prune_access_log", days=0)


def test_a_record_is_a_read_or_a_search_never_both(patient):
    with pytest.raises(IntegrityError), transaction.atomic():
        PatientAccess.objects.create(patient=patient, channel="page", search_kind="name")
    with pytest.raises(IntegrityError), transaction.atomic():
        PatientAccess.objects.create(channel="page")
