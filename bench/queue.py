"""Walk-in queues: issue and call-next latency through the API at 1, 4 and 16 clients, next to the same
statements in raw SQL (pgbench) at the same client counts, then call-next with a board notifier that sleeps 2 s,
to show that notifications never hold up a desk.

    .venv/bin/python bench/queue.py [--seconds 2] [--clients 1,4,16] [--smoke]

Requests go through Django's test client in-process (URL routing, auth, DRF, services, on_commit), so the figures
are the server's own time without a network or a WSGI server. Runs in a throw-away database (bench/common.py).
"""

from common import (  # first: fixes the path
    RAW_ADVANCE,
    Result,
    RoundTrips,
    advance_variables,
    arguments,
    bench_database,
    check_same_statements,
    checked,
    pgbench,
    print_table,
    run_threads,
    with_variables,
)

import itertools  # noqa: E402
import logging  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from idseq.models import Counter, Sequence  # noqa: E402
from patients.models import Patient  # noqa: E402
from queues import claim  # noqa: E402
from queues.models import Desk, Queue, Visit  # noqa: E402
from queues.services import TOKEN_SEQUENCE, token_scope  # noqa: E402

CLIENTS = (1, 4, 16)
ROWS = 12_000  # patients, and waiting visits and desks per call-next run: more than any run gets through
SMOKE_ROWS = 600
NOTIFIER_SLEEP = 2.0  # seconds
# Each API call-next uses a fresh desk, so no desk has to be freed between calls (desks never wait on each other).
# The statements of the API calls (bench/common.py checks them against one captured call): issue reads the patient
# and the queue, takes the token (the counter locked and advanced in one statement) and its ledger row, inserts the
# visit, then reads position and estimate in one query; call-next locks the desk with its queue ids, takes the first
# waiting visit (SKIP LOCKED), calls it. The API's user throttle counts in the worker's memory (core/throttling.py)
# and sends nothing.
RAW_ISSUE = """\
SELECT :p0 + nextval('bench_seq') AS pid \\gset
SELECT id, mrn, full_name, father_name, dob, dob_estimated, sex, phone, cnic, email, address, is_active,
  notify_opt_out, notify_language, created_at, created_by_id, origin_terminal_id, is_offline_entry, synced_at,
  registered_at, client_uuid, full_name_folded, father_name_folded FROM patients_patient WHERE id = :pid LIMIT 21;
SELECT id, name, code, is_active, default_service_minutes FROM queues_queue WHERE id = :q LIMIT 21;
BEGIN;
""" + RAW_ADVANCE + """
INSERT INTO idseq_issuednumber (sequence_id, scope, value, formatted, issued_at, issued_by_id, purpose,
  idempotency_key_id, voided_at, void_reason)
  VALUES (:sid, :'scope', :n, 'VT-' || :'scope' || '-' || lpad(:n::text, 4, '0'), now(), :uid, 'visit token', NULL,
  NULL, '');
INSERT INTO queues_visit (patient_id, queue_id, visit_date, token_number, priority, status, queued_at, desk_id,
  transferred_from_id, issued_at, called_at, announced_at, started_at, completed_at, no_show_at, recalled_at,
  cancelled_at, transferred_at, updated_at, idempotency_key, request_hash, issued_by_id, called_by_id, started_by_id,
  completed_by_id, no_show_by_id, recalled_by_id, cancelled_by_id, transferred_by_id)
  VALUES (:pid, :q, :'day', :n, 'medium', 'waiting', now(), NULL, NULL, now(), NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, now(), '', '800c91e34adca5356f35e81b0bbb555aa08b5a93e8c4cc9942c22bc7fdf1dc5d', :uid, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL) RETURNING id AS vid, priority_rank \\gset
COMMIT;
SELECT (SELECT count(U0.id) FROM queues_desk U0 INNER JOIN queues_desk_queues U1 ON (U0.id = U1.desk_id)
    WHERE U1.queue_id = :q AND U0.is_active LIMIT 1),
  (SELECT count(U0.id) FROM queues_visit U0 WHERE U0.queue_id = :q AND U0.visit_date = :'day'
    AND U0.status = 'completed' LIMIT 1),
  (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM (U0.completed_at - U0.started_at)))
    FROM queues_visit U0 WHERE U0.queue_id = :q AND U0.visit_date = :'day' AND U0.status = 'completed' LIMIT 1),
  (SELECT count(U0.id) FROM queues_visit U0 WHERE U0.queue_id = :q AND U0.visit_date = :'day'
    AND U0.status = 'waiting' AND (priority_rank, queued_at, token_number) < (SELECT priority_rank, queued_at,
    token_number FROM queues_visit WHERE id = :vid) LIMIT 1)
  FROM queues_queue WHERE id = :q LIMIT 21;
"""
# The call-next statements (queues/claim.py) as pgbench sends them, for a desk of one queue: its parameters as
# pgbench variables (`:d0`, `:q`, `:uid`) and the same text otherwise.
_CALL_NEXT_VARIABLES = {"desk": ":desk", "now": "now()", "called": "'called'", "waiting": "'waiting'",
                        "called_by": ":uid", "day": ":'day'", "q0": ":q"}
RAW_CALL_NEXT = (
    "SELECT :d0 + nextval('bench_seq') AS desk \\gset\nBEGIN;\n"
    f"{claim.lock_desk_statement()[0] % _CALL_NEXT_VARIABLES};\n"
    f"{claim.claim_statement(1)[0] % _CALL_NEXT_VARIABLES};\n"
    "COMMIT;\n"
)


def make_line(queue: Queue, patient_ids: list[int], day) -> list[int]:
    """Each patient waiting in `queue` on `day` (tokens 1..n), and as many desks serving it; returns the desk ids."""
    now = timezone.now()
    Visit.objects.bulk_create(
        Visit(patient_id=pid, queue=queue, visit_date=day, token_number=i + 1, queued_at=now)
        for i, pid in enumerate(patient_ids)
    )
    desks = Desk.objects.bulk_create(Desk(name=f"{queue.code}-{i}") for i in range(len(patient_ids)))
    Desk.queues.through.objects.bulk_create(Desk.queues.through(desk=d, queue=queue) for d in desks)
    return [d.pk for d in desks]


def make_token_counter(queue: Queue, day) -> dict:
    """`queue`'s token counter of `day`, as the code path's first token of the day makes it (linked to the
    `visit-token` sequence), and the variables RAW_ISSUE needs for it: its scope and RAW_ADVANCE's."""
    sequence = Sequence.objects.get(key=TOKEN_SEQUENCE)
    scope = token_scope(queue, day)
    Counter.objects.create(key=sequence.counter_key(scope), sequence=sequence, scope=scope)
    return {"scope": scope, **advance_variables(sequence.counter_key(scope))}


def sleepy_notifier(queue_ids):
    """A board notifier as slow as seed 003's blocking WebSocket broadcast."""
    time.sleep(NOTIFIER_SLEEP)


class Bench:
    """Fixtures: a reception user, ROWS patients, and per run a fresh queue (tokens from 1) with its desks."""

    def __init__(self, seconds: float, rows: int = ROWS):
        self.seconds = seconds
        self.today = timezone.localdate()
        self.user = User.objects.create_user("bench")
        self.user.groups.add(Group.objects.get(name="reception"))
        Patient.objects.bulk_create(Patient(mrn=f"B{i:07d}", full_name=f"Bench {i}") for i in range(rows))
        self.patient_ids = list(Patient.objects.filter(mrn__startswith="B").order_by("pk").values_list("pk", flat=True))
        self.serial = itertools.count(1)

    def queue(self, *, line: bool) -> tuple[Queue, list[int]]:
        """A new queue; with `line`, ROWS waiting visits and ROWS desks serving it (their ids, in order)."""
        n = next(self.serial)
        queue = Queue.objects.create(name=f"Bench {n}", code=f"B{n}")
        if not line:
            return queue, []
        return queue, make_line(queue, self.patient_ids, self.today)

    def api_run(self, clients: int, request) -> Result:
        """Time `request(api_client)` in a loop from `clients` threads, each with its own logged-in client."""
        local = threading.local()

        def work():
            if not hasattr(local, "api"):
                local.api = APIClient(SERVER_NAME=settings.ALLOWED_HOSTS[0])
                local.api.force_authenticate(self.user)
            checked(request(local.api))

        return run_threads(work, clients, self.seconds)

    def issue(self, clients: int) -> tuple[Result, Result]:
        queue, _ = self.queue(line=False)
        patients = iter(self.patient_ids)
        ours = self.api_run(clients, lambda api: api.post(
            "/api/v1/visits/", {"patient": next(patients), "queue": queue.pk}, format="json"))
        raw_queue, _ = self.queue(line=False)
        counter = make_token_counter(raw_queue, self.today)
        raw = self.raw(RAW_ISSUE, clients, p0=self.patient_ids[0] - 1, q=raw_queue.pk, uid=self.user.pk, **counter)
        return ours, raw

    def check_statements(self) -> None:
        """Each raw script sends the statements of one API call (bench/common.py)."""
        queue, desks = self.queue(line=True)
        api = APIClient(SERVER_NAME=settings.ALLOWED_HOSTS[0])
        api.force_authenticate(self.user)
        checked(api.post(f"/api/v1/desks/{desks[0]}/call-next/"))  # the user's permissions are cached from here on
        with RoundTrips() as trips:
            checked(api.post(f"/api/v1/desks/{desks[1]}/call-next/"))
        check_same_statements("call-next", RAW_CALL_NEXT, trips.statements)
        spare = Queue.objects.create(name="Bench spare", code="BSPARE")
        checked(api.post("/api/v1/visits/", {"patient": self.patient_ids[0], "queue": spare.pk}, format="json"))
        with RoundTrips() as trips:
            checked(api.post("/api/v1/visits/", {"patient": self.patient_ids[1], "queue": spare.pk}, format="json"))
        check_same_statements("issue", RAW_ISSUE, trips.statements)

    def call_next(self, clients: int) -> Result:
        _, desks = self.queue(line=True)
        free_desks = iter(desks)
        return self.api_run(clients, lambda api: api.post(f"/api/v1/desks/{next(free_desks)}/call-next/"))

    def call_next_raw(self, clients: int) -> Result:
        queue, desks = self.queue(line=True)
        return self.raw(RAW_CALL_NEXT, clients, d0=desks[0] - 1, q=queue.pk, uid=self.user.pk)

    def raw(self, script: str, clients: int, **variables) -> Result:
        """pgbench `script` with `variables` (numbers as pgbench variables, strings written into :'name'), after
        restarting the sequence that hands out the rows to use."""
        with connection.cursor() as cursor:
            cursor.execute("CREATE SEQUENCE IF NOT EXISTS bench_seq")
            cursor.execute("ALTER SEQUENCE bench_seq RESTART")
        script = with_variables(script, **variables, day=self.today.isoformat())
        return pgbench(script, clients, max(1, round(self.seconds)))


def main() -> None:
    args = arguments(__doc__, smoke="1 s per row, 1 and 4 clients: checks the bench runs", seconds=2.0,
                     clients=CLIENTS)
    seconds, client_counts = args.seconds, args.clients
    # One "Visit created" line per token would time the console, not the queue.
    logging.getLogger("tokenline.queues").setLevel(logging.WARNING)
    with bench_database():
        bench = Bench(seconds, SMOKE_ROWS if args.smoke else ROWS)
        bench.check_statements()
        issue_rows, call_rows, notifier_rows = [], [], []
        for clients in client_counts:
            issue_rows.append(("issue (POST visits/)", clients, *bench.issue(clients)))
        for clients in client_counts:
            raw = bench.call_next_raw(clients)
            call_rows.append(("call-next", clients, bench.call_next(clients), raw))
            with override_settings(QUEUE_BOARD_NOTIFIERS=[f"{__name__}.sleepy_notifier"]):
                notifier_rows.append((f"call-next, {NOTIFIER_SLEEP:.0f} s notifier", clients,
                                      bench.call_next(clients), raw))
        print_table(f"Issue a token, {seconds:g} s per row", issue_rows)
        print_table(f"Call next (each call on a free desk), {seconds:g} s per row", call_rows + notifier_rows)
        for (_, clients, plain, _), (_, _, slow, _) in zip(call_rows, notifier_rows):
            print(f"call-next p99 at {clients:>2} clients: {plain.p99:6.1f} ms without a notifier,"
                  f" {slow.p99:6.1f} ms with one sleeping {NOTIFIER_SLEEP:.0f} s"
                  f" ({'within' if slow.p99 <= 100 else 'ABOVE'} 100 ms)")


if __name__ == "__main__":
    main()
