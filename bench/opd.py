"""OPD token bookings per second and p50/p99 latency of `tokens.services.book_token` at 1, 4 and 16 clients, all on
one slot and spread over 20 slots, next to the same statements in raw SQL (pgbench) at the same client counts.

    .venv/bin/python bench/opd.py [--seconds 3] [--clients 1,4,16] [--smoke]

Every booking gets a token (capacity is far above the load), so this times the token path: lock the slot, check
double booking and the waiting list, take the slot's next number from idseq, insert the token, count the place.
"""

import datetime
import itertools
import random

from common import (
    RAW_ADVANCE,
    RoundTrips,
    advance_variables,
    arguments,
    bench_database,
    check_same_statements,
    expect,
    pgbench,
    print_table,
    run_threads,
    with_variables,
)

from django.db import connection
from django.utils import timezone

from idseq.models import Counter, Sequence
from patients.models import Patient
from tokens import services
from tokens.models import Category, Slot

PATIENTS = 40_000  # each booking needs a patient without a token with that doctor that day
CAPACITY = 1_000_000

# One transaction of pgbench: the statements book_token runs on the token path, in its order.
RAW_SQL = """\
\\set s random(1, {slots})
SELECT nextval('bench_patient') AS p \\gset
BEGIN;
SELECT id, current_capacity, emergency_overflow FROM tokens_slot WHERE id = ('{prefix}' || lpad(:s::text, 12, '0'))::uuid FOR UPDATE;
SELECT id FROM tokens_token WHERE patient_id = :p AND doctor_id = '{doctor}' AND day = '{day}' AND status = 'CONFIRMED' LIMIT 1;
SELECT w.id FROM tokens_waitinglistentry w INNER JOIN tokens_slot s ON (w.slot_id = s.id)
  WHERE w.slot_id = ('{prefix}' || lpad(:s::text, 12, '0'))::uuid AND w.patient_id = :p
  ORDER BY s.start_time, w.created_at LIMIT 1;
""" + RAW_ADVANCE.replace(":'key'", "('slot-token@{prefix}' || lpad(:s::text, 12, '0'))") + """
INSERT INTO idseq_issuednumber (sequence_id, scope, value, formatted, issued_at, issued_by_id, purpose,
  idempotency_key_id, voided_at, void_reason)
  VALUES (:sid, '{prefix}' || lpad(:s::text, 12, '0'), :n,
  'SLOT-{prefix}' || lpad(:s::text, 12, '0') || '-' || lpad(:n::text, 4, '0'), now(), NULL, 'OPD token', NULL, NULL,
  '');
INSERT INTO tokens_token (id, slot_id, patient_id, doctor_id, day, token_number, category, priority, status, created_at, updated_at)
  VALUES (gen_random_uuid(), ('{prefix}' || lpad(:s::text, 12, '0'))::uuid, :p, '{doctor}', '{day}', :n, 'ONLINE', 4, 'CONFIRMED', now(), now());
UPDATE tokens_slot SET current_capacity = current_capacity + 1 WHERE id = ('{prefix}' || lpad(:s::text, 12, '0'))::uuid;
COMMIT;
"""

_prefixes = itertools.count()


def make_slots(count: int) -> list[Slot]:
    """`count` back-to-back 10-minute slots of a new doctor, with ids `<prefix><n:012d>` (n = 1..count) that the
    pgbench script can build, and their token counters created."""
    doctor = services.create_doctor(name="Bench doctor")
    prefix = f"00000000-0000-4000-{8000 + next(_prefixes):04d}-"
    start = timezone.make_aware(datetime.datetime.combine(timezone.localdate() + datetime.timedelta(days=1),
                                                          datetime.time(8)))
    step = datetime.timedelta(minutes=10)
    slots = Slot.objects.bulk_create(
        Slot(id=f"{prefix}{n:012d}", doctor=doctor, start_time=start + (n - 1) * step, end_time=start + n * step,
             max_capacity=CAPACITY)
        for n in range(1, count + 1)
    )
    sequence = Sequence.objects.get(key=services.TOKEN_SEQUENCE)
    scopes = [services.token_scope(slot) for slot in slots]
    Counter.objects.bulk_create(
        Counter(key=sequence.counter_key(scope), sequence=sequence, scope=scope) for scope in scopes
    )
    return slots


def ours(slots: list[Slot], first_patient: int):
    """A booking by the service: a random slot of `slots`, the next unused patient."""
    patients = itertools.count(first_patient)

    def book():
        slot = random.choice(slots)
        booked = services.book_token(slot_id=slot.pk, patient=Patient(pk=next(patients), is_active=True),
                                     category=Category.ONLINE)
        expect("book_token", type(booked).__name__, ("Token",))  # a place on the waiting list is another path

    return book


def raw(slots: list[Slot], first_patient: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER SEQUENCE bench_patient RESTART WITH {first_patient}")
    slot = slots[0]
    script = RAW_SQL.format(slots=len(slots), prefix=str(slot.pk)[:24], doctor=slot.doctor_id, day=slot.day)
    variables = advance_variables(Sequence.objects.get(key=services.TOKEN_SEQUENCE).counter_key(services.token_scope(slot)))
    del variables["key"]  # the script builds each slot's counter key itself
    return with_variables(script, **variables)


def check_statements(slots: list[Slot], patient_id: int) -> None:
    """The raw script sends what one booking sends (bench/common.py): the second booking of patients `patient_id`
    and `patient_id + 1`, as every timed booking is (the first reads the slot-token sequence into idseq's cache)."""
    book = ours(slots, patient_id)
    book()
    with RoundTrips() as trips:
        book()
    check_same_statements("book_token", raw(slots, patient_id), trips.statements)


def main() -> None:
    args = arguments(__doc__, smoke="1 s per row, 1 and 4 clients: checks the bench runs", seconds=3,
                     clients=(1, 4, 16))
    seconds, client_counts = args.seconds, args.clients
    patients = 2_000 if args.smoke else PATIENTS
    with bench_database():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO patients_patient (mrn, full_name, father_name, dob_estimated, sex, phone, cnic, email,"
                " address, is_active, notify_opt_out, notify_language, created_at, is_offline_entry)"
                " SELECT 'B' || n, 'Bench Patient', '', false, '', '', '', '', '', true, false, 'ur', now(), false"
                " FROM generate_series(1, %s) n RETURNING id",
                [patients],
            )
            first_patient = min(row[0] for row in cursor.fetchall())
            cursor.execute("CREATE SEQUENCE IF NOT EXISTS bench_patient")
        check_statements(make_slots(1), first_patient + patients - 2)
        rows = []
        for slot_count in (1, 20):
            for clients in client_counts:
                # A new doctor for each run, so the same patients may book again.
                ours_rate = run_threads(ours(make_slots(slot_count), first_patient), clients, seconds)
                raw_rate = pgbench(raw(make_slots(slot_count), first_patient), clients, seconds)
                rows.append((f"book_token, {slot_count} slot{'s' if slot_count > 1 else ''}", clients, ours_rate,
                             raw_rate))
        print_table(f"OPD token booking (slot lock + idseq number + token insert), {seconds} s per row", rows)


if __name__ == "__main__":
    main()
