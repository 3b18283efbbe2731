"""A backup restored after a crash never reissues a number printed after it was taken: `idseq_after_restore` moves
every counter (MRNs, visit tokens, slot tokens, prefix ids, terminal leases) past the lost ones and accounts for what
it skipped, so `idseq_check` stays clean."""

import contextlib
import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from idseq import services as idseq
from idseq.models import IssuedNumber, Reservation
from idseq.restore import RESTORE_OWNER
from patients.services import register_patient
from queues.models import Queue
from queues.services import issue_visit
from terminals.models import LabTerminal, TerminalLease
from terminals.services import issue_terminal_key, lease_block
from tests.conftest import raw_connection
from tests.terminals.conftest import create_seed_terminals
from tests.tokens.conftest import at
from tokens import services as tokens
from tokens.models import Category, Slot

pytestmark = pytest.mark.django_db(transaction=True)


def printed() -> set[str]:
    """Every id the ledger holds, and every MRN leased to a terminal (it may be on a slip already)."""
    ids = set(IssuedNumber.objects.values_list("formatted", flat=True))
    mrn = idseq._sequence("mrn").id_format
    for start, end in TerminalLease.objects.values_list("start", "end"):
        ids.update(mrn.render(value) for value in range(start, end + 1))
    return ids


def a_morning(label: str, count: int) -> None:
    """`count` numbers of every kind and more: registrations (MRNs), visit tokens in GEN and in ENT, OPD tokens in
    two slots, INV prefix ids and a lease of LAB1-PC's range."""
    gen, ent = Queue.objects.get(code="GEN"), Queue.objects.get(code="ENT")
    first, second = Slot.objects.order_by("start_time")
    patients = [register_patient(full_name=f"{label} {i}") for i in range(count)]
    for i, patient in enumerate(patients):
        issue_visit(patient=patient, queue=gen if i % 2 else ent)
        tokens.book_token(slot_id=(first if i % 2 else second).pk, patient=patient, category=Category.WALKIN)
    idseq.next_ids("INV", count)
    lease_block(terminal_code="LAB1-PC", user=LabTerminal.objects.get(code="LAB1-PC").user, count=count)


@contextlib.contextmanager
def restored(copy: str):
    """Django pointed at the database `copy` (the restored backup) for the block, then back at the test database."""
    name = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = copy
    idseq._sequences.clear()  # this process's cache of Sequence rows belongs to the other database
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = name
        idseq._sequences.clear()


@pytest.fixture
def backup():
    """A function that copies the test database into a new one (CREATE DATABASE ... TEMPLATE: a backup as of
    now) and returns its name; the copy is dropped after the test."""
    copies = []

    def take() -> str:
        name = f"{connection.settings_dict['NAME']}_backup"
        connection.close()  # TEMPLATE needs the source database free of sessions
        with raw_connection(dbname="postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{connection.settings_dict["NAME"]}"')
        copies.append(name)
        return name

    yield take
    connection.close()
    with raw_connection(dbname="postgres", autocommit=True) as admin:
        for name in copies:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_restored_backup_never_reissues_the_numbers_printed_after_it(backup):
    create_seed_terminals()
    issue_terminal_key(terminal=LabTerminal.objects.get(code="LAB1-PC"))  # its API identity, which leases
    Queue.objects.create(name="General", code="GEN")
    Queue.objects.create(name="ENT", code="ENT")  # its first token of the day comes after the backup
    doctor = tokens.create_doctor(name="Dr. Sana Mirza")
    tokens.create_slot(doctor=doctor, start_time=at(9), end_time=at(10), max_capacity=100)
    tokens.create_slot(doctor=doctor, start_time=at(10), end_time=at(11), max_capacity=100)
    for i in range(5):
        patient = register_patient(full_name=f"Early {i}")
        issue_visit(patient=patient, queue=Queue.objects.get(code="GEN"))
        tokens.book_token(slot_id=Slot.objects.order_by("start_time").first().pk, patient=patient,
                          category=Category.WALKIN)
    idseq.next_ids("INV", 5)
    lease_block(terminal_code="LAB1-PC", user=LabTerminal.objects.get(code="LAB1-PC").user, count=5)
    before = printed()

    copy = backup()  # mid-day: the backup the hospital will restore
    a_morning("Lost", 50)
    lost = printed() - before
    kinds = {key: sum(1 for formatted in lost if re.match(pattern, formatted))
             for key, pattern in [("mrn", r"\d{3}-\d{2}-\d{3}$"), ("visit-token", "VT-"), ("slot-token", "SLOT-"),
                                  ("INV", "INV-")]}
    assert kinds == {"mrn": 100, "visit-token": 50, "slot-token": 50, "INV": 50}  # 50 MRNs registered, 50 leased

    with restored(copy):
        # Without the command the restored database would hand the lost numbers out again: the control.
        assert f"{idseq.peek('mrn')}" in lost
        assert idseq.peek("INV") in lost
        out = io.StringIO()
        call_command("idseq_after_restore", "--margin", "200", stdout=out)
        assert "skipped after restore" not in out.getvalue()  # the lines name the counters and ids
        assert "mrn: skipped 001-00-006..001-00-205 (200 values)" in out.getvalue()
        assert "visit-token@ENT-" in out.getvalue()  # a scope with no counter in the backup is covered too
        call_command("idseq_check", stdout=io.StringIO())  # the skipped values are accounted for, not missing
        skips = Reservation.objects.filter(owner=RESTORE_OWNER)
        assert skips and {skip.reason for skip in skips} == {f"skipped after restore on {at(0, days=0):%Y-%m-%d}"}
        a_morning("After", 50)
        call_command("idseq_check", stdout=io.StringIO())
        after = printed() - before
    assert len(after) == 250  # 50 of each kind, as before the restore
    assert after & lost == set()


def test_a_known_printed_id_moves_its_counter_past_it(backup):
    for _ in range(3):
        idseq.next_id("mrn")
    out = io.StringIO()
    call_command("idseq_after_restore", "--above", "mrn=001-00-042", stdout=out)
    assert "mrn: skipped 001-00-004..001-00-042 (39 values)" in out.getvalue()
    assert idseq.next_id("mrn") == "001-00-043"
    call_command("idseq_check", stdout=io.StringIO())


def test_it_refuses_a_call_that_asks_for_nothing_or_a_bad_id():
    with pytest.raises(CommandError, match="Give a margin"):
        call_command("idseq_after_restore")
    with pytest.raises(CommandError, match="SEQUENCE=ID"):
        call_command("idseq_after_restore", "--above", "001-00-042")
    with pytest.raises(CommandError, match="xxx-xx-xxx"):
        call_command("idseq_after_restore", "--above", "mrn=42")
    with pytest.raises(CommandError, match="at least 0"):
        call_command("idseq_after_restore", "--margin", "-5")
