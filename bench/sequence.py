"""idseq sequences next to the raw-SQL ceiling (pgbench running the same statements), in a throw-away
database:

- `next_ids(key, 10000)` including its 10,000 ledger rows (target: under 1 s), against one transaction of the
  counter locked and advanced in one `UPDATE ... RETURNING` and an `INSERT ... SELECT` of 10,000 ledger rows;
- single `next_id` p50/p99 at 1, 4 and 16 clients, each call its own transaction, against the same two
  statements for one row.

    .venv/bin/python bench/sequence.py [--seconds 2] [--clients 1,4,16] [--smoke]
"""

import time

from common import (
    RAW_ADVANCE,
    Result,
    RoundTrips,
    advance_variables,
    arguments,
    bench_database,
    check_same_statements,
    pgbench,
    print_table,
    run_threads,
    with_variables,
)

from idseq import services
from idseq.models import Sequence

BLOCK = 10_000
RAW_KEY = "BENCHRAW"

# The work of one issue(), in SQL: lock and advance the counter in one statement (the sequence cached), write the
# ledger rows.
RAW_SQL = f"""\
BEGIN;
{RAW_ADVANCE}
INSERT INTO idseq_issuednumber (sequence_id, scope, value, formatted, issued_at, purpose, void_reason)
  SELECT :sid, '', v, 'BENCHRAW-' || v, now(), '', '' FROM generate_series(:n - :count + 1, :n) AS v;
COMMIT;
"""


def raw_sql(count: int) -> str:
    """RAW_SQL taking `count` values of the BENCHRAW sequence."""
    return with_variables(RAW_SQL, **advance_variables(RAW_KEY, count))


def blocks(seconds: float) -> Result:
    """`next_ids(BENCH, 10000)` in a loop from one thread for `seconds`."""
    latencies, deadline = [], time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        services.next_ids("BENCH", BLOCK)
        latencies.append(time.perf_counter() - start)
    return Result(latencies, time.perf_counter() - started)


def main() -> None:
    args = arguments(__doc__, smoke="1 s per row, 1 and 4 clients: checks the bench runs", seconds=2,
                     clients=(1, 4, 16))
    seconds, client_counts = args.seconds, args.clients
    with bench_database():
        services.next_id("BENCH")
        services.next_id(RAW_KEY)  # both sequences and counters exist before timing starts
        assert Sequence.objects.filter(key=RAW_KEY).exists()
        with RoundTrips() as trips:
            services.next_id("BENCH")
        check_same_statements("next_id", raw_sql(1), trips.statements)
        print_table(
            f"next_ids(key, {BLOCK:,}) with ledger rows, {seconds} s (target p50 < 1000 ms)",
            [(f"next_ids({BLOCK:,})", 1, blocks(seconds), pgbench(raw_sql(BLOCK), 1, seconds))],
        )
        rows = []
        for clients in client_counts:
            ours = run_threads(lambda: services.next_id("BENCH"), clients, seconds)
            rows.append(("next_id", clients, ours, pgbench(raw_sql(1), clients, seconds)))
        print_table(f"single next_id, one transaction each, {seconds} s per row", rows)


if __name__ == "__main__":
    main()
