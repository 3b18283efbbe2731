"""Which reminders are due now, and writing them (through tokens.signals and core.signals, so in the outbox).

An OPD token is reminded twice: the evening before its slot's day, once the local time (TIME_ZONE) reaches
REMINDER_EVENING_AT, and REMINDER_BEFORE_MINUTES before its slot starts (its delay included). Each reminder is due
only for a token booked before that moment (a patient who booked at 19:00 for tomorrow needs no evening reminder),
still confirmed and not yet called, in a slot not cancelled, and only until the slot's day begins (evening) or the
slot starts (shortly before): a scheduler that was down does not send stale reminders.

A walk-in visit is told once when exactly REMINDER_VISIT_AHEAD visits wait before it in its queue's line today.

Every notice carries a key (core.signals.notice_key); the outbox writes one row per key and adapter, so running the
scheduler twice, or two at once, sends each reminder once. A run passes over the notices already in the outbox, so
a scheduler running every minute all evening writes (and wakes the worker for) only what is new.
"""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import signals
from notifications.selectors import written_keys
from queues import selectors as queue_selectors
from queues.models import Visit
from tokens import signals as token_signals
from tokens.models import Slot, Token
from tokens.selectors import day_bounds
from tokens.services import MAX_DELAY_MINUTES


def send_due(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Write every reminder due at `now` (an aware datetime, default the present) in one transaction.

    Returns how many notices were sent per kind, e.g. `{"reminder_evening": 12, "reminder_soon": 3,
    "visit_ahead": 1}`: those due and not in the outbox yet (a scheduler running at the same moment may have
    written some meanwhile; those are not written twice). The rows' delivery task is enqueued after commit by the
    outbox.
    """
    now = now or timezone.now()
    counts = {}
    with transaction.atomic():
        for kind, tokens in ((signals.REMINDER_EVENING, due_evening(now)), (signals.REMINDER_SOON, due_soon(now))):
            tokens = _unsent(tokens, lambda token: token_signals.token_key(token, kind))
            for token in tokens:
                token_signals.reminder(token, kind)
            counts[kind] = len(tokens)
        counts[signals.VISIT_AHEAD] = tell_visits_ahead(queue_ids=None, now=now)
    return counts


def _unsent(rows: list, key) -> list:
    """`rows` whose notice (`key(row)`) is not in the outbox yet."""
    written = written_keys(key(row) for row in rows)
    return [row for row in rows if key(row) not in written]


def _remindable(tokens):
    return (
        tokens.filter(status=Token.Status.CONFIRMED, called_at__isnull=True)
        .exclude(slot__status=Slot.Status.CANCELLED)
        .select_related("patient", "doctor", "slot")
        .order_by("slot__start_time", "token_number")
    )


def evening_moment(day: datetime.date) -> datetime.datetime:
    """When the evening reminders for the slots of the day after `day` are due: `day` at REMINDER_EVENING_AT,
    hospital time."""
    hour, minute = map(int, settings.REMINDER_EVENING_AT.split(":"))
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def due_evening(now: datetime.datetime) -> list[Token]:
    """Tokens of tomorrow's slots (hospital day) to remind this evening: none before REMINDER_EVENING_AT."""
    today = timezone.localdate(now)
    due = evening_moment(today)
    if now < due:
        return []
    start, end = day_bounds(today + datetime.timedelta(days=1))
    return list(_remindable(Token.objects.filter(slot__start_time__gte=start, slot__start_time__lt=end,
                                                 created_at__lte=due)))


def due_soon(now: datetime.datetime) -> list[Token]:
    """Tokens whose slot starts (delay included) within REMINDER_BEFORE_MINUTES after `now` and has not started,
    booked before the reminder's moment."""
    lead = datetime.timedelta(minutes=settings.REMINDER_BEFORE_MINUTES)
    longest_delay = datetime.timedelta(minutes=MAX_DELAY_MINUTES)  # a bound on start_time, for the index
    candidates = _remindable(Token.objects.filter(slot__start_time__gt=now - longest_delay,
                                                  slot__start_time__lte=now + lead))
    due = []
    for token in candidates:
        starts = token.slot.start_time + datetime.timedelta(minutes=token.slot.delay_minutes)
        if starts - lead <= now < starts and token.created_at <= starts - lead:
            due.append(token)
    return due


def tell_visits_ahead(*, queue_ids=None, now: datetime.datetime | None = None) -> int:
    """Tell each waiting visit of today that has exactly REMINDER_VISIT_AHEAD visits before it in its line (of the
    queues `queue_ids`, every queue for None), unless told before. Returns how many were told now."""
    day = timezone.localdate(now or timezone.now())
    if queue_ids is None:
        queue_ids = Visit.objects.filter(visit_date=day, status=Visit.Status.WAITING).values_list(
            "queue_id", flat=True).distinct()
    ahead = settings.REMINDER_VISIT_AHEAD
    visits = _unsent(
        list(queue_selectors.waiting_line(queue_ids=queue_ids, visit_date=day).filter(position=ahead + 1)
             .select_related("patient")),
        _visit_key,
    )
    with transaction.atomic():
        for visit in visits:
            signals.notify_patient(
                sender=Visit, patient=visit.patient, kind=signals.VISIT_AHEAD, number=visit.token,
                room=visit.queue.name, extra={"ahead": ahead}, key=_visit_key(visit),
            )
    return len(visits)


def _visit_key(visit: Visit) -> str:
    return signals.notice_key("visit", visit.pk, signals.VISIT_AHEAD)


def line_moved(queue_ids: list[int]) -> None:
    """A QUEUE_BOARD_NOTIFIERS hook (queues/notify.py runs it after commit, off the request thread): tell the visits
    that just reached their place in these queues at once rather than at the scheduler's next run."""
    tell_visits_ahead(queue_ids=queue_ids)
