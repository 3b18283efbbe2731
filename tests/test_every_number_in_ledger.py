"""Visit tokens, OPD slot tokens and offline MRNs are all in the idseq ledger, so `idseq_check`
notices one of them going missing, whatever app issued it; and it checks thousands of scopes in a fixed number of
queries."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from idseq import services as idseq
from idseq.models import IssuedNumber
from idseq.selectors import ledger_problems
from patients.services import register_patient
from queues.models import Queue
from queues.services import issue_visit
from tests.terminals.conftest import PATIENT, terminal_client
from tests.tokens.conftest import at
from tokens import services as tokens
from tokens.models import Category

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(seed_terminals) -> dict:
    """Three visit tokens, two slot tokens and one offline MRN (registered through LAB1-PC's range), by sequence:
    their ledger ids in issue order (and "day": the visits' day, `20261202`). The ledger checks clean."""
    offline = terminal_client("LAB1-PC").post(
        "/api/v1/patients/", {**PATIENT, "offline": True, "origin_terminal_code": "LAB1-PC"}, format="json"
    )
    assert offline.status_code == 201, offline.content
    general = Queue.objects.create(name="General", code="GEN")
    patients = [register_patient(full_name=f"Patient {i}") for i in range(3)]
    visits = [issue_visit(patient=patient, queue=general) for patient in patients]
    slot = tokens.create_slot(doctor=tokens.create_doctor(name="Dr. Sana Mirza"), start_time=at(9), end_time=at(10),
                              max_capacity=5)
    for patient in patients[:2]:
        tokens.book_token(slot_id=slot.pk, patient=patient, category=Category.WALKIN)
    call_command("idseq_check", stdout=io.StringIO())
    day = f"{visits[0].visit_date:%Y%m%d}"
    assert [visit.token for visit in visits] == ["GEN-001", "GEN-002", "GEN-003"]  # printed as before
    return {
        "visit-token": [f"VT-GEN-{day}-000{n}" for n in (1, 2, 3)],
        "slot-token": [f"SLOT-{slot.pk}-000{n}" for n in (1, 2)],
        "mrn": [offline.json()["mrn"]],
        "day": day,
    }


def check_fails() -> str:
    with pytest.raises(CommandError) as error:
        call_command("idseq_check", stdout=io.StringIO())
    return str(error.value)


def delete(formatted: str) -> None:
    assert IssuedNumber.objects.filter(formatted=formatted).delete()[0] == 1


def test_every_number_has_its_ledger_row(issued):
    for key in ("visit-token", "slot-token", "mrn"):
        recorded = IssuedNumber.objects.filter(sequence__key=key).values_list("formatted", flat=True)
        assert set(issued[key]) <= set(recorded)


def test_deleting_a_visit_tokens_ledger_row_fails_the_check_naming_it(issued):
    delete(issued["visit-token"][1])
    assert f"visit-token (GEN-{issued['day']}): the ledger is missing {issued['visit-token'][1]} (1 value)" \
        in check_fails()


def test_deleting_a_slot_tokens_ledger_row_fails_the_check_naming_it(issued):
    delete(issued["slot-token"][-1])
    assert f"the ledger is missing {issued['slot-token'][-1]} (1 value)" in check_fails()


def test_deleting_an_offline_mrns_ledger_row_fails_the_check_naming_its_terminal(issued):
    delete(issued["mrn"][0])
    assert "reserved for LAB1-PC, but the ledger holds 0 of them" in check_fails()


def test_the_check_reads_hundreds_of_scopes_with_as_many_queries_as_one():
    def checked() -> tuple[list[str], int]:
        with CaptureQueriesContext(connection) as captured:
            problems = ledger_problems(limit=1000)
        return problems, len(captured.captured_queries)

    idseq.issue("slot-token", 2, scope="slot-0")
    delete("SLOT-slot-0-0001")
    problems, one = checked()
    assert problems == ["slot-token (slot-0): the ledger is missing SLOT-slot-0-0001 (1 value)."]
    for n in range(1, 300):
        idseq.issue("slot-token", 2, scope=f"slot-{n}")
    IssuedNumber.objects.filter(sequence__key="slot-token", value=1).delete()
    problems, many = checked()
    assert "slot-token (slot-299): the ledger is missing SLOT-slot-299-0001 (1 value)." in problems
    assert len(problems) == 300
    assert many == one
