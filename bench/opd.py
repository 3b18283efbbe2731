"""Benchmark OPD token booking: requests per second and p99 latency at 1/4/16 clients, all on one slot and spread
over 20 slots, each printed next to a raw-SQL ceiling (psycopg doing the same statements by hand) in the same run.

    .venv/bin/python bench/opd.py [--seconds 2]

Runs against the DATABASE_URL database; creates its own doctors, slots and patients (MRNs `BENCH-...`) and removes
them, with their tokens and counters, at the end. Each client is a thread with its own connection.
"""

import argparse
import datetime
import itertools
import os
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from idseq.models import Counter  # noqa: E402
from patients.models import Patient  # noqa: E402
from tokens import services  # noqa: E402
from tokens.models import BASE_PRIORITY, Category, Doctor, Slot, Token, WaitingListEntry  # noqa: E402

CLIENTS = (1, 4, 16)
SLOT_COUNTS = (1, 20)
PATIENTS = 30_000  # enough distinct patients for one configuration (each books once per doctor per day)
CAPACITY = 1_000_000  # every request gets a token: we time the booking path, not the waiting list

# The statements of services.book_token on the token path, in the same order, one round trip each.
RAW_BOOKING = [
    "SELECT id, doctor_id, start_time, end_time, max_capacity, current_capacity, emergency_overflow, status,"
    " delay_minutes FROM tokens_slot WHERE id = %(slot)s FOR UPDATE",
    "SELECT id FROM tokens_token WHERE patient_id = %(patient)s AND doctor_id = %(doctor)s AND day = %(day)s"
    " AND status = 'CONFIRMED' LIMIT 1",
    "SELECT 1 FROM tokens_waitinglistentry WHERE slot_id = %(slot)s AND patient_id = %(patient)s LIMIT 1",
    "SELECT id, last_value FROM idseq_counter WHERE key = %(key)s FOR UPDATE",
    "UPDATE idseq_counter SET last_value = last_value + 1, updated_at = now() WHERE key = %(key)s"
    " RETURNING last_value",
    "INSERT INTO tokens_token (id, slot_id, patient_id, doctor_id, day, token_number, category, priority, status,"
    " created_at, updated_at) VALUES (%(id)s, %(slot)s, %(patient)s, %(doctor)s, %(day)s, %(number)s, 'ONLINE',"
    " %(priority)s, 'CONFIRMED', now(), now())",
    "UPDATE tokens_slot SET current_capacity = current_capacity + 1 WHERE id = %(slot)s",
]


def make_day(label: str, slot_count: int) -> list[Slot]:
    """A fresh doctor with `slot_count` back-to-back 10-minute slots tomorrow, their counters created."""
    doctor = services.create_doctor(name=f"Bench {label} {uuid.uuid4().hex[:6]}")
    start = timezone.make_aware(datetime.datetime.combine(timezone.localdate() + datetime.timedelta(days=1),
                                                          datetime.time(8)))
    slots = [
        services.create_slot(doctor=doctor, start_time=start + i * datetime.timedelta(minutes=10),
                             end_time=start + (i + 1) * datetime.timedelta(minutes=10), max_capacity=CAPACITY)
        for i in range(slot_count)
    ]
    Counter.objects.bulk_create([Counter(key=services.token_counter_key(s)) for s in slots])
    return slots


def book_orm(slot: Slot, patient_id: int) -> None:
    services.book_token(slot_id=slot.pk, patient=Patient(pk=patient_id, mrn="", is_active=True),
                        category=Category.ONLINE)


def book_raw(cursor, slot: Slot, patient_id: int) -> None:
    params = {"slot": slot.pk, "patient": patient_id, "doctor": slot.doctor_id, "day": slot.day,
              "key": services.token_counter_key(slot), "id": uuid.uuid4(), "priority": BASE_PRIORITY["ONLINE"]}
    with cursor.connection.transaction():
        for statement in RAW_BOOKING:
            cursor.execute(statement, params)
            if statement.startswith("UPDATE idseq_counter"):
                params["number"] = cursor.fetchone()[0]


def run(clients: int, slots: list[Slot], seconds: float, raw: bool) -> tuple[float, float]:
    """Book for `seconds` with `clients` threads, each on slot i % len(slots). Returns (requests/s, p99 ms)."""
    patients = iter(PATIENT_IDS)
    take = threading.Lock()
    latencies: list[float] = []
    barrier = threading.Barrier(clients + 1)

    def client(i: int):
        slot = slots[i % len(slots)]
        mine = []
        conn = psycopg.connect(CONNINFO, autocommit=True) if raw else None
        cursor = conn.cursor() if raw else None
        barrier.wait()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            with take:
                patient_id = next(patients)
            began = time.perf_counter()
            book_raw(cursor, slot, patient_id) if raw else book_orm(slot, patient_id)
            mine.append(time.perf_counter() - began)
        conn.close() if raw else connection.close()
        latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    for thread in threads:
        thread.join()
    latencies.sort()
    return len(latencies) / seconds, latencies[int(len(latencies) * 0.99) - 1] * 1000


def conninfo() -> str:
    db = connections["default"].settings_dict
    parts = {"dbname": db["NAME"], "user": db["USER"], "password": db["PASSWORD"], "host": db["HOST"],
             "port": db["PORT"]}
    return " ".join(f"{k}='{v}'" for k, v in parts.items() if v)


def main() -> None:
    global CONNINFO, PATIENT_IDS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each measurement (default 2)")
    seconds = parser.parse_args().seconds
    CONNINFO = conninfo()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO patients_patient (mrn, full_name, father_name, sex, phone, cnic, email, address, is_active,"
            " created_at) SELECT 'BENCH-' || n, 'Bench patient ' || n, '', '', '', '', '', '', true, now()"
            " FROM generate_series(1, %s) n RETURNING id",
            [PATIENTS],
        )
        PATIENT_IDS = [row[0] for row in cursor.fetchall()]
    doctors = []
    try:
        print(f"OPD token booking, {seconds:g} s per figure, tokens via tokens.services.book_token vs raw SQL")
        print(f"{'slots':>5} {'clients':>7} {'req/s':>8} {'p99 ms':>7} {'SQL req/s':>10} {'SQL p99':>8} {'ratio':>6}")
        for slot_count, clients in itertools.product(SLOT_COUNTS, CLIENTS):
            orm_slots, raw_slots = make_day("orm", slot_count), make_day("raw", slot_count)
            doctors += [orm_slots[0].doctor_id, raw_slots[0].doctor_id]
            orm_rate, orm_p99 = run(clients, orm_slots, seconds, raw=False)
            raw_rate, raw_p99 = run(clients, raw_slots, seconds, raw=True)
            print(f"{slot_count:>5} {clients:>7} {orm_rate:>8.0f} {orm_p99:>7.1f} {raw_rate:>10.0f} {raw_p99:>8.1f}"
                  f" {orm_rate / raw_rate:>6.2f}", flush=True)
    finally:
        slots = Slot.objects.filter(doctor_id__in=doctors)
        Counter.objects.filter(key__in=[services.token_counter_key(s) for s in slots]).delete()
        Token.objects.filter(slot__in=slots).delete()
        WaitingListEntry.objects.filter(slot__in=slots).delete()
        slots.delete()
        Doctor.objects.filter(pk__in=doctors).delete()
        Patient.objects.filter(mrn__startswith="BENCH-").delete()


if __name__ == "__main__":
    main()
