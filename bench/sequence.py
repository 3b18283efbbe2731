"""Benchmark of idseq sequences (issue #4), each figure next to a raw-SQL ceiling measured in the same run.

    .venv/bin/python bench/sequence.py [--seconds 2]

- `next_ids(key, 10000)` including its 10,000 ledger rows (target: under 1 s), against psycopg doing the same
  work directly: one transaction with the counter UPDATE ... RETURNING and one INSERT ... SELECT FROM unnest.
- single `next_id` latency p50/p99 at 1, 4 and 16 threads, each call its own transaction, against psycopg
  running the same two statements per transaction.
Runs against DATABASE_URL; creates the sequences BENCH and BENCHRAW and removes them (and their rows) at the end.
"""

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from idseq import services  # noqa: E402
from idseq.models import Counter, IdempotencyKey, IssuedNumber, Sequence, UnrecordedRange  # noqa: E402

KEY, RAW_KEY = "BENCH", "BENCHRAW"
BLOCK = 10_000


def raw_connect() -> psycopg.Connection:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        dbname=db["NAME"], user=db.get("USER") or None, password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None, port=db.get("PORT") or None,
    )


def raw_issue(conn: psycopg.Connection, sequence, count: int) -> list[str]:
    """The ceiling: the same two statements idseq runs, straight through psycopg, in one transaction."""
    id_format = sequence.id_format
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute(
            "UPDATE idseq_counter SET last_value = last_value + %s, updated_at = now() WHERE key = %s"
            " RETURNING last_value",
            [count, RAW_KEY],
        )
        last = cursor.fetchone()[0]
        values = list(range(last - count + 1, last + 1))
        ids = [id_format.render(value) for value in values]
        cursor.execute(
            "INSERT INTO idseq_issuednumber (sequence_id, scope, value, formatted, issued_at, issued_by_id, purpose,"
            " idempotency_key_id, voided_at, void_reason)"
            " SELECT %s, '', v, f, now(), NULL, '', NULL, NULL, '' FROM unnest(%s::bigint[], %s::text[]) AS t(v, f)",
            [sequence.pk, values, ids],
        )
    return ids


def timed(function, repeat: int) -> list[float]:
    """Seconds taken by each of `repeat` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def latencies(threads: int, seconds: float, make_call) -> list[float]:
    """Run `make_call()()` in `threads` threads for `seconds`; return every call's latency in seconds."""
    found, stop_at = [], time.perf_counter() + seconds
    barrier = threading.Barrier(threads)

    def work():
        call, mine = make_call(), []
        barrier.wait()
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            call()
            mine.append(time.perf_counter() - started)
        found.extend(mine)
        connection.close()

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return found


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def cleanup() -> None:
    sequences = Sequence.objects.filter(key__in=[KEY, RAW_KEY])
    IssuedNumber.objects.filter(sequence__in=sequences).delete()
    IdempotencyKey.objects.filter(sequence__in=sequences).delete()
    UnrecordedRange.objects.filter(sequence__in=sequences).delete()
    Counter.objects.filter(sequence__in=sequences).delete()
    sequences.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per latency configuration (default 2)")
    parser.add_argument("--repeat", type=int, default=5, help="10,000-id blocks per side (default 5)")
    args = parser.parse_args()
    cleanup()
    services.next_id(KEY)
    services.next_id(RAW_KEY)  # creates both sequences and their counters, so neither side pays for that
    raw_sequence = Sequence.objects.get(key=RAW_KEY)
    try:
        raw = raw_connect()
        ours = statistics.median(timed(lambda: services.next_ids(KEY, BLOCK), args.repeat))
        ceiling = statistics.median(timed(lambda: raw_issue(raw, raw_sequence, BLOCK), args.repeat))
        print(f"next_ids({KEY!r}, {BLOCK:,}) with ledger rows: median {ours * 1000:.0f} ms "
              f"(raw SQL {ceiling * 1000:.0f} ms, ratio {ours / ceiling:.2f}x; target < 1000 ms)")
        print(f"{'threads':>7} {'next_id p50':>12} {'p99':>9} {'calls/s':>8} | {'raw p50':>8} {'p99':>9}"
              f" {'calls/s':>8} | p50 ratio")
        for threads in (1, 4, 16):
            mine = latencies(threads, args.seconds, lambda: lambda: services.next_id(KEY))

            def raw_call():
                conn = raw_connect()
                return lambda: raw_issue(conn, raw_sequence, 1)

            base = latencies(threads, args.seconds, raw_call)
            print(f"{threads:>7} {percentile(mine, 50) * 1000:>9.2f} ms {percentile(mine, 99) * 1000:>6.2f} ms"
                  f" {len(mine) / args.seconds:>8.0f} | {percentile(base, 50) * 1000:>5.2f} ms"
                  f" {percentile(base, 99) * 1000:>6.2f} ms {len(base) / args.seconds:>8.0f} |"
                  f" {percentile(mine, 50) / percentile(base, 50):.2f}x")
        raw.close()
    finally:
        cleanup()


if __name__ == "__main__":
    main()
