"""Today's figures against the target, from the times the visits and tokens carry (the same timestamps the wait
estimates read): per walk-in queue, per OPD doctor and per desk.

Definitions (docs/guide/today.md):
- wait of a walk-in visit: `called_at - queued_at` (the time it joined the line, or rejoined after a recall);
  of an OPD token: `called_at` minus the latest of its slot's start (delay included), its booking and its arrival
  (`checked_in_at`, when checked in), never below 0 (a patient is not waiting before the slot begins, nor before
  arriving).
- p50 and p90: percentiles with linear interpolation between the closest ranks (PostgreSQL's `percentile_cont`)
  over the visits (tokens) called today, in minutes.
- within target: the share of those whose wait is at most DAY_WAIT_TARGET_MINUTES, in percent.
- per hour: visits (tokens) completed today divided by the hours from the queue's, desk's (doctor's) first call
  today to its latest completion; none before a completion exists.
- oldest waiting: minutes the longest-waiting visit (token) still waiting has waited at `now`; the alert is on when
  it passes DAY_WAIT_ALERT_MINUTES.
"""

import datetime
import math
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from queues.models import Desk, Queue, Visit
from tokens.models import Doctor, Token
from tokens.selectors import day_bounds

V, T = Visit.Status, Token.Status


@dataclass
class Row:
    """The figures of one queue, doctor or desk. Minutes and percentages are floats rounded to 0.1, None without data."""

    kind: str  # "queue", "doctor" or "desk"
    name: str
    waiting: int = 0
    oldest_waiting_minutes: float | None = None
    called: int = 0
    wait_p50_minutes: float | None = None
    wait_p90_minutes: float | None = None
    within_target_percent: float | None = None
    completed: int = 0
    per_hour: float | None = None
    no_shows: int = 0
    waits: list = field(default_factory=list, repr=False)  # minutes, for the percentiles
    calls: list = field(default_factory=list, repr=False)  # call times and ...
    completions: list = field(default_factory=list, repr=False)  # ... completion times, for the throughput

    def record(self, *, waited_since: datetime.datetime, called_at, completed_at, no_show: bool) -> None:
        """Count one visit or token: its wait if it was called (`called_at`, else None), its completion
        (`completed_at`, else None), and whether it is a no-show."""
        if called_at:
            self.waits.append(max(_minutes(called_at - waited_since), 0))
            self.calls.append(called_at)
        if completed_at:
            self.completed += 1
            self.completions.append(completed_at)
        self.no_shows += no_show

    @property
    def alert(self) -> bool:
        """True when someone has waited longer than DAY_WAIT_ALERT_MINUTES."""
        return self.oldest_waiting_minutes is not None and self.oldest_waiting_minutes > settings.DAY_WAIT_ALERT_MINUTES


COLUMNS = ["kind", "name", "waiting", "oldest_waiting_minutes", "called", "wait_p50_minutes", "wait_p90_minutes",
           "within_target_percent", "completed", "per_hour", "no_shows"]


def percentile(values: list[float], fraction: float) -> float | None:
    """The `fraction` (0..1) percentile of `values` with linear interpolation between the closest ranks, as
    PostgreSQL's `percentile_cont`; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * fraction
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _minutes(delta: datetime.timedelta) -> float:
    return delta.total_seconds() / 60


def _one_decimal(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _finish(row: Row) -> Row:
    target = settings.DAY_WAIT_TARGET_MINUTES
    row.called = len(row.waits)
    row.wait_p50_minutes = _one_decimal(percentile(row.waits, 0.5))
    row.wait_p90_minutes = _one_decimal(percentile(row.waits, 0.9))
    if row.waits:
        row.within_target_percent = _one_decimal(100 * sum(wait <= target for wait in row.waits) / len(row.waits))
    row.oldest_waiting_minutes = _one_decimal(row.oldest_waiting_minutes)
    if row.completions and row.calls and max(row.completions) > min(row.calls):
        hours = (max(row.completions) - min(row.calls)).total_seconds() / 3600
        row.per_hour = _one_decimal(len(row.completions) / hours)
    return row


def _waited(row: Row, since: datetime.datetime, now: datetime.datetime) -> None:
    minutes = max(_minutes(now - since), 0)
    row.oldest_waiting_minutes = max(row.oldest_waiting_minutes or 0, minutes)


def walk_in_rows(day: datetime.date, now: datetime.datetime) -> tuple[list[Row], list[Row]]:
    """(one Row per queue, one per desk that called someone), by name, from the visits of `day` (a hospital day),
    judged at `now`. One query."""
    queues = {queue.pk: Row("queue", queue.name) for queue in Queue.objects.order_by("name")}
    desks = {desk.pk: Row("desk", desk.name) for desk in Desk.objects.order_by("name")}
    # By queue and day: the leading columns of the unique (queue, visit_date, token_number) index.
    for visit in Visit.objects.filter(queue_id__in=list(queues), visit_date=day).only(
        "queue_id", "desk_id", "status", "queued_at", "called_at", "completed_at"
    ):
        if visit.status == V.WAITING:
            queues[visit.queue_id].waiting += 1
            _waited(queues[visit.queue_id], visit.queued_at, now)
        for row in [queues[visit.queue_id]] + ([desks[visit.desk_id]] if visit.desk_id and visit.called_at else []):
            row.record(waited_since=visit.queued_at, called_at=visit.called_at,
                       completed_at=visit.completed_at if visit.status == V.COMPLETED else None,
                       no_show=visit.status == V.NO_SHOW)
    return [_finish(row) for row in queues.values()], [_finish(row) for row in desks.values() if row.calls]


def doctor_rows(day: datetime.date, now: datetime.datetime) -> list[Row]:
    """One Row per doctor with slots on `day` (a hospital day), from their tokens, judged at `now`."""
    start, end = day_bounds(day)
    tokens = Token.objects.filter(day=day).select_related("slot")  # the (day, doctor) index; day is the slot's
    rows = {doctor.pk: Row("doctor", doctor.name)
            for doctor in Doctor.objects.filter(slots__start_time__gte=start, slots__start_time__lt=end).distinct()}
    for token in tokens.only("doctor_id", "status", "created_at", "called_at", "actual_time", "checked_in_at",
                             "slot__start_time", "slot__delay_minutes"):
        row = rows[token.doctor_id]
        due = max(token.slot.start_time + datetime.timedelta(minutes=token.slot.delay_minutes), token.created_at,
                  token.checked_in_at or token.created_at)
        if token.status == T.CONFIRMED and token.called_at is None:
            row.waiting += 1
            if due <= now:
                _waited(row, due, now)
        row.record(waited_since=due, called_at=token.called_at,
                   completed_at=token.actual_time if token.status == T.COMPLETED else None,
                   no_show=token.status == T.NO_SHOW)
    return sorted((_finish(row) for row in rows.values()), key=lambda row: row.name)


def day_figures(*, now: datetime.datetime | None = None) -> dict:
    """Everything the manager's page shows for the hospital day of `now` (default the present):
    `{"day": date, "now": datetime, "target": int, "alert_after": int, "queues": [Row], "doctors": [Row],
    "desks": [Row], "alerts": [Row]}`; `alerts` are the queue and doctor rows over DAY_WAIT_ALERT_MINUTES."""
    now = now or timezone.now()
    day = timezone.localdate(now)
    (queues, desks), doctors = walk_in_rows(day, now), doctor_rows(day, now)
    return {
        "day": day, "now": now, "target": settings.DAY_WAIT_TARGET_MINUTES,
        "alert_after": settings.DAY_WAIT_ALERT_MINUTES, "queues": queues, "doctors": doctors,
        "desks": desks, "alerts": [row for row in [*queues, *doctors] if row.alert],
    }


def as_csv_rows(figures: dict) -> list[list]:
    """The CSV's rows: a header (COLUMNS), then every queue, doctor and desk row; empty cells for no data."""
    body = [[getattr(row, column) for column in COLUMNS]
            for row in [*figures["queues"], *figures["doctors"], *figures["desks"]]]
    return [COLUMNS, *([("" if value is None else value) for value in values] for values in body)]
