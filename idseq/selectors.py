"""Reads on sequences: usage and forecast (health, report, admin, API) and the ledger integrity check."""

import datetime
from dataclasses import asdict, dataclass

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from idseq.formats import Period, scope_of
from idseq.models import Counter, IssuedNumber, Sequence, UnrecordedRange

WARNING_PERCENT = 80  # issue #4: warn at 80 % of a format's capacity...
CRITICAL_PERCENT = 90  # ...and raise the alarm at 90 %
RATE_DAYS = 30  # the issue rate is measured over the last 30 days
LEVELS = ("ok", "warning", "critical")


@dataclass(frozen=True)
class Usage:
    """How full one sequence is, in its current period (today for daily, this year for yearly, ever for never).

    capacity: ids its format can show per period; issued: ids taken in the period; percent_used: 0-100;
    rate_per_day: ids issued per day over the last 30 days; days_to_exhaustion: at that rate, None when the
    sequence resets or nothing was issued; level: ok, warning (>= 80 %) or critical (>= 90 %).
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

    def as_dict(self) -> dict:
        return asdict(self)


def sequence_usage(sequences=None) -> list[Usage]:
    """Usage and forecast of `sequences` (a queryset or list; all by default), in three queries."""
    sequences = list(Sequence.objects.all() if sequences is None else sequences)
    today = timezone.localdate()
    scopes = {sequence.pk: scope_of(sequence.reset, today) for sequence in sequences}
    keys = [sequence.counter_key(scopes[sequence.pk]) for sequence in sequences]
    last_values = dict(Counter.objects.filter(key__in=keys).values_list("key", "last_value"))
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
        rate = recent.get(sequence.pk, 0) / RATE_DAYS
        percent = round(100 * issued / capacity, 2)
        never_resets = sequence.reset == Period.NEVER
        rows.append(
            Usage(
                key=sequence.key,
                kind=sequence.kind,
                scope=scope,
                next_id=id_format.render(last + 1, scope) if issued < capacity else None,
                capacity=capacity,
                issued=issued,
                percent_used=percent,
                rate_per_day=round(rate, 2),
                days_to_exhaustion=round((capacity - issued) / rate, 1) if never_resets and rate else None,
                level="critical" if percent >= CRITICAL_PERCENT else "warning" if percent >= WARNING_PERCENT else "ok",
            )
        )
    return rows


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


# Every ledger value and unrecorded range of each sequence period, as ranges lo..hi.
_PIECES = f"""
    SELECT sequence_id, scope, value AS lo, value AS hi FROM {IssuedNumber._meta.db_table}
    UNION ALL
    SELECT sequence_id, scope, first_value, last_value FROM {UnrecordedRange._meta.db_table}
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
    """Check that, for every sequence and period, the ledger (voided numbers included) and the unrecorded ranges
    hold exactly start..counter, each value once. Returns one line per problem found (at most `limit`), naming the
    sequence, period and ids; an empty list means clean. Used by `manage.py idseq_check`."""
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
    return problems[:limit]


def issued_totals() -> dict[str, int]:
    """Numbers each sequence has issued over all its periods, from its counters (cheap at any ledger size): what
    the counters handed out, less the values a forward reset passed over (never issued). Numbers issued before the
    ledger existed count as issued. Returns {sequence key: count}, every sequence included (0 when none)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT s.key,
                   coalesce((SELECT sum(greatest(c.last_value - s.start_value + 1, 0)) FROM {Counter._meta.db_table} c
                             WHERE c.sequence_id = s.id), 0)
                   - coalesce((SELECT sum(u.last_value - u.first_value + 1) FROM {UnrecordedRange._meta.db_table} u
                               WHERE u.sequence_id = s.id AND u.reason = %s), 0)
            FROM {Sequence._meta.db_table} s ORDER BY s.key
            """,
            [UnrecordedRange.Reasons.RESET],
        )
        return {key: int(count) for key, count in cursor.fetchall()}
