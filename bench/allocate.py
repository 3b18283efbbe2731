"""Registrations per second and p50/p99 latency of `register_patient` at 1, 4 and 16 clients, next to the same work
in raw SQL (pgbench: `UPDATE counter ... RETURNING` and the same inserts per transaction) at the same client counts.

    .venv/bin/python bench/allocate.py [--seconds 10]
"""

import argparse

from common import bench_database, pgbench, print_table, run_threads

from patients.services import register_patient

# The same statements register_patient sends (sequence lookup, counter under its lock, ledger row, patient row,
# history row), without the ORM. Raw numbers are written 'R<n>' so they never meet the service's MRNs.
RAW_SQL = """\
BEGIN;
SELECT id AS seq FROM idseq_sequence WHERE key = 'mrn' \\gset
UPDATE idseq_counter SET last_value = last_value + 1, updated_at = now() WHERE key = 'bench-raw' RETURNING last_value AS n \\gset
INSERT INTO idseq_issuednumber (sequence_id, scope, value, formatted, issued_at, purpose, void_reason)
  VALUES (:seq, '', :n, 'R' || :n, now(), 'patient registration', '');
INSERT INTO patients_patient (mrn, full_name, father_name, sex, phone, cnic, email, address, is_active, created_at,
  is_offline_entry) VALUES ('R' || :n, 'Bench Patient', '', '', '', '', '', '', true, now(), false) RETURNING id AS pid \\gset
INSERT INTO patients_historicalpatient (id, mrn, full_name, father_name, sex, phone, cnic, email, address, is_active,
  created_at, is_offline_entry, history_date, history_type)
  VALUES (:pid, 'R' || :n, 'Bench Patient', '', '', '', '', '', '', true, now(), false, now(), '+');
COMMIT;
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="seconds per configuration (default 10)")
    seconds = parser.parse_args().seconds
    with bench_database():
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO idseq_counter (key, last_value, updated_at) VALUES ('bench-raw', 0, now())")
        rows = []
        for clients in (1, 4, 16):
            ours = run_threads(lambda: register_patient(full_name="Bench Patient"), clients, seconds)
            raw = pgbench(RAW_SQL, clients, seconds)
            rows.append(("register_patient", clients, ours, raw))
        print_table(f"MRN allocation + patient insert, {seconds} s per row", rows)


if __name__ == "__main__":
    main()
