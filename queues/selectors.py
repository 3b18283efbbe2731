"""Reads on queues: the line with derived positions, wait estimates, board contents, integrity reports.

Positions are never stored (fixing seed 003's duplicate positions and O(n) renumbering): a waiting visit's
position is its ROW_NUMBER() among today's waiting visits of its queue in call order, computed by PostgreSQL in one
snapshot, so positions are 1..n without gaps or duplicates at every moment.
"""

import datetime
import math
from collections import Counter
from collections.abc import Iterable

from django.db.models import Aggregate, BooleanField, Count, F, FloatField, Func, Max, Min, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL, Window
from django.db.models.functions import Extract, RowNumber
from django.http import Http404
from django.shortcuts import get_object_or_404

from core import boards
from core.compiled import Compiled
from queues.models import Desk, Queue, Visit

S = Visit.Status

# Below this many completed visits today, a queue's median is too noisy: its default service minutes are used.
MEDIAN_MIN_VISITS = 5
BOARD_NEXT = 10  # waiting tokens shown per queue on the board
BOARD_CALLED = 6  # calls shown on the board: the one now calling and the last 5


class Median(Aggregate):
    """PostgreSQL's `percentile_cont(0.5) WITHIN GROUP (ORDER BY expr)`: the median of a numeric expression."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def find_queue(ref: str) -> Queue:
    """The queue with id `ref` ("3") or code `ref` ("LAB", any case). Raises Http404 when there is none."""
    ref = ref.strip()
    if "\x00" in ref:  # no queue's code holds a NUL, and PostgreSQL cannot even compare one
        raise Http404("No queue matches the given query.")
    return get_object_or_404(Queue, **({"pk": int(ref)} if ref.isdecimal() and ref.isascii() else {"code": ref.upper()}))


def waiting_line(*, queue_ids: Iterable[int], visit_date: datetime.date) -> QuerySet[Visit]:
    """Waiting visits of the queues on `visit_date`, each annotated with `position` (1..n per queue, call order).

    Returns a queryset ordered by queue then position. Filter it on `position` only: any other filter goes into the
    WHERE clause and changes the window (a `.filter(pk=...)` would always give position 1).
    """
    return (
        Visit.objects.filter(queue_id__in=list(queue_ids), visit_date=visit_date, status=S.WAITING)
        .select_related("queue")
        .annotate(
            position=Window(RowNumber(), partition_by=[F("queue_id")], order_by=[F(f) for f in Visit.CALL_ORDER])
        )
        .order_by("queue_id", "position")
    )


def service_minutes(*, queue: Queue, visit_date: datetime.date) -> float:
    """Minutes one consultation takes in `queue`: the median of `started_at`..`completed_at` of its visits completed
    on `visit_date`, or `queue.default_service_minutes` while fewer than MEDIAN_MIN_VISITS are completed."""
    return _minutes_per_visit(queue, _line_stats(queue.pk, visit_date))


def _minutes_per_visit(queue: Queue, stats: dict) -> float:
    if stats["done"] < MEDIAN_MIN_VISITS:
        return float(queue.default_service_minutes)
    return stats["median_seconds"] / 60


class _Scalar(Subquery):
    """`(SELECT <aggregate> FROM ... WHERE ...)` as one column of an outer query (no GROUP BY)."""

    def __init__(self, queryset: QuerySet, aggregate: Func):
        super().__init__(queryset.order_by().annotate(value=aggregate).values("value")[:1])


def _count() -> Func:
    return Func(F("pk"), function="COUNT")


def _line_stats(queue_id: int, visit_date: datetime.date, *, ahead_of: Visit | None = None) -> dict:
    """One query for what a queue's estimates need on `visit_date`: `active_desks` (active, serving it), `done` and
    `median_seconds` (completed consultations), and with `ahead_of` (a waiting visit) `ahead`: the waiting visits
    before it in call order, counted on the waiting-line index instead of numbering the whole line. The query is
    compiled once per process (core.compiled): it answers every issued token, and compiling it cost more CPU than
    running it."""
    if ahead_of is None:
        (stats,) = _LINE_STATS.rows(queue_id=queue_id, visit_date=visit_date)
    else:
        (stats,) = _LINE_STATS_AHEAD.rows(queue_id=queue_id, visit_date=visit_date, ahead_id=ahead_of.pk)
    return stats


def _line_stats_query(queue_id: int, visit_date: datetime.date, ahead_id: int | None = None) -> QuerySet:
    """The queryset of `_line_stats` (one row)."""
    visits = Visit.objects.filter(queue_id=queue_id, visit_date=visit_date)
    completed = visits.filter(status=S.COMPLETED)
    columns = {
        "active_desks": _Scalar(Desk.objects.filter(queues=queue_id, is_active=True), _count()),
        "done": _Scalar(completed, _count()),
        "median_seconds": _Scalar(
            completed,
            Func(Extract(F("completed_at") - F("started_at"), "epoch"), function=Median.function,
                 template=Median.template, output_field=FloatField()),
        ),
    }
    if ahead_id is not None:
        # Row comparison in CALL_ORDER with the visit's row as stored: a range of the waiting-line index.
        before = RawSQL(
            f"({', '.join(Visit.CALL_ORDER)}) < (SELECT {', '.join(Visit.CALL_ORDER)}"
            f" FROM {Visit._meta.db_table} WHERE id = %s)",
            [ahead_id],
            output_field=BooleanField(),
        )
        columns["ahead"] = _Scalar(visits.filter(before, status=S.WAITING), _count())
    return Queue.objects.filter(pk=queue_id).values(**columns)


# Placeholders no real queue, day or visit has (core.compiled).
_PLACEHOLDERS = {"queue_id": -900_001, "visit_date": datetime.date(1901, 2, 3)}
_LINE_STATS = Compiled(_line_stats_query, **_PLACEHOLDERS)
_LINE_STATS_AHEAD = Compiled(_line_stats_query, **_PLACEHOLDERS, ahead_id=-900_002)


def with_positions(visits: Iterable[Visit]) -> list[Visit]:
    """Set `position` and `estimated_wait_minutes` on each visit: numbers for waiting visits, None for the rest.

    The estimate is service minutes (see `service_minutes`) times the visits ahead, divided by the active
    desks serving the queue (at least one), rounded up to whole minutes. One query per queue and day: a lone
    waiting visit (the answer to issuing a token) counts the visits ahead of it; several number the line once more.
    """
    visits = list(visits)
    waiting: dict[tuple[int, datetime.date], list[Visit]] = {}
    for visit in visits:
        if visit.status == S.WAITING:
            waiting.setdefault((visit.queue_id, visit.visit_date), []).append(visit)
    positions, per_visit_minutes = {}, {}
    for (queue_id, visit_date), line_visits in waiting.items():
        lone = line_visits[0] if len(line_visits) == 1 else None
        stats = _line_stats(queue_id, visit_date, ahead_of=lone)
        if lone is not None:
            positions[lone.pk] = stats["ahead"] + 1
        else:
            positions.update(waiting_line(queue_ids=[queue_id], visit_date=visit_date).values_list("pk", "position"))
        minutes = _minutes_per_visit(line_visits[0].queue, stats)
        per_visit_minutes[queue_id, visit_date] = minutes / (stats["active_desks"] or 1)
    for visit in visits:
        visit.position = positions.get(visit.pk)
        visit.estimated_wait_minutes = (
            None
            if visit.position is None
            else math.ceil(per_visit_minutes[visit.queue_id, visit.visit_date] * (visit.position - 1))
        )
    return visits


def board_version(*, queue_ids: Iterable[int], visit_date: datetime.date, sources: list[str] = ()) -> str:
    """A cheap fingerprint of everything a board shows for these queues on `visit_date`: changes whenever a visit
    is issued or changes step (count and latest `updated_at`), or a `sources` call (core.boards). Boards use it as
    their ETag."""
    stats = Visit.objects.filter(queue_id__in=list(queue_ids), visit_date=visit_date).aggregate(
        n=Count("pk"), last=Max("updated_at")
    )
    last = stats["last"].timestamp() if stats["last"] else 0
    return f"{visit_date.isoformat()}-{stats['n']}-{last:.6f}" + boards.version(list(sources), visit_date)


def board(*, queues: list[Queue], visit_date: datetime.date, sources: list[str] = ()) -> dict:
    """What a waiting-room board shows: tokens only, never patient names.

    Calls stay on the board after the desk presses Start or Complete (a patient who looked away still finds the
    token); a no-show, a cancelled, a transferred or a recalled visit leaves it. `sources` names other apps' calls to
    merge in (core.boards, e.g. "opd": the doctors' rooms).

    "Now calling" is only ever the day's newest announcement: when that call left the board (no-show, cancel,
    transfer, recall), `now` is None and the older calls stay in the list of last calls, so the board never shows
    or speaks an older call as if it were new.
    Returns:
        {"called": [{"token", "queue", "desk", "announced_at"}...] newest announcement first (up to BOARD_CALLED),
         "now": the first of "called" when it is the day's newest announcement, else None,
         "queues": [{"code", "name", "waiting": n, "next": [{"token", "position"}...] (up to BOARD_NEXT)}...]}
    """
    queue_ids = [q.pk for q in queues]
    # The newest announcement of any visit today, whatever became of it (a recall keeps its `announced_at`).
    newest = Visit.objects.filter(queue_id__in=queue_ids, visit_date=visit_date).aggregate(
        last=Max("announced_at")
    )["last"]
    called = (
        Visit.objects.filter(
            queue_id__in=queue_ids, visit_date=visit_date, announced_at__isnull=False,
            status__in=[*Visit.AT_DESK_STATUSES, Visit.Status.COMPLETED],
        )
        .select_related("queue", "desk")
        .order_by("-announced_at")[:BOARD_CALLED]
    )
    calls = [{"token": v.token, "queue": v.queue.code, "desk": v.desk.name, "announced_at": v.announced_at}
             for v in called]
    others = boards.calls(list(sources), visit_date)
    newest = max([c["announced_at"] for c in others if c.get("left")] + ([newest] if newest else []), default=None)
    calls = sorted([*calls, *(c for c in others if not c.get("left"))], key=lambda c: c["announced_at"], reverse=True)
    line = list(waiting_line(queue_ids=queue_ids, visit_date=visit_date))
    now = calls[0] if calls and (newest is None or calls[0]["announced_at"] >= newest) else None
    return {
        "called": calls[:BOARD_CALLED],
        "now": now,
        "queues": [
            {
                "code": q.code,
                "name": q.name,
                "waiting": sum(1 for v in line if v.queue_id == q.pk),
                "next": [
                    {"token": v.token, "position": v.position} for v in line if v.queue_id == q.pk
                ][:BOARD_NEXT],
            }
            for q in queues
        ],
    }


def integrity(*, queue: Queue, visit_date: datetime.date) -> dict:
    """Seed 003's `validate_queue_integrity`, for positions and token numbers of `queue` on `visit_date`.

    Returns:
        {"queue": code, "date": ISO date, "waiting": n, "missing_positions": [...], "duplicate_positions": [...],
         "max_position": n, "missing_tokens": [...], "duplicate_tokens": [...], "max_token": n, "ok": bool}
        where missing numbers are those in 1..max absent, duplicates those present more than once.
    """
    positions = list(waiting_line(queue_ids=[queue.pk], visit_date=visit_date).values_list("position", flat=True))
    tokens = list(Visit.objects.filter(queue=queue, visit_date=visit_date).values_list("token_number", flat=True))
    report = {
        "queue": queue.code,
        "date": visit_date.isoformat(),
        "waiting": len(positions),
        **_numbering("position", positions),
        **_numbering("token", tokens),
    }
    report["ok"] = not any(report[f"{kind}_{name}s"] for kind in ("missing", "duplicate") for name in ("position", "token"))
    return report


def _numbering(name: str, values: list[int]) -> dict:
    counts = Counter(values)
    top = max(counts, default=0)
    return {
        f"missing_{name}s": [n for n in range(1, top + 1) if n not in counts],
        f"duplicate_{name}s": sorted(n for n, c in counts.items() if c > 1),
        f"max_{name}": top,
    }


def line_lengths(*, visit_date: datetime.date) -> list[tuple[str, int, datetime.datetime | None]]:
    """Every queue's line on `visit_date` (a day in the hospital's time zone): (code, visits waiting, when the
    longest-waiting of them joined the line (`queued_at`; None when nobody waits)), one query, ordered by code."""
    waiting = Q(visits__visit_date=visit_date, visits__status=S.WAITING)
    return list(
        Queue.objects.annotate(waiting=Count("visits", filter=waiting), oldest=Min("visits__queued_at", filter=waiting))
        .order_by("code")
        .values_list("code", "waiting", "oldest")
    )
