"""A day offline: terminals lease, go offline, each registers patients locally through
`terminals/client.py`, then all sync at once over HTTP, then replay their whole outbox twice. One terminal's outbox
is also copied to a second machine (another device identity), which tries to number from it.

Checks 0 renumbered (every printed MRN equals the stored one), 0 duplicates, 0 lost, the copied outbox refused
before printing (1 incident caught, none reaching the server), and the utilisation %; prints
the sync and replay times next to a raw-SQL ceiling (psycopg, the same threads and passes: per batch of 50, the
client's, the look-up of its client_uuids (a replay stops there); then per registration, in its own transaction, the
code path's statements: the lease check, the number recorded in idseq's ledger under its reservation's lock,
and the patient insert).

    .venv/bin/python bench/offline_day.py [--terminals 4] [--patients 300] [--replays 2] [--smoke]

`offline_day()` is also run, smaller, by tests/terminals/test_offline_day.py against the test server.
"""

import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import arguments, bench_database, expect  # noqa: E402  (sets up Django)


from patients.models import Patient  # noqa: E402
from terminals import queries, services  # noqa: E402
from terminals.client import TerminalClient, WrongMachine  # noqa: E402
from terminals.models import LabTerminal, OfflineIncident, TerminalRange  # noqa: E402

RANGE_SIZE = 10_000


@dataclass
class DayResult:
    """What `offline_day` measured (seconds) and found (counts, utilisation % per terminal code)."""

    patients: int = 0
    renumbered: int = 0
    duplicates: int = 0
    lost: int = 0
    refused: int = 0
    caught_before_printing: int = 0  # numbering refused on the machine holding a copied outbox
    incidents: int = 0  # offline incidents opened at the server (a number printed twice)
    slowest_request: float = 0.0  # seconds of the slowest sync request of any terminal (client timeout 30 s)
    sync_seconds: float = 0.0
    replay_seconds: list[float] = field(default_factory=list)
    utilisation: dict[str, float] = field(default_factory=dict)
    expected_percent: float = 0.0
    outboxes: dict[int, list[dict]] = field(default_factory=dict)  # terminal pk -> its outbox


def offline_day(base_url: str, *, terminals: int = 4, patients: int = 300, replays: int = 2,
                workdir: str) -> DayResult:
    """Run the day against the server at `base_url` (its database is this process's) and return what happened.

    Creates terminals BENCH-1..n, each with a fresh range of RANGE_SIZE numbers above every existing range and
    the online MRNs, and an API key; their SQLite outboxes and device identities go to `workdir`. After the
    registrations, BENCH-1's outbox is copied to a second machine, which tries to register one more patient and
    then syncs along with the others.
    """
    clients = {}
    for i in range(1, terminals + 1):
        terminal = LabTerminal.objects.create(code=f"BENCH-{i}", name=f"Bench terminal {i}")
        start = _free_start()
        services.add_range(terminal=terminal, start=start, end=start + RANGE_SIZE - 1)
        key = services.issue_terminal_key(terminal=terminal)
        clients[terminal] = TerminalClient(base_url, key=key, terminal=terminal.code,
                                           path=str(Path(workdir) / f"{terminal.code}.sqlite3"),
                                           device_dir=str(Path(workdir) / f"device-{terminal.code}"))
    printed = {}  # client_uuid -> the MRN the terminal printed
    for client in clients.values():  # online: lease
        client.lease(patients)
    for n, client in enumerate(clients.values()):  # offline: register locally, no network
        for k in range(patients):
            client.register(full_name=f"Offline patient {n}-{k}", sex="MF"[k % 2], phone=f"0300-{k:07d}")
        printed.update({item["client_uuid"]: item["mrn"] for item in client.outbox()})

    result = DayResult(expected_percent=round(100 * patients / RANGE_SIZE, 2))
    first = next(iter(clients.values()))
    copy_path = str(Path(workdir) / "copied.sqlite3")
    shutil.copy(first.db.execute("PRAGMA database_list").fetchone()[2], copy_path)
    copy = TerminalClient(base_url, key=first.key, terminal=first.terminal, path=copy_path,
                          device_dir=str(Path(workdir) / "device-second-machine"))
    try:
        copy.register(full_name="Registered on the copy")
    except WrongMachine:
        result.caught_before_printing += 1
    stored, refused = {}, []
    for attempt in range(1 + replays):
        started = time.perf_counter()
        syncs = [lambda c=c: c.sync(replay=attempt > 0) for c in clients.values()]
        reports = _all_at_once(syncs + [lambda: copy.sync(replay=attempt > 0)] if attempt == 0 else syncs)
        elapsed = time.perf_counter() - started
        if attempt == 0:
            result.sync_seconds = elapsed
        else:
            result.replay_seconds.append(elapsed)
        for report in reports:
            result.slowest_request = max(result.slowest_request, report.slowest)
            stored.update(report.stored)
            refused += report.refused

    ours = Patient.objects.filter(origin_terminal__in=list(clients))
    in_db = dict(ours.values_list("client_uuid", "mrn"))
    result.patients = ours.count()
    result.refused = len(refused)
    result.incidents = OfflineIncident.objects.filter(terminal__in=list(clients)).count()
    result.lost = sum(1 for key in printed if uuid.UUID(key) not in in_db)
    result.renumbered = sum(1 for key, mrn in printed.items()
                            if stored.get(key) != mrn or in_db.get(uuid.UUID(key), mrn) != mrn)
    result.duplicates = result.patients - len(in_db)  # client_uuid is unique: extra rows can only be uuid-less
    report = {t["code"]: t["percent"] for t in queries.utilisation()["terminals"]}
    result.utilisation = {t.code: report[t.code] for t in clients}
    result.outboxes = {t.pk: c.outbox() for t, c in clients.items()}
    return result


def _free_start() -> int:
    """The first multiple of RANGE_SIZE above every range and the online MRNs in use."""
    highest = max(TerminalRange.objects.order_by("-end").values_list("end", flat=True).first() or 0,
                  services.online_mrn_last())
    return (highest // RANGE_SIZE + 1) * RANGE_SIZE


def _all_at_once(calls: list) -> list:
    """Run the calls in threads started together; return their results in order, re-raising the first error."""
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def run(i):
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


RAW_INSERT = """
INSERT INTO patients_patient (mrn, full_name, father_name, dob, dob_estimated, sex, phone, cnic, email, address,
                              is_active, notify_opt_out, notify_language, created_at, created_by_id,
                              origin_terminal_id, is_offline_entry, synced_at, registered_at, client_uuid)
VALUES (%s, %s, '', NULL, false, %s, %s, '', '', '', true, false, 'ur', now(), NULL, %s, true, now(), now(), %s)
ON CONFLICT (client_uuid) WHERE client_uuid IS NOT NULL DO NOTHING
"""


BATCH = 50  # the client's sync batch (terminals.client.TerminalClient.batch_size)
RAW_SCOPE = "bench-raw"  # the raw ledger rows' period: apart from the values the server recorded


def raw_sql_ceiling(outboxes: dict[int, list[dict]], passes: int) -> list[float]:
    """The same registrations through psycopg directly, one thread per terminal: per batch of BATCH items, the
    look-up of their client_uuids (terminals.services.sync_registrations), then per item not found, in one
    transaction, the statements of terminals.services._register (lease check, idseq.reservations.issue_reserved:
    reservation lock, ledger check and row, reservation count; patient insert); `passes` times (the first inserts,
    the others are replays, which stop after the look-up). Seconds per pass. MRNs get an "R" prefix,
    fresh uuids and ledger rows in RAW_SCOPE so they do not collide with the rows the server stored."""
    import psycopg
    from django.db import connection

    from idseq.models import Sequence
    from patients.services import MRN_COUNTER

    sequence = Sequence.objects.get(key=MRN_COUNTER).pk
    params = connection.get_connection_params()
    renamed = {pk: [{**item, "mrn": "R" + item["mrn"], "client_uuid": uuid.uuid4()} for item in items]
               for pk, items in outboxes.items()}

    def register_raw(raw, pk: int, item: dict):
        with raw.transaction(), raw.cursor() as cursor:
            number = int(item["mrn"][1:].replace("-", ""))  # printed grouped or plain
            cursor.execute('SELECT device_id FROM terminals_terminallease WHERE terminal_id = %s'
                           ' AND start <= %s AND "end" >= %s LIMIT 1', (pk, number, number))
            cursor.fetchone()
            cursor.execute("SELECT id, owner, next_value FROM idseq_reservation WHERE sequence_id = %s"
                           " AND scope = '' AND first_value <= %s AND last_value >= %s LIMIT 1 FOR UPDATE",
                           (sequence, number, number))
            reservation = cursor.fetchone()[0]
            cursor.execute("SELECT 1 FROM idseq_issuednumber WHERE sequence_id = %s AND scope = %s"
                           " AND value = %s LIMIT 1", (sequence, RAW_SCOPE, number))
            cursor.fetchone()
            cursor.execute("INSERT INTO idseq_issuednumber (sequence_id, scope, value, formatted, issued_at,"
                           " issued_by_id, purpose, idempotency_key_id, voided_at, void_reason) VALUES"
                           " (%s, %s, %s, %s, now(), NULL, 'offline registration', NULL, NULL, '')",
                           (sequence, RAW_SCOPE, number, item["mrn"]))
            cursor.execute("UPDATE idseq_reservation SET issued = issued + 1 WHERE id = %s", (reservation,))
            p = item["payload"]
            cursor.execute(RAW_INSERT, (item["mrn"], p["full_name"], p["sex"], p["phone"], pk,
                                        item["client_uuid"]))

    def one_terminal(pk: int):
        with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}) as raw:
            items = renamed[pk]
            for start in range(0, len(items), BATCH):
                batch = items[start:start + BATCH]
                with raw.transaction(), raw.cursor() as cursor:
                    cursor.execute("SELECT client_uuid FROM patients_patient WHERE client_uuid = ANY(%s)",
                                   ([item["client_uuid"] for item in batch],))
                    stored = {row[0] for row in cursor.fetchall()}
                for item in batch:
                    if item["client_uuid"] not in stored:  # a replay: the stored registration is the answer
                        register_raw(raw, pk, item)

    seconds = []
    for _ in range(passes):
        started = time.perf_counter()
        _all_at_once([lambda pk=pk: one_terminal(pk) for pk in renamed])
        seconds.append(time.perf_counter() - started)
    return seconds


def serve() -> str:
    """Start the project's WSGI app on a free local port in a background thread; return its URL."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet)
    server.set_app(get_wsgi_application())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def main() -> None:
    args = arguments(__doc__, smoke="2 terminals x 10 patients, 1 replay: checks it runs", options={
        "--terminals": {"type": int, "default": 4},
        "--patients": {"type": int, "default": 300, "help": "registrations per terminal (default 300)"},
        "--replays": {"type": int, "default": 2, "help": "times each outbox is sent again (default 2)"}})
    if args.smoke:
        args.terminals, args.patients, args.replays = 2, 10, 1
    from django.conf import settings

    settings.DEBUG = False  # no query log in the server threads
    with bench_database(), tempfile.TemporaryDirectory() as workdir:
        day = offline_day(serve(), terminals=args.terminals, patients=args.patients, replays=args.replays,
                          workdir=workdir)
        raw = raw_sql_ceiling(day.outboxes, 1 + args.replays)
    total = args.terminals * args.patients
    print(f"\nOffline day: {args.terminals} terminals x {args.patients} patients, synced at once over HTTP "
          f"(batches of 50, halved while slow), then {args.replays} replays of every outbox")
    print(f"patients stored {day.patients} of {total}; renumbered {day.renumbered}, duplicates {day.duplicates}, "
          f"lost {day.lost}, refused {day.refused}")
    print(f"copied outbox: {day.caught_before_printing} incident caught before printing (the second machine refused "
          f"to number), {day.incidents} offline incidents at the server")
    print(f"slowest sync request {day.slowest_request:.1f} s (the client's timeout is 30 s)")
    print(f"utilisation: {', '.join(f'{code} {pct:.2f} %' for code, pct in day.utilisation.items())} "
          f"(expected {day.expected_percent:.2f} % each)")
    header = f"{'pass':<10}{'ours s':>9}{'ours/s':>9}{'raw s':>9}{'raw/s':>9}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for label, ours, ceiling in zip(["sync"] + [f"replay {i}" for i in range(1, args.replays + 1)],
                                    [day.sync_seconds, *day.replay_seconds], raw, strict=True):
        print(f"{label:<10}{ours:>9.2f}{total / ours:>9.0f}{ceiling:>9.2f}{total / ceiling:>9.0f}"
              f"{ceiling / ours:>7.0%}")
    expect("the offline day (patients stored, renumbered, duplicates, lost, refused, caught before printing, "
           "incidents)", (day.patients, day.renumbered, day.duplicates, day.lost, day.refused,
                          day.caught_before_printing, day.incidents), ((total, 0, 0, 0, 0, 1, 0),))


if __name__ == "__main__":
    main()
