"""Patient search at a million patients, and the desk's duplicate hint: p95 of each search kind through the API,
next to raw SQL.

    .venv/bin/python bench/search.py [--patients 1000000] [--samples 100] [--smoke]

Creates its own database (bench.common.bench_database: migrated like production, so the indexes are the
migrations'), loads the patients with COPY, then for each kind of search runs `--samples` different queries:
  api   GET /api/v1/patients/?... in process (Django + DRF + the SQL: count and first page of 50)
  raw   the same SQL statements the API ran, sent with psycopg directly: the ceiling the ORM cannot beat
and prints p50/p95 of each and the ratio api/raw. The database is dropped at the end.
Loading drops the model's search indexes first and builds them again after COPY (same definitions, from
Patient._meta.indexes), and writes the names' words (patients/name_words.py) after it too: building once is much
faster than maintaining them row by row.
"""

import datetime
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import arguments, bench_database, checked  # noqa: E402  (sets Django up)
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from faker.providers.person.en_PK import Provider as Names  # noqa: E402

from idseq.formats import GROUPED_FIRST, format_grouped  # noqa: E402
from patients import name_words  # noqa: E402
from patients.models import NameWord, Patient  # noqa: E402

ACCENTED = ["Zoë", "José", "Hélène", "Amélie", "Renée", "Noémie", "Chloé", "Inés"]
COLUMNS = ["mrn", "full_name", "father_name", "dob", "dob_estimated", "sex", "phone", "cnic", "email", "address",
           "is_active", "notify_opt_out", "notify_language", "created_at", "is_offline_entry"]
YEARS_OF_REGISTRATIONS = 5
# patients/history_trigger.py and patients/name_words.py
TRIGGERS_OFF_DURING_COPY = ("patients_patient_history_insert", "patients_patient_name_words_insert")


def main():
    args = arguments(__doc__, smoke="2,000 patients, 3 queries per kind: checks it runs", options={
        "--patients": {"type": int, "default": 1_000_000},
        "--samples": {"type": int, "default": 100, "help": "different queries per kind (default 100)"}})
    with bench_database():
        rows = load(2_000 if args.smoke else args.patients)
        run_searches(rows, 3 if args.smoke else args.samples)


def generate(count: int, rng: random.Random):
    """Yield `count` patient rows (COLUMNS order): registered over YEARS_OF_REGISTRATIONS, oldest first."""
    first_names, last_names = Names.first_names, Names.last_names
    start = timezone.now() - datetime.timedelta(days=365 * YEARS_OF_REGISTRATIONS)
    step = datetime.timedelta(days=365 * YEARS_OF_REGISTRATIONS) / count
    for i in range(count):
        first = rng.choice(ACCENTED) if rng.random() < 0.01 else rng.choice(first_names)
        mobile = f"3{rng.randint(0, 4)}{rng.randint(0, 9)}{rng.randint(0, 9_999_999):07d}"
        phone = f"+92 {mobile[:3]} {mobile[3:]}" if rng.random() < 0.3 else f"0{mobile[:3]}-{mobile[3:]}"
        cnic = f"{(i * 7919 + 3_520_212_345_671) % 10**13:013d}" if rng.random() < 0.7 else ""
        yield (
            format_grouped(GROUPED_FIRST + i),
            f"{first} {rng.choice(last_names)}",
            f"{rng.choice(first_names)} {rng.choice(last_names)}",
            datetime.date(1935, 1, 1) + datetime.timedelta(days=rng.randint(0, 32_000)),
            False,
            rng.choice("MF"),
            phone,
            f"{cnic[:5]}-{cnic[5:12]}-{cnic[12]}" if cnic else "",
            "",
            f"House {rng.randint(1, 400)}, Lahore",
            rng.random() > 0.05,
            False,
            "ur",
            start + step * i,
            False,
        )


def load(count: int) -> list[tuple]:
    """COPY `count` patients in (search indexes dropped meanwhile); returns a sample of the rows for queries."""
    rng = random.Random(2026)
    # Small loads (smoke runs, on the test suite's database) keep the indexes: nothing to restore if they fail.
    indexes = Patient._meta.indexes if count >= 100_000 else []
    with connection.schema_editor() as editor:
        for index in indexes:
            editor.remove_index(Patient, index)
    started = time.perf_counter()
    sample = []
    table = Patient._meta.db_table
    with connection.cursor() as cursor:
        # Search reads no history: the insert trigger's million history rows would only slow the load. The names'
        # words are written after the COPY, all at once (REBUILD_SQL), faster than the trigger's row by row.
        for trigger in TRIGGERS_OFF_DURING_COPY:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        try:
            with cursor.cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for i, row in enumerate(generate(count, rng)):
                    copy.write_row(row)
                    if i % max(1, min(997, count // 200)) == 0:
                        sample.append(row)
        finally:
            for trigger in TRIGGERS_OFF_DURING_COPY:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
    loaded = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        cursor.execute(name_words.REBUILD_SQL)
    with connection.schema_editor() as editor:
        for index in indexes:
            editor.add_index(Patient, index)
    with connection.cursor() as cursor:
        # What autovacuum does soon after a load: statistics, and the visibility map index-only scans rely on.
        for model in (Patient, NameWord):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    print(f"{count:,} patients: COPY {loaded - started:.1f} s, name words and indexes "
          f"{time.perf_counter() - loaded:.1f} s")
    return sample


def search_kinds(rows: list[tuple], rng: random.Random) -> dict:
    """Search kind -> function returning the query parameters of one search, drawn from the loaded rows."""
    pick = lambda: rng.choice(rows)  # noqa: E731
    mrn, name, father, dob, phone, cnic, is_active, created_at = (
        COLUMNS.index(column) for column in
        ("mrn", "full_name", "father_name", "dob", "phone", "cnic", "is_active", "created_at"))
    active = [row for row in rows if row[is_active]]

    def digits(text):
        return "".join(ch for ch in text if ch.isdigit())

    return {
        "MRN exact": lambda: {"q": pick()[mrn]},
        "MRN without dashes": lambda: {"q": digits(pick()[mrn])},
        "MRN old format": lambda: {"q": pick()[mrn][1:]},
        "MRN prefix (5 digits)": lambda: {"q": pick()[mrn][:7]},
        "name, full": lambda: {"q": pick()[name].lower()},
        "name, first + start of last": lambda: {"q": (lambda n: n[: n.index(" ") + 3])(pick()[name])},
        "name, last name alone": lambda: {"name": pick()[name].split()[-1]},
        "name, accents ignored": lambda: {"q": rng.choice(["zoe", "jose", "helene", "amelie", "renee"])},
        "father's name": lambda: {"father_name": pick()[father]},
        "phone, other formatting": lambda: {"phone": "0" + digits(pick()[phone])[-10:]},
        "phone, last 7 digits": lambda: {"q": digits(pick()[phone])[-7:]},
        "CNIC without dashes": lambda: {"q": digits(rng.choice([r for r in rows if r[cnic]])[cnic])},
        "date of birth": lambda: {"dob": pick()[dob].isoformat()},
        "registered in a week": lambda: (lambda d: {"registered_from": d.isoformat(),
                                                    "registered_to": (d + datetime.timedelta(days=6)).isoformat()})(
            timezone.localdate(pick()[created_at])),
        "inactive": lambda: {"is_active": "false",
                             "registered_to": timezone.localdate(pick()[created_at]).isoformat()},
        "name + active": lambda: {"name": rng.choice(active)[name], "is_active": "true"},
    }


LIKELY = "/api/v1/patients/likely-duplicates/"  # the desk's duplicate hint (patients/duplicates.py)


def duplicate_kinds(rows: list[tuple], rng: random.Random) -> dict:
    """Kind -> function returning the query of one desk hint: a loaded patient typed again, the name as another desk
    writes it (Muhammad as Mohd, a dropped vowel), with the date of birth, or the phone."""
    from tests.patients.pakistani_names import _respell  # the labelled set's own respelling

    pick = lambda: rng.choice(rows)  # noqa: E731
    name, father, dob, phone = (COLUMNS.index(column) for column in ("full_name", "father_name", "dob", "phone"))
    return {
        "hint: name, father, birth date": lambda: (lambda r: {
            "full_name": _respell(r[name], rng), "father_name": r[father], "dob": r[dob].isoformat()})(pick()),
        "hint: name and phone": lambda: (lambda r: {"full_name": _respell(r[name], rng), "phone": r[phone]})(pick()),
    }


def run_searches(rows: list[tuple], samples: int) -> None:
    rng = random.Random(7)
    user = User.objects.create_superuser("bench", password="bench")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    raw = connection.cursor().cursor.connection  # psycopg's own connection: no Django in the way
    print(f"\n{'search kind':32} {'api p50':>8} {'api p95':>8} {'raw p50':>8} {'raw p95':>8} {'ratio':>6}  (ms)")
    kinds = [("/api/v1/patients/", kind, make) for kind, make in search_kinds(rows, rng).items()]
    kinds += [(LIKELY, kind, make) for kind, make in duplicate_kinds(rows, rng).items()]
    for path, kind, make in kinds:
        api_times, raw_times = [], []
        for _ in range(samples):
            params = make()
            with CaptureQueriesContext(connection) as captured:  # learn the SQL (also warms the cache)
                checked(client.get(path, params), (200,))
            statements = [q["sql"] for q in captured.captured_queries if "patients_patient" in q["sql"]]
            started = time.perf_counter()
            checked(client.get(path, params), (200,))
            api_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            with raw.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)  # no parameters: psycopg sends the text as it is, `%` included
                    cursor.fetchall()
            raw_times.append(time.perf_counter() - started)
        api_p50, api_p95, raw_p50, raw_p95 = (ms(p(times)) for times in (api_times, raw_times) for p in (p50, p95))
        print(f"{kind:32} {api_p50:8.1f} {api_p95:8.1f} {raw_p50:8.1f} {raw_p95:8.1f} {api_p95 / raw_p95:6.1f}")


def p50(values):
    return statistics.median(values)


def p95(values):
    return statistics.quantiles(values, n=20)[-1]


def ms(seconds):
    return seconds * 1000


if __name__ == "__main__":
    main()
