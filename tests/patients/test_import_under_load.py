"""A 100,000-row import runs while 8 desks register; no desk waits more than the lock timeout."""

import multiprocessing
import time

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from idseq.formats import format_grouped, parse_grouped
from idseq.models import Counter, Reservation, UnrecordedRange
from patients.models import Patient
from patients.services import import_patients, register_patient
from tests.conftest import run_in_threads

IMPORTED = range(50_000_001, 50_100_001)  # an earlier system's numbers, far above anything the desks reach
DESKS = 8


def run_import(results) -> None:
    """The import, in a process of its own (as `manage.py import_patients` runs), through the real service."""
    connections.close_all()  # the parent's connections stay the parent's
    now = timezone.now()
    rows = [Patient(mrn=format_grouped(value), full_name=f"Imported {value}", created_at=now) for value in IMPORTED]
    started = time.monotonic()
    results.put((len(import_patients(patients=rows)), time.monotonic() - started))
    connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_a_100k_import_runs_while_8_desks_register_and_no_desk_waits_more_than_2_s(capsys):
    first = parse_grouped(register_patient(full_name="Before the import").mrn)  # the counter exists, as any day
    connections.close_all()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    importer = context.Process(target=run_import, args=(results,))
    importer.start()
    waits, mrns = [], []

    def desk(i):
        # Each desk registers 4 patients a second (32/s in all, many times a real OPD's rate) until the import is
        # done. Flat out, 8 threads queue on the counter behind each other's commits whether an import runs or not.
        while importer.is_alive() or not waits:
            started = time.monotonic()
            mrns.append(register_patient(full_name=f"Desk {i}").mrn)
            waits.append(time.monotonic() - started)
            time.sleep(0.25)

    _, errors = run_in_threads(desk, DESKS)
    importer.join(120)
    assert importer.exitcode == 0 and not errors, errors[:3]
    imported, import_seconds = results.get(timeout=5)
    counter = Counter.objects.get(key="mrn")
    (block,) = Reservation.objects.filter(sequence__key="mrn", owner="import")  # the import's numbers
    desk_values = sorted(parse_grouped(mrn) for mrn in mrns)
    with capsys.disabled():
        print(f"\nimport of {imported:,} rows: {import_seconds:.1f} s; {len(waits)} desk registrations meanwhile, "
              f"longest {max(waits) * 1000:.0f} ms, p50 {sorted(waits)[len(waits) // 2] * 1000:.0f} ms")
    assert imported == len(IMPORTED) == Patient.objects.filter(full_name__startswith="Imported").count()
    assert len(waits) >= DESKS and max(waits) < 2.0
    assert (block.first_value, block.last_value, block.issued) == (IMPORTED[0], IMPORTED[-1], len(IMPORTED))
    # unique and gapless, nothing skipped: the import never moved the counter, nothing is unrecorded
    assert desk_values == list(range(first + 1, counter.last_value + 1))
    assert not UnrecordedRange.objects.filter(sequence__key="mrn").exists()
    call_command("idseq_check", verbosity=0)
