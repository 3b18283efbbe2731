"""Terminals under load: one terminal's numbers stay distinct and consecutive; replays never duplicate."""

import io
import uuid

import pytest
from django.core.management import call_command

from idseq.formats import format_grouped
from patients.models import Patient
from patients.services import register_patient
from terminals import services
from terminals.models import LabTerminal, TerminalLease, TerminalRange
from tests.conftest import run_in_threads
from tests.terminals.conftest import PATIENT, create_seed_terminals, hand_out_up_to


def lab1():
    create_seed_terminals()
    terminal = LabTerminal.objects.get(code="LAB1-PC")
    services.issue_terminal_key(terminal=terminal)
    terminal.refresh_from_db()
    return terminal


@pytest.mark.django_db(transaction=True)
def test_8_threads_registering_offline_on_one_terminal_get_distinct_consecutive_numbers_in_its_range():
    terminal = lab1()

    def register(i):
        return [services.register_offline(terminal_code="LAB1-PC", user=terminal.user, **PATIENT).patient.mrn
                for _ in range(5)]

    batches, errors = run_in_threads(register, 8)
    assert not errors
    assert sorted(mrn for batch in batches for mrn in batch) == [format_grouped(n) for n in range(710000, 710040)]
    assert TerminalRange.objects.get(terminal=terminal).current == 710039


@pytest.mark.django_db(transaction=True)
def test_8_threads_leasing_at_once_get_disjoint_consecutive_blocks():
    terminal = lab1()
    leases, errors = run_in_threads(
        lambda i: services.lease_block(terminal_code="LAB1-PC", user=terminal.user, count=25), 8
    )
    assert not errors
    assert sorted((lease.start, lease.end) for lease in leases) == [(710000 + 25 * i, 710024 + 25 * i)
                                                                    for i in range(8)]


@pytest.mark.django_db(transaction=True)
def test_8_leases_racing_for_a_ranges_last_10_numbers_get_2_blocks_and_6_exhausted():
    """The terminal's row lock makes choosing a range with room and taking from it one step: without it, takers
    that all saw room would find the reservation used up (the reservation's own lock keeps numbers distinct)."""
    terminal = lab1()
    hand_out_up_to(719989, terminal=terminal)
    leases, errors = run_in_threads(
        lambda i: services.lease_block(terminal_code="LAB1-PC", user=terminal.user, count=5), 8
    )
    assert sorted((lease.start, lease.end) for lease in leases) == [(719990, 719994), (719995, 719999)]
    assert [type(error) for error in errors] == [services.RangeExhausted] * 6


@pytest.mark.django_db(transaction=True)
def test_8_parallel_copies_of_one_sync_create_one_record_and_all_get_it():
    terminal = lab1()
    services.lease_block(terminal_code="LAB1-PC", user=terminal.user, count=10)
    key = uuid.uuid4()

    def sync(i):
        return services.register_offline(
            terminal_code="LAB1-PC", user=terminal.user, mrn="710003", client_uuid=key, **PATIENT
        )

    registrations, errors = run_in_threads(sync, 8)
    assert not errors
    assert sorted(r.created for r in registrations) == [False] * 7 + [True]
    assert {r.patient.pk for r in registrations} == {Patient.objects.get(client_uuid=key).pk}
    assert Patient.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_terminals_extending_from_the_pool_at_once_get_distinct_blocks_while_desks_register(settings):
    """Pool blocks are carved from the pool's reservation under the MRN counter's lock, so two
    terminals never get one block and online registrations racing them never take a pool value."""
    settings.TOKENLINE_OFFLINE_POOL = "100012-299999"
    lab1()
    for code, current in (("LAB1-PC", 718998), ("LAB2-PC", 728998)):  # 89.99 % used
        hand_out_up_to(current, terminal__code=code)
    services.issue_terminal_key(terminal=LabTerminal.objects.get(code="LAB2-PC"))
    users = {code: LabTerminal.objects.get(code=code).user for code in ("LAB1-PC", "LAB2-PC")}
    register_patient(full_name="First")  # 001-00-001
    services.pool_reservations()  # what every migrate does

    def work(i):
        if i < 2:
            code = ("LAB1-PC", "LAB2-PC")[i]
            return services.lease_block(terminal_code=code, user=users[code], count=2)
        return register_patient(full_name=f"Desk {i}").mrn

    results, errors = run_in_threads(work, 14)
    assert not errors
    blocks = sorted(TerminalRange.objects.filter(from_pool=True).values_list("start", "end"))
    assert blocks == [(100012, 110011), (110012, 120011)]
    online = sorted(mrn for mrn in results if isinstance(mrn, str))
    assert online == [format_grouped(v) for v in (*range(100_002, 100_012), 300_000, 300_001)]
    call_command("idseq_check", stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_8_copies_of_one_lease_request_at_once_get_one_block():
    terminal = lab1()
    request_id = uuid.uuid4()

    def lease(i):
        block = services.lease_block(terminal_code="LAB1-PC", user=terminal.user, count=10, request_id=request_id)
        return block.pk, block.start, block.end

    blocks, errors = run_in_threads(lease, 8)
    assert not errors
    assert set(blocks) == {(TerminalLease.objects.get().pk, 710000, 710009)}
    assert TerminalRange.objects.get(terminal=terminal).current == 710009


@pytest.mark.django_db(transaction=True)
def test_8_registrations_claiming_one_number_at_once_keep_one_and_open_7_incidents():
    from terminals.incidents import Collision
    from terminals.models import OfflineIncident

    terminal = lab1()
    services.lease_block(terminal_code="LAB1-PC", user=terminal.user, count=10)

    def register(i):
        return services.register_offline(terminal_code="LAB1-PC", user=terminal.user, mrn="710000",
                                         client_uuid=uuid.uuid4(), **{**PATIENT, "full_name": f"Claimant {i}"})

    stored, errors = run_in_threads(register, 8)
    assert len(stored) == 1 and len(errors) == 7 and all(isinstance(e, Collision) for e in errors)
    assert Patient.objects.get().full_name == stored[0].patient.full_name
    assert OfflineIncident.objects.filter(mrn="710000", kept=stored[0].patient).count() == 7
