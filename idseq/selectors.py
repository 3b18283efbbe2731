"""Reads on sequences: usage and forecast (health, report, admin, API) and the ledger integrity check."""

import datetime
from dataclasses import asdict, dataclass

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from idseq.formats import Period, scope_of
from idseq.models import Counter, IssuedNumber, Reservation, Sequence, UnrecordedRange

WARNING_PERCENT = 80  # warn at 80 % of a format's capacity...
CRITICAL_PERCENT = 90  # ...and raise the alarm at 90 %
RATE_DAYS = 30  # the issue rate is measured over the last 30 days
LEVELS = ("ok", "warning", "critical")


@dataclass(frozen=True)
class Usage:
    """How full one sequence is, in its current period (today for daily, this year for yearly, ever for never; for
    scoped, its fullest scope of today, see `sequence_usage`).

    capacity: ids its format can show per period; issued: ids taken in the period; percent_used: 0-100;
    rate_per_day: ids issued per day over the last 30 days; days_to_exhaustion: at that rate, None when the
    sequence resets or nothing was issued; level: ok, warning (>= 80 %) or critical (>= 90 %). reserved: values
    reserved above the counter (lab terminals' ranges, the offline pool, carried-over numbers), which
    percent_used and days_to_exhaustion count as used.
    """

    key: str
    kind: str
    scope: str
    next_id: str | None
    capacity: int
    issued: int
    percent_used: float
    rate_per_day: float
    days_to_exhaustion: float | None
    level: str
    reserved: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def sequence_usage(sequences=None) -> list[Usage]:
    """Usage and forecast of `sequences` (a queryset or list; all by default), in at most five queries.

    A scoped sequence (visit tokens per queue and day, slot tokens per slot) is shown in its fullest scope of
    today: the scope of the highest number it issued today (scope "" and next_id None when it issued none today).
    """
    sequences = list(Sequence.objects.all() if sequences is None else sequences)
    today = timezone.localdate()
    fullest = _fullest_scopes_today([sequence for sequence in sequences if sequence.reset == Period.SCOPED], today)
    scopes = {
        sequence.pk: (
            fullest.get(sequence.pk, "") if sequence.reset == Period.SCOPED else scope_of(sequence.reset, today)
        )
        for sequence in sequences
    }
    keys = [sequence.counter_key(scopes[sequence.pk]) for sequence in sequences]
    last_values = dict(Counter.objects.filter(key__in=keys).values_list("key", "last_value"))
    reservations = list(Reservation.objects.filter(sequence__in=sequences).values_list(
        "sequence_id", "scope", "first_value", "last_value"
    ))
    since = timezone.now() - datetime.timedelta(days=RATE_DAYS)
    recent = dict(
        IssuedNumber.objects.filter(sequence__in=sequences, issued_at__gte=since)
        .values("sequence")
        .annotate(n=Count("id"))
        .values_list("sequence", "n")
    )
    rows = []
    for sequence in sequences:
        scope = scopes[sequence.pk]
        id_format = sequence.id_format
        capacity = id_format.last_value - sequence.start_value + 1
        last = last_values.get(sequence.counter_key(scope), sequence.start_value - 1)
        issued = last - sequence.start_value + 1
        reserved = sum(
            high - max(low, last + 1) + 1
            for sid, period, low, high in reservations
            if sid == sequence.pk and period == scope and high > last
        )
        used = issued + reserved
        rate = recent.get(sequence.pk, 0) / RATE_DAYS
        percent = round(100 * used / capacity, 2)
        never_resets = sequence.reset == Period.NEVER
        scoped = sequence.reset == Period.SCOPED
        rows.append(
            Usage(
                key=sequence.key,
                kind=sequence.kind,
                scope=scope,
                next_id=id_format.render(last + 1, scope) if used < capacity and (scope or not scoped) else None,
                capacity=capacity,
                issued=issued,
                percent_used=percent,
                rate_per_day=round(rate, 2),
                days_to_exhaustion=round((capacity - used) / rate, 1) if never_resets and rate else None,
                level="critical" if percent >= CRITICAL_PERCENT else "warning" if percent >= WARNING_PERCENT else "ok",
                reserved=reserved,
            )
        )
    return rows


def _fullest_scopes_today(sequences: list[Sequence], today: datetime.date) -> dict[int, str]:
    """{sequence id: the scope of the highest value each of `sequences` issued on `today`}, from today's ledger rows
    (index idseq_issued_seq_time_idx: today's rows only, however many scopes the years left behind). No query
    when `sequences` is empty."""
    if not sequences:
        return {}
    since = timezone.make_aware(datetime.datetime.combine(today, datetime.time.min))
    return dict(
        IssuedNumber.objects.filter(sequence__in=sequences, issued_at__gte=since)
        .order_by("sequence_id", "-value")
        .distinct("sequence_id")
        .values_list("sequence_id", "scope")
    )


def worst_level(usage: list[Usage]) -> str:
    """The most alarming level among `usage` rows ("ok" when there are none)."""
    return max((row.level for row in usage), key=LEVELS.index, default="ok")


def issued_numbers(
    sequence: Sequence,
    *,
    date: datetime.date | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    from_id: str | None = None,
    to_id: str | None = None,
) -> QuerySet[IssuedNumber]:
    """The ledger of `sequence` in issue order, optionally only ids issued on `date` or from `date_from` to
    `date_to` (days in the hospital's time zone, inclusive) and from `from_id` to `to_id` (inclusive; for a
    period-scoped sequence the range also bounds the period).

    Raises:
        InvalidId: `from_id`/`to_id` not in the sequence's format (400, with the pattern).
    """
    numbers = IssuedNumber.objects.filter(sequence=sequence).select_related("issued_by", "idempotency_key")
    if date:
        numbers = numbers.filter(issued_at__date=date)
    if date_from:
        numbers = numbers.filter(issued_at__date__gte=date_from)
    if date_to:
        numbers = numbers.filter(issued_at__date__lte=date_to)
    if from_id:
        value, scope = sequence.id_format.parse(from_id)
        numbers = numbers.filter(Q(scope__gt=scope) | Q(scope=scope, value__gte=value))
    if to_id:
        value, scope = sequence.id_format.parse(to_id)
        numbers = numbers.filter(Q(scope__lt=scope) | Q(scope=scope, value__lte=value))
    return numbers.order_by("scope", "value")


# What covers each sequence period's values up to its counter, as ranges lo..hi: ledger rows outside reservations,
# unrecorded ranges, and reservations at or below the counter (those above it are the future: the counter will step
# over them; those below the start value lie outside what it issues). Ledger rows inside a reservation are counted
# against its `issued` instead (_RESERVATION_COUNTS).
_PIECES = f"""
    SELECT sequence_id, scope, value AS lo, value AS hi FROM {IssuedNumber._meta.db_table} i
    WHERE NOT EXISTS (
        SELECT 1 FROM {Reservation._meta.db_table} r WHERE r.sequence_id = i.sequence_id AND r.scope = i.scope
        AND int8range(r.first_value, r.last_value, '[]') @> i.value
    )
    UNION ALL
    SELECT sequence_id, scope, first_value, last_value FROM {UnrecordedRange._meta.db_table}
    UNION ALL
    SELECT r.sequence_id, r.scope, r.first_value, r.last_value FROM {Reservation._meta.db_table} r
    JOIN {Counter._meta.db_table} c ON c.sequence_id = r.sequence_id AND c.scope = r.scope
    JOIN {Sequence._meta.db_table} s ON s.id = r.sequence_id
    WHERE r.first_value <= c.last_value AND r.last_value >= s.start_value
"""

# Reservations whose ledger rows are not as many as the values issued from them: a row was deleted (or written
# around idseq).
_RESERVATION_COUNTS = f"""
    SELECT r.sequence_id, r.scope, r.first_value, r.last_value, r.owner, r.issued, count(i.id)
    FROM {Reservation._meta.db_table} r
    LEFT JOIN {IssuedNumber._meta.db_table} i ON i.sequence_id = r.sequence_id AND i.scope = r.scope
        AND i.value BETWEEN r.first_value AND r.last_value
    GROUP BY r.id HAVING count(i.id) <> r.issued ORDER BY r.sequence_id, r.scope, r.first_value
"""


@dataclass(frozen=True)
class PeriodState:
    """One sequence period as the check sees it: its counter (None when missing) and what the ledger covers."""

    sequence_id: int
    scope: str
    counter_last: int | None
    recorded_first: int | None
    recorded_last: int | None


def period_states() -> list[PeriodState]:
    """Every (sequence, scope) that has a counter or a ledger row, with the counter and the ledger's bounds."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH bounds AS (
                SELECT sequence_id, scope, min(lo) AS lo, max(hi) AS hi FROM ({_PIECES}) p GROUP BY sequence_id, scope
            ), counters AS (
                SELECT sequence_id, scope, last_value FROM {Counter._meta.db_table} WHERE sequence_id IS NOT NULL
            )
            SELECT coalesce(c.sequence_id, b.sequence_id), coalesce(c.scope, b.scope), c.last_value, b.lo, b.hi
            FROM counters c FULL JOIN bounds b ON b.sequence_id = c.sequence_id AND b.scope = c.scope
            ORDER BY 1, 2
            """
        )
        return [PeriodState(*row) for row in cursor.fetchall()]


def lagging_counters() -> list[PeriodState]:
    """Periods whose counter is missing or behind the highest value recorded: it would issue a number again."""
    return [
        state
        for state in period_states()
        if state.recorded_last is not None and (state.counter_last or 0) < state.recorded_last
    ]


def ledger_problems(limit: int = 200) -> list[str]:
    """Check that, for every sequence and period or caller's scope, the ledger (voided numbers included), the
    reservations and the unrecorded ranges hold exactly start..counter, each value once, and that every reservation
    has a ledger row for each value issued from it. Set-based: four queries however many scopes (thousands of
    slots), the Python loop only words what they found. Returns one line per problem found (at most `limit`),
    naming the sequence, period and ids; an empty list means clean. Used by `manage.py idseq_check`."""
    sequences = {sequence.pk: sequence for sequence in Sequence.objects.all()}
    problems = []

    def name(sequence_id, scope):
        return sequences[sequence_id].key + (f" ({scope})" if scope else "")

    def show(sequence_id, scope, value):
        return sequences[sequence_id].id_format.render(value, scope)

    def ids(sequence_id, scope, first, last):
        count = last - first + 1
        shown = show(sequence_id, scope, first) + ("" if count == 1 else f"..{show(sequence_id, scope, last)}")
        return f"{shown} ({count} value{'s' if count != 1 else ''})"

    for state in period_states():
        sid, scope, start = state.sequence_id, state.scope, sequences[state.sequence_id].start_value
        last = state.counter_last
        if last is None:
            problems.append(
                f"{name(sid, scope)}: the ledger records {ids(sid, scope, state.recorded_first, state.recorded_last)}"
                " but there is no counter; run idseq_repair."
            )
            continue
        if state.recorded_first is None:
            if last >= start:
                problems.append(f"{name(sid, scope)}: the ledger is missing {ids(sid, scope, start, last)}.")
            continue
        if state.recorded_first < start:
            problems.append(f"{name(sid, scope)}: the ledger holds values below the start value {start}.")
        elif state.recorded_first > start:
            missing = ids(sid, scope, start, state.recorded_first - 1)
            problems.append(f"{name(sid, scope)}: the ledger is missing {missing}.")
        if state.recorded_last < last:
            problems.append(
                f"{name(sid, scope)}: the counter is at {show(sid, scope, last)} but the ledger "
                f"is missing {ids(sid, scope, state.recorded_last + 1, last)}."
            )
        elif state.recorded_last > last:
            problems.append(
                f"{name(sid, scope)}: the counter ({last}) is behind its ledger, which records "
                f"{ids(sid, scope, last + 1, state.recorded_last)}; it would issue them again. Run idseq_repair."
            )
    with connection.cursor() as cursor:
        # Walk each period's pieces in order: a piece must start right after the furthest value seen so far.
        cursor.execute(
            f"""
            SELECT sequence_id, scope, prev_hi, lo, hi FROM (
                SELECT sequence_id, scope, lo, hi, max(hi) OVER (
                    PARTITION BY sequence_id, scope ORDER BY lo, hi ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                ) AS prev_hi
                FROM ({_PIECES}) p
            ) w WHERE lo <> prev_hi + 1 ORDER BY sequence_id, scope, lo LIMIT %s
            """,
            [limit],
        )
        for sid, scope, prev_hi, lo, hi in cursor.fetchall():
            if lo > prev_hi + 1:
                problems.append(f"{name(sid, scope)}: the ledger is missing {ids(sid, scope, prev_hi + 1, lo - 1)}.")
            else:
                problems.append(
                    f"{name(sid, scope)}: {ids(sid, scope, lo, min(hi, prev_hi))} recorded more than once."
                )
        cursor.execute(_RESERVATION_COUNTS + " LIMIT %s", [limit])
        for sid, scope, first, last, owner, issued, recorded in cursor.fetchall():
            problems.append(
                f"{name(sid, scope)}: {issued} number(s) were issued from {ids(sid, scope, first, last)}, reserved "
                f"for {owner}, but the ledger holds {recorded} of them."
            )
    return problems[:limit]


def issued_totals() -> dict[str, int]:
    """Numbers each sequence has issued over all its periods, from its counters and reservations (cheap at any
    ledger size): what the counters handed out, less the values a forward reset passed over (never issued) and the
    reserved values they stepped over, plus the values issued from reservations (a terminal's synced
    numbers, carried-over and imported ones). Numbers issued before the ledger existed count as issued. Returns
    {sequence key: count}, every sequence included (0 when none)."""
    counter, reservation = Counter._meta.db_table, Reservation._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT s.key,
                   coalesce((SELECT sum(greatest(c.last_value - s.start_value + 1, 0)) FROM {counter} c
                             WHERE c.sequence_id = s.id), 0)
                   - coalesce((SELECT sum(u.last_value - u.first_value + 1) FROM {UnrecordedRange._meta.db_table} u
                               WHERE u.sequence_id = s.id AND u.reason = %s), 0)
                   - coalesce((SELECT sum(greatest(least(r.last_value, c.last_value)
                                                   - greatest(r.first_value, s.start_value) + 1, 0))
                               FROM {reservation} r JOIN {counter} c
                                 ON c.sequence_id = r.sequence_id AND c.scope = r.scope
                               WHERE r.sequence_id = s.id), 0)
                   + coalesce((SELECT sum(r.issued) FROM {reservation} r WHERE r.sequence_id = s.id), 0)
            FROM {Sequence._meta.db_table} s ORDER BY s.key
            """,
            [UnrecordedRange.Reasons.RESET],
        )
        return {key: int(count) for key, count in cursor.fetchall()}
