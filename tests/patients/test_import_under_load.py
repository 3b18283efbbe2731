"""An import runs while 8 desks register; no desk waits more than the lock timeout.

The import takes its numbers as one reservation in a short transaction and inserts afterwards, so the desks never wait
on it whatever its size: the suite imports 10,000 rows (a few seconds of overlap with the desks), the long suite
(`-m long`, which .ci/run runs too) a real migration's 100,000.
"""

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

FIRST_IMPORTED = 50_000_001  # an earlier system's numbers, far above anything the desks reach
DESKS = 8


def run_import(imported: range, results) -> None:
    """The import, in a process of its own (as `manage.py import_patients` runs), through the real service."""
    connections.close_all()  # the parent's connections stay the parent's
    now = timezone.now()
    rows = [Patient(mrn=format_grouped(value), full_name=f"Imported {value}", created_at=now) for value in imported]
    started = time.monotonic()
    results.put((len(import_patients(patients=rows)), time.monotonic() - started))
    connections.close_all()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rows", [10_000, pytest.param(100_000, marks=pytest.mark.long)])
def test_an_import_runs_while_8_desks_register_and_no_desk_waits_more_than_2_s(rows, capsys):
    imported = range(FIRST_IMPORTED, FIRST_IMPORTED + rows)
    first = parse_grouped(register_patient(full_name="Before the import").mrn)  # the counter exists, as any day
    connections.close_all()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    importer = context.Process(target=run_import, args=(imported, results))
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
    count, import_seconds = results.get(timeout=5)
    counter = Counter.objects.get(key="mrn")
    (block,) = Reservation.objects.filter(sequence__key="mrn", owner="import")  # the import's numbers
    desk_values = sorted(parse_grouped(mrn) for mrn in mrns)
    with capsys.disabled():
        print(f"\nimport of {count:,} rows: {import_seconds:.1f} s; {len(waits)} desk registrations meanwhile, "
              f"longest {max(waits) * 1000:.0f} ms, p50 {sorted(waits)[len(waits) // 2] * 1000:.0f} ms")
    assert count == len(imported) == Patient.objects.filter(full_name__startswith="Imported").count()
    assert len(waits) >= DESKS and max(waits) < 2.0
    assert (block.first_value, block.last_value, block.issued) == (imported[0], imported[-1], len(imported))
    # unique and gapless, nothing skipped: the import never moved the counter, nothing is unrecorded
    assert desk_values == list(range(first + 1, counter.last_value + 1))
    assert not UnrecordedRange.objects.filter(sequence__key="mrn").exists()
    call_command("idseq_check", verbosity=0)
