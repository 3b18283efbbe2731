"""Coalesced registration (TOKENLINE_COALESCE, idseq/coalesce.py): desks registering at once are numbered in batches,
one counter statement and one commit per batch, in threads and in separate processes; the MRNs stay unique and
gapless, each desk gets its own patient's number only once it is committed, a leader that dies numbers nothing, a
desk that times out is either withdrawn (503, nothing taken) or answered with its committed number, a bad row fails
alone, and idempotency keys replay as on the ordinary path."""

import multiprocessing
import os
import signal
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction

from idseq import coalesce
from idseq.exceptions import IdempotencyConflict, NumberingBusy
from idseq.formats import format_grouped, parse_grouped
from idseq.models import Counter, IssuedNumber, PendingIssue
from patients import services
from patients.exceptions import DuplicatePatient
from patients.models import Patient
from tests.conftest import raw_connection, run_in_threads

FORK = multiprocessing.get_context("fork")


@pytest.fixture
def coalescing(settings, transactional_db):
    """Coalescing on, and the MRN counter made by a first registration; yields the value of that first MRN."""
    settings.TOKENLINE_COALESCE = True
    yield parse_grouped(services.register_patient(full_name="Warm Up").mrn)


def assert_numbered_in_order(first: int, registered: list[Patient]) -> None:
    """The registrations got MRNs first+1..first+n, each its own patient's (the row with its name), and the counter,
    the ledger and the patients agree, with nothing left in the queue."""
    rows = dict(Patient.objects.values_list("mrn", "full_name"))
    assert sorted(parse_grouped(p.mrn) for p in registered) == list(range(first + 1, first + 1 + len(registered)))
    assert all(rows[p.mrn] == p.full_name for p in registered)
    last = Counter.objects.get(key="mrn").last_value
    assert last == first + len(registered)
    ledger = list(IssuedNumber.objects.filter(sequence__key="mrn").order_by("value").values_list("formatted", flat=True))
    assert ledger == sorted(rows) == [format_grouped(v) for v in range(parse_grouped(ledger[0]), last + 1)]
    assert not PendingIssue.objects.exists()
    call_command("idseq_check", verbosity=0)


def batches() -> int:
    """How many transactions numbered the MRNs (a leader's batch shares one issue time)."""
    return IssuedNumber.objects.filter(sequence__key="mrn").values("issued_at").distinct().count()


@pytest.mark.django_db(transaction=True)
def test_32_threads_registering_at_once_get_distinct_consecutive_mrns_in_fewer_transactions(coalescing):
    def register_five(i):
        return [services.register_patient(full_name=f"Desk {i} patient {n}") for n in range(5)]

    results, errors = run_in_threads(register_five, 32)
    assert not errors, errors[:3]
    assert_numbered_in_order(coalescing, [patient for batch in results for patient in batch])
    assert batches() < 1 + 160  # coalesced: some transactions numbered several desks' patients


@pytest.mark.django_db(transaction=True)
def test_desks_coalescing_and_desks_on_the_ordinary_path_at_once_share_one_gapless_counter(coalescing):
    def register(i):
        if i % 2:  # inside a caller's transaction: the ordinary path, the number taken under the counter lock
            with transaction.atomic():
                return [services.register_patient(full_name=f"Ordinary {i} patient {n}") for n in range(5)]
        return [services.register_patient(full_name=f"Coalesced {i} patient {n}") for n in range(5)]

    results, errors = run_in_threads(register, 32)
    assert not errors, errors[:3]
    assert_numbered_in_order(coalescing, [patient for batch in results for patient in batch])


def register_in_process(process: int, results) -> None:
    """8 desks (threads) of one worker process register 5 patients each; the MRNs and names go back to the test."""
    connections.close_all()  # the parent's connection stays the parent's
    registered, errors = run_in_threads(
        lambda i: [services.register_patient(full_name=f"Worker {process} desk {i} patient {n}") for n in range(5)], 8
    )
    results.put(([(p.mrn, p.full_name) for batch in registered for p in batch], [repr(e) for e in errors]))


@pytest.mark.django_db(transaction=True)
def test_4_worker_processes_of_8_desks_each_get_distinct_consecutive_mrns(coalescing):
    connections.close_all()
    results = FORK.Queue()
    workers = [FORK.Process(target=register_in_process, args=(n, results)) for n in range(4)]
    for worker in workers:
        worker.start()
    answers = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(10)
    assert [error for _, errors in answers for error in errors] == []
    registered = [Patient(mrn=mrn, full_name=name) for mrns, _ in answers for mrn, name in mrns]
    assert len(registered) == 160
    assert_numbered_in_order(coalescing, registered)


def lead_and_die_before_commit(leading, full_name: str) -> None:
    """A worker process that leads a batch, writes its rows and then hangs before its commit (to be killed)."""
    connections.close_all()
    write = coalesce._writers[services.REGISTRATION]

    def write_then_hang(payloads, mrns):
        ids = write(payloads, mrns)
        leading.set()
        time.sleep(60)
        return ids

    coalesce._writers[services.REGISTRATION] = write_then_hang
    services.register_patient(full_name=full_name)


def queued() -> int:
    return PendingIssue.objects.filter(state=PendingIssue.States.QUEUED).count()


def hold_leader_lock():
    """A session of its own (as a leader stuck in its transaction) holding the MRN sequence's leader lock."""
    holder = raw_connection()
    holder.execute("SELECT pg_advisory_xact_lock(%s, %s)", [coalesce.LOCK_SPACE, coalesce._lock_key("mrn")])
    return holder


def in_one_batch(register, count: int) -> tuple[list, list]:
    """`register(i)` in `count` threads (run_in_threads' results and errors), all queued before anyone may lead, so
    that one leader takes them in one batch."""
    holder = hold_leader_lock()
    results = []
    desks = threading.Thread(target=lambda: results.extend(run_in_threads(register, count)))
    desks.start()
    while queued() < count:
        time.sleep(0.005)
    holder.rollback()
    holder.close()
    desks.join(30)
    return results


@pytest.mark.django_db(transaction=True)
def test_a_leader_killed_before_its_commit_numbers_nothing_and_the_waiting_desks_complete(coalescing, settings):
    settings.TOKENLINE_LOCK_TIMEOUT = 5
    connections.close_all()
    leading = FORK.Event()
    leader = FORK.Process(target=lead_and_die_before_commit, args=(leading, "Dead Leader"))
    leader.start()
    assert leading.wait(20)  # its patient, ledger row and counter move are written, not committed
    desks = threading.Thread(target=lambda: results.extend(run_in_threads(
        lambda i: services.register_patient(full_name=f"Desk {i}"), 8)))
    results = []
    desks.start()
    deadline = time.monotonic() + 10
    while queued() < 9 and time.monotonic() < deadline:  # the 8 desks wait behind the leader
        time.sleep(0.01)
    connection.close()
    os.kill(leader.pid, signal.SIGKILL)
    leader.join(10)
    desks.join(30)
    registered, errors = results
    assert not errors, errors[:3]
    # The dead leader's MRN (the warm-up's next) went back to the counter and the desks got it: nothing was numbered
    # in its transaction. Its own request, queued by a process that died, may be numbered by the next leader as
    # any queued request (a lost answer, as when a connection drops after a commit), never twice.
    dead = list(Patient.objects.filter(full_name="Dead Leader"))
    assert len(dead) <= 1
    # Its queue row is left behind (never answered); a leader sweeps such rows once they are a minute old.
    (left,) = PendingIssue.objects.all()
    assert left.payload["full_name"] == "Dead Leader"
    assert coalesce.sweep("mrn", older_than=60) == 0 and coalesce.sweep("mrn", older_than=0) == 1
    assert_numbered_in_order(coalescing, registered + dead)
    assert parse_grouped(min(p.mrn for p in registered + dead)) == coalescing + 1


@pytest.mark.django_db(transaction=True)
def test_a_desk_no_leader_answers_in_time_is_withdrawn_busy_with_nothing_taken(coalescing, settings):
    settings.TOKENLINE_LOCK_TIMEOUT = 0.3
    holder = hold_leader_lock()
    try:
        started = time.monotonic()
        with pytest.raises(NumberingBusy):
            services.register_patient(full_name="Too Late")
        assert time.monotonic() - started < 1.5
    finally:
        holder.rollback()
        holder.close()
    assert not PendingIssue.objects.exists()  # withdrawn: no later leader can number it
    assert_numbered_in_order(coalescing, [services.register_patient(full_name="Next")])


@pytest.mark.django_db(transaction=True)
def test_a_desk_whose_wait_ends_while_the_leader_commits_its_number_gets_that_number_not_busy(
    coalescing, settings, monkeypatch
):
    settings.TOKENLINE_LOCK_TIMEOUT = 1
    write = coalesce._writers[services.REGISTRATION]

    def slow_write(payloads, mrns):  # the leader is still numbering when the desks' waits end
        time.sleep(2.5)
        return write(payloads, mrns)

    monkeypatch.setitem(coalesce._writers, services.REGISTRATION, slow_write)
    registered, errors = in_one_batch(lambda i: services.register_patient(full_name=f"Desk {i}"), 2)
    assert not errors, errors  # neither was told "busy" for a number that was committed
    assert batches() == 2  # the warm-up, then one batch of both
    assert_numbered_in_order(coalescing, registered)


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_cnic_in_a_batch_fails_alone_and_takes_no_number(coalescing):
    services.register_patient(full_name="Holder", cnic="35202-1234567-1")
    first = coalescing + 1
    cnics = ["35202-1234567-1", "35202-7654321-2", "35202-7654321-2"] + [f"35202-111111{i}-3" for i in range(5)]
    registered, errors = in_one_batch(lambda i: services.register_patient(full_name=f"Desk {i}", cnic=cnics[i]), 8)
    # The holder's CNIC again, and the second of two desks sending one new CNIC: 409 each; the 6 others registered.
    assert len(errors) == 2 and all(isinstance(e, DuplicatePatient) for e in errors), errors
    assert sorted(p.cnic for p in registered) == sorted(cnics[1:2] + cnics[3:])
    assert_numbered_in_order(first, registered)


@pytest.mark.django_db(transaction=True)
def test_16_copies_of_one_keyed_registration_at_once_register_one_patient_and_a_changed_body_is_refused(coalescing):
    def send(i):
        return services.register_patient(full_name="Retried", idempotency_key="desk-1-0001", fingerprint="body")

    copies, errors = run_in_threads(send, 16)
    assert not errors, errors[:3]
    assert {(p.pk, p.mrn) for p in copies} == {(copies[0].pk, format_grouped(coalescing + 1))}
    assert send(0).pk == copies[0].pk  # a later retry too
    with pytest.raises(IdempotencyConflict):
        services.register_patient(full_name="Other", idempotency_key="desk-1-0001", fingerprint="other body")
    assert_numbered_in_order(coalescing, copies[:1])
    assert IssuedNumber.objects.get(formatted=copies[0].mrn).idempotency_key.key == "desk-1-0001"


@pytest.mark.django_db(transaction=True)
def test_keyed_copies_of_the_very_first_registration_go_the_ordinary_way_and_register_one_patient(settings):
    settings.TOKENLINE_COALESCE = True  # no counter yet: the leader's one statement does not apply

    def send(i):
        return services.register_patient(full_name="First", idempotency_key="first", fingerprint="body")

    copies, errors = run_in_threads(send, 8)
    assert not errors, errors[:3]
    assert {p.pk for p in copies} == {copies[0].pk} and copies[0].mrn == format_grouped(100_001)
    assert_numbered_in_order(100_000, copies[:1])
