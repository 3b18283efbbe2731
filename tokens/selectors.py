"""Reads on OPD tokens: queue order, position and estimated time, all derived in SQL at read time.

Seed 002's order, one rule for tokens and the waiting list alike:
    final priority = base priority - min(hours since booking x 0.1, 1.0); lower first, then earlier booking.
Emergencies always come first, whatever the other bonuses. `now()` is the database's
clock at the start of the reading transaction, so every row of one answer is judged at the same instant and no
stored row is ever rewritten as time passes.
"""

import datetime

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    Max,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from tokens.models import Category, Slot, Token, WaitingListEntry

TIME_BONUS_PER_HOUR = 0.1  # seed 002: 0.1 of priority per hour since booking
MAX_TIME_BONUS = 1.0  # seed 002: never more than one whole tier

TOKENS = Token._meta.db_table
WAITING = WaitingListEntry._meta.db_table


def final_priority_sql(alias: str) -> str:
    """SQL for the final priority of the row `alias` (a Token or WaitingListEntry table or alias): a float.
    A booking stamped after the reading transaction began counts as zero hours old, never as a negative age."""
    return (
        f"({alias}.priority - LEAST(GREATEST(EXTRACT(EPOCH FROM (now() - {alias}.created_at)), 0) / 3600.0"
        f" * {TIME_BONUS_PER_HOUR}, {MAX_TIME_BONUS}))::float8"
    )


def _queue_key(alias: str, tiebreak: str) -> list[str]:
    """The sort key of a row in its slot's queue, as SQL terms: emergencies first, final priority, booking time,
    then `tiebreak` (a unique column) so that the order is total."""
    return [
        f"{alias}.category <> '{Category.EMERGENCY}'",
        final_priority_sql(alias),
        f"{alias}.created_at",
        f"{alias}.{tiebreak}",
    ]


def _rank_sql(table: str, tiebreak: str, where: str) -> str:
    """SQL for the 1-based rank of the current `table` row among the rows of its slot that match `where`."""
    ahead, me = _queue_key("ahead", tiebreak), _queue_key(table, tiebreak)
    return (
        f"(SELECT count(*) + 1 FROM {table} ahead WHERE ahead.slot_id = {table}.slot_id AND {where}"
        f" AND ({', '.join(ahead)}) < ({', '.join(me)}))"
    )


_TOKEN_POSITION = RawSQL(
    f"CASE WHEN {TOKENS}.status = 'CONFIRMED' THEN "
    + _rank_sql(TOKENS, "token_number", "ahead.status = 'CONFIRMED'")
    + " END",
    [],
    output_field=IntegerField(),
)


def tokens_in_queue() -> QuerySet[Token]:
    """All tokens, annotated with their place in the queue.

    Annotations:
        final_priority: float, the seed's formula at this instant (lower is seen first).
        position: 1-based place among the slot's confirmed tokens; None unless CONFIRMED.
        estimated_time: slot start + delay + (position - 1) x slot length / max_capacity, and never before now
            (an emergency booked at 16:08 into a slot that began at 16:00 is expected at 16:08, not 16:00); None
            unless CONFIRMED.
    Filtering the result (by category, say) does not change positions: each is counted over the whole slot.
    """
    def duration(expression):
        return ExpressionWrapper(expression, output_field=DurationField())

    per_place = duration((F("slot__end_time") - F("slot__start_time")) / F("slot__max_capacity"))
    return (
        Token.objects.select_related("slot__doctor", "patient")
        .annotate(
            final_priority=RawSQL(final_priority_sql(TOKENS), [], output_field=FloatField()),
            position=_TOKEN_POSITION,
        )
        .annotate(
            estimated_time=Case(When(position__isnull=False, then=Greatest(  # PostgreSQL's GREATEST skips NULLs
                ExpressionWrapper(
                    F("slot__start_time")
                    + duration(F("slot__delay_minutes") * Value(datetime.timedelta(minutes=1)))
                    + duration((F("position") - 1) * per_place),
                    output_field=DateTimeField(),
                ),
                # The application's clock, as the slip's other times (and time-travelling tests) use.
                Value(timezone.now(), output_field=DateTimeField()),
            )))
        )
    )


def slot_queue(slot: Slot) -> QuerySet[Token]:
    """The tokens of `slot` in current order: confirmed ones by position, then the rest by token number."""
    return tokens_in_queue().filter(slot=slot).order_by(F("position").asc(nulls_last=True), "token_number")


def in_room(slot: Slot) -> Token | None:
    """The token of `slot` with the doctor now: called, still confirmed (neither completed nor no-show)."""
    return (
        Token.objects.select_related("patient")
        .filter(slot=slot, status=Token.Status.CONFIRMED, called_at__isnull=False)
        .order_by("-called_at")
        .first()
    )


def arrival_deadline(slot: Slot) -> datetime.datetime:
    """When `slot`'s patients must have checked in to be called: its start plus its delay plus
    OPD_CHECK_IN_GRACE_MINUTES (an aware datetime). From then on Call next skips tokens not checked in."""
    grace = slot.delay_minutes + settings.OPD_CHECK_IN_GRACE_MINUTES
    return slot.start_time + datetime.timedelta(minutes=grace)


def slot_end():
    """An expression for a token's slot's end with its delay (`slot__end_time` + `slot__delay_minutes`), for
    queries on tokens."""
    return ExpressionWrapper(
        F("slot__end_time") + F("slot__delay_minutes") * Value(datetime.timedelta(minutes=1)),
        output_field=DateTimeField(),
    )


def current_slot(slots: list[Slot], now: datetime.datetime) -> Slot | None:
    """The slot a doctor's room works on at `now`, among one doctor's `slots` of a day sorted by start time: the one
    running now (delay included), else the next to start, else the day's last. None without slots."""
    live = [slot for slot in slots if slot.status != Slot.Status.CANCELLED]
    for slot in live:
        if now < slot.end_time + datetime.timedelta(minutes=slot.delay_minutes):
            return slot
    return live[-1] if live else None


def waiting_in_queue() -> QuerySet[WaitingListEntry]:
    """All waiting-list entries with `final_priority` (float) and `waiting_position` (1-based, per slot)."""
    return WaitingListEntry.objects.select_related("slot__doctor", "patient").annotate(
        final_priority=RawSQL(final_priority_sql(WAITING), [], output_field=FloatField()),
        waiting_position=RawSQL(_rank_sql(WAITING, "id", "TRUE"), [], output_field=IntegerField()),
    )


def next_waiting_entry(slot: Slot) -> WaitingListEntry | None:
    """The entry to promote when a place in `slot` frees up: the best by the queue rule among patients who do not
    already hold a confirmed token with the same doctor that day (they could not take a second one). None if none."""
    holders = Token.objects.filter(
        doctor_id=slot.doctor_id, day=slot.day, status=Token.Status.CONFIRMED
    ).values("patient_id")
    return (
        WaitingListEntry.objects.filter(slot=slot)
        .exclude(patient_id__in=holders)
        .order_by(*(RawSQL(term, []) for term in _queue_key(WAITING, "id")))
        .select_related("patient")
        .first()
    )


def day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """The start of `day` and of the next day, aware datetimes in the hospital's time zone."""
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    return start, timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min))


def slots_on(day: datetime.date) -> QuerySet[Slot]:
    """Slots starting on `day` (hospital time zone), by start time."""
    start, end = day_bounds(day)
    return Slot.objects.filter(start_time__gte=start, start_time__lt=end).select_related("doctor")


BOARD_CALLS = 6  # OPD calls offered to the waiting-room board (it shows 6 calls in all)


def board_calls(day: datetime.date) -> list[dict]:
    """The doctors' rooms' latest calls on `day` for the waiting-room board (core.boards source "opd"): tokens
    called, newest first, as `{"token": "OPD 7", "queue": "OPD", "desk": doctor's name, "announced_at": the latest
    call or call again,
    "left": True for a cancelled or no-show token (the board counts its call as the newest but does not list it)}`."""
    called = (
        Token.objects.filter(day=day, called_at__isnull=False)
        .select_related("doctor")
        .order_by(Coalesce("announced_at", "called_at").desc())[:BOARD_CALLS]
    )
    gone = {Token.Status.CANCELLED, Token.Status.NO_SHOW}
    return [
        {"token": f"OPD {t.token_number}", "queue": "OPD", "desk": t.doctor.name, "announced_at": t.announced_at or t.called_at,
         "left": t.status in gone}
        for t in called
    ]


def board_version(day: datetime.date) -> str:
    """Changes whenever a token of `day` is called or changes (count and latest `updated_at` of its tokens)."""
    stats = Token.objects.filter(day=day).aggregate(n=Count("pk"), last=Max("updated_at"))
    return f"opd-{stats['n']}-{stats['last'].timestamp() if stats['last'] else 0:.6f}"
