"""Registrations per second and p50/p99 latency of `register_patient` at 1, 4, 16 and 64 clients, next to the same
statements in raw SQL (pgbench) at the same client counts, each row with its ratio to that ceiling of the same run
and its p99 as a multiple of the ceiling's; `idseq.services.allocate()` next to django-sequences'
`get_next_value` (each value in its own transaction, threads with their own connections); and the API's own cost:
`POST /api/v1/patients/` through DRF in process (token auth, permissions, validation, serialisation) next to
`register_patient` alone, one client (target: the API at most 1.5x the service, a ratio of at least 67 %); and
coalesced registrations (TOKENLINE_COALESCE, idseq/coalesce.py) at 16 and 64 clients next to the single-row raw
ceiling of the same run (target at 64: at least 2x the ceiling, p99 no worse than its p99).

    .venv/bin/python bench/allocate.py [--seconds 10] [--clients 1,4,16,64] [--smoke] [--million]

django-sequences is a test dependency (requirements-test.txt); bench/settings.py installs its app.
"""

from common import (  # first: fixes the path
    arguments,
    bench_database,
    check_same_statements,
    checked,
    pgbench,
    print_table,
    RAW_ADVANCE,
    RoundTrips,
    advance_variables,
    run_threads,
    with_variables,
)

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from sequences import get_next_value  # noqa: E402

from idseq.models import Sequence  # noqa: E402
from idseq.services import allocate, create_sequence, next_id  # noqa: E402
from patients.services import register_patient  # noqa: E402

RAW_KEY = "bench-raw"
# The statements register_patient sends (the MRN counter locked and advanced in one statement, ledger row, patient
# row: its history row is written by the insert trigger in both cases), without the ORM. The raw ceiling takes its
# numbers from a sequence of its own, and its MRNs are 'R<n>', so they never meet the service's.
RAW_SQL = f"""\
BEGIN;
{RAW_ADVANCE}
INSERT INTO idseq_issuednumber (sequence_id, scope, value, formatted, issued_at, purpose, void_reason)
  VALUES (:sid, '', :n, 'R' || :n, now(), 'patient registration', '');
INSERT INTO patients_patient (mrn, full_name, father_name, dob, dob_estimated, sex, phone, cnic, email, address,
  is_active, notify_opt_out, notify_language, created_at, created_by_id, origin_terminal_id, is_offline_entry,
  synced_at, registered_at, client_uuid)
  VALUES ('R' || :n, 'Bench Patient', '', NULL, false, '', '', '', '', '', true, false, 'ur', now(), NULL, NULL, false,
  NULL, NULL, NULL) RETURNING id, dob_estimated, full_name_folded, father_name_folded, mrn_value;
COMMIT;
"""


def raw_registration() -> str:
    """RAW_SQL for this database, its sequence and counter made on first use (a plain sequence, prefix RAW)."""
    if not Sequence.objects.filter(key=RAW_KEY).exists():
        create_sequence(key=RAW_KEY, kind="plain", prefix="RAW", padding=18)
        next_id(RAW_KEY)  # its counter
    return with_variables(RAW_SQL, **advance_variables(RAW_KEY))


def register():
    register_patient(full_name="Bench Patient")


def api_client():
    """A DRF client of a reception user with a token: the request path of `POST /api/v1/patients/`, in process."""
    from django.contrib.auth.models import Group, User
    from core.auth import issue_token
    from rest_framework.test import APIClient

    user, _ = User.objects.get_or_create(username="bench-api")
    user.groups.add(Group.objects.get(name="reception"))
    client = APIClient(SERVER_NAME="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user)[1]}")
    return lambda: checked(client.post("/api/v1/patients/", {"full_name": "Bench Patient"}, format="json"))


def coalesced_rows(script: str, client_counts: tuple[int, ...], seconds: int) -> list:
    """register_patient with coalescing on (desks queue, a leader numbers a batch per transaction) next to the raw
    ceiling of one registration per transaction (pgbench, `script`), at each of `client_counts`."""
    from django.conf import settings

    rows = []
    settings.TOKENLINE_COALESCE = True
    try:
        for clients in client_counts:
            rows.append(("coalesced register_patient", clients, run_threads(register, clients, seconds),
                         pgbench(script, clients, seconds)))
    finally:
        settings.TOKENLINE_COALESCE = False
    return rows


def take_allocate():
    with transaction.atomic():
        allocate("bench-allocate")


def take_django_sequences():
    with transaction.atomic():
        get_next_value("bench-sequences")


def flat_cost(seconds: int) -> None:
    """register_patient at one client with an empty table, then again after loading a million patients."""
    from bench.search import load
    from idseq.formats import GROUPED_FIRST
    from idseq.models import Counter
    from patients.models import Patient

    empty = run_threads(register, 1, seconds)
    Patient.objects.all().delete()  # the loaded patients take the MRNs from the first one on
    load(1_000_000)
    Counter.objects.filter(key="mrn").update(last_value=GROUPED_FIRST + 1_000_000)  # new MRNs after the loaded
    full = run_threads(register, 1, seconds)
    print_table(f"register_patient at 1,000,000 patients next to an empty table, {seconds} s per row",
                [("register_patient", 1, full, empty)], versus="empty")


def main() -> None:
    args = arguments(__doc__, smoke="1 s per row, 1 and 4 clients: checks the bench runs", seconds=10,
                     clients=(1, 4, 16, 64), options={"--million": {
                         "action": "store_true",
                         "help": "only: register_patient before and after loading 1,000,000 patients (flat cost)"}})
    seconds, client_counts = args.seconds, args.clients
    with bench_database():
        call_command("migrate", "sequences", verbosity=0)  # django-sequences' table (smoke: the test database)
        register()  # the MRN counter row exists before timing starts
        take_allocate()
        take_django_sequences()
        if args.million:
            return flat_cost(seconds)
        api_post = api_client()
        api_post()  # before anything is timed: a bench whose requests are refused or redirected stops here
        script = raw_registration()
        with RoundTrips() as trips:
            register()
        check_same_statements("register_patient", script, trips.statements)
        rows, versus = [], []
        for clients in client_counts:
            rows.append(("register_patient", clients, run_threads(register, clients, seconds),
                         pgbench(script, clients, seconds)))
        for clients in client_counts:
            versus.append(("allocate()", clients, run_threads(take_allocate, clients, seconds),
                           run_threads(take_django_sequences, clients, seconds)))
        overhead = [("POST /api/v1/patients/", 1, run_threads(api_post, 1, seconds), run_threads(register, 1, seconds))]
        coalesced = coalesced_rows(script, (4, 16) if args.smoke else (16, 64), seconds)
        print_table(f"MRN allocation + patient insert, {seconds} s per row", rows)
        print_table(f"Coalesced registrations next to the single-row raw ceiling, {seconds} s per row", coalesced)
        print_table(f"The API's own overhead: the request in process next to register_patient, {seconds} s", overhead,
                    versus="service")
        print_table(f"allocate() next to django-sequences' get_next_value(), {seconds} s per row", versus,
                    versus="dj-seq")


if __name__ == "__main__":
    main()
