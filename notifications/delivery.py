"""The worker's side of the outbox: deliver due rows, at most once each, with retries and backoff.

`deliver_due` is a django-tasks task (queue `notifications`, stored in PostgreSQL by django-tasks-db, run by
`manage.py db_worker --queue-name notifications`). Every commit that wrote rows enqueues it once; a failed attempt
enqueues it again for when the row is next due. Each run delivers every due row, so a task that was lost (a worker
killed mid-run) is made up for by the next one, and any number of workers share the rows.

At most once per row: a row is claimed (pending -> sending, attempts + 1) and that claim committed *before* the
request goes out, under `SELECT ... FOR UPDATE SKIP LOCKED` so two workers never claim the same row. Only the
worker that claimed a row moves it on from `sending`. A worker that dies between claim and result leaves the row
`sending`: whether the receiver got it is unknown, so nothing sends it again by itself (the admin can).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from core import signals
from notifications import adapters
from notifications.models import Notification

logger = logging.getLogger("tokenline.notifications")

State = Notification.State
MAX_BACKOFF = timedelta(hours=1)


@task(queue_name="notifications")
def deliver_due() -> int:
    """Deliver every due pending row, one at a time, until none is left. Returns how many were attempted."""
    attempted = 0
    while (notification := claim_next()) is not None:
        attempt(notification)
        attempted += 1
    return attempted


def enqueue(run_after=None) -> None:
    """Have a worker run `deliver_due` (at `run_after`, an aware datetime, or as soon as possible)."""
    (deliver_due.using(run_after=run_after) if run_after else deliver_due).enqueue()


def claim_next() -> Notification | None:
    """Claim the pending row due first that no other worker holds; commit the claim. None when nothing is due."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .select_related("patient")
            .filter(state=State.PENDING, next_attempt_at__lte=timezone.now())
            .order_by("next_attempt_at", "pk")
            .first()
        )
        if notification is None:
            return None
        notification.state, notification.claimed_at = State.SENDING, timezone.now()
        notification.attempts += 1
        notification.save(update_fields=["state", "claimed_at", "attempts"])
    return notification


def attempt(notification: Notification) -> None:
    """Send a claimed row through its adapter and record the outcome: delivered; pending again after the backoff
    (and a task enqueued for then); or failed, when the adapter says so or NOTIFY_MAX_ATTEMPTS are used up. A keyed
    row whose event no longer holds (`still_wanted`) is skipped: never sent."""
    if not still_wanted(notification):
        Notification.objects.filter(pk=notification.pk, state=State.SENDING).update(
            state=State.SKIPPED, last_error="Not sent: what it announced no longer holds (e.g. the token was cancelled)."
        )
        return
    try:
        outcome = adapters.ADAPTERS[notification.adapter].send(notification)
    except Exception as exc:  # a bug or a bad setting (a template, a URL): recorded, the other rows go on
        logger.exception("Notification %s: adapter %s failed", notification.pk, notification.adapter)
        # The class only: the message may quote the gateway's URL, credentials and all.
        outcome = adapters.Outcome(delivered=False, error=f"{exc.__class__.__name__} (see the worker's log)")
    now = timezone.now()
    if outcome.delivered:
        changes = {"state": State.DELIVERED, "delivered_at": now, "last_error": ""}
    elif outcome.retry and notification.attempts < settings.NOTIFY_MAX_ATTEMPTS:
        changes = {"state": State.PENDING, "next_attempt_at": now + backoff(notification.attempts),
                   "last_error": outcome.error}
    else:
        changes = {"state": State.FAILED, "last_error": outcome.error}
        logger.warning("Notification %s to %s failed after %s attempts: %s", notification.pk, notification.adapter,
                       notification.attempts, outcome.error)
    Notification.objects.filter(pk=notification.pk, state=State.SENDING).update(**changes)
    if changes["state"] == State.PENDING:
        enqueue(run_after=changes["next_attempt_at"])


def still_wanted(notification: Notification) -> bool:
    """False when a receiver of core.signals.notice_still_wanted says the keyed row's event no longer holds; True
    for rows without a key, and when no receiver objects. A receiver that fails is logged and counts as no."""
    if not notification.key:
        return True
    answers = signals.notice_still_wanted.send_robust(sender=Notification, kind=notification.kind, key=notification.key)
    for receiver, answer in answers:
        if isinstance(answer, Exception):
            logger.error("Notification %s: %r could not say whether it is still wanted: %r", notification.pk,
                         receiver, answer)
    return all(answer is not False and not isinstance(answer, Exception) for _, answer in answers)


def backoff(attempts: int) -> timedelta:
    """The wait before the next attempt after `attempts` failed ones: NOTIFY_RETRY_SECONDS, doubled each time, at
    most an hour (30 s, 1 min, 2 min, 4 min ... with the default)."""
    return min(timedelta(seconds=settings.NOTIFY_RETRY_SECONDS * 2 ** (attempts - 1)), MAX_BACKOFF)


def send_again(notifications) -> int:
    """An operator's decision (admin action): make failed rows, and rows left `sending` by a dead worker, pending
    now. A row counts as left behind when its attempt started longer ago than any live attempt can last (twice
    the timeout, at least a minute). Returns how many were reset; a task is enqueued after commit to deliver them."""
    now = timezone.now()
    left_behind = now - max(timedelta(minutes=1), 2 * timedelta(seconds=settings.NOTIFY_TIMEOUT_SECONDS))
    with transaction.atomic():
        count = notifications.filter(
            Q(state=State.FAILED) | Q(state=State.SENDING, claimed_at__lt=left_behind)
        ).update(state=State.PENDING, next_attempt_at=now)
        transaction.on_commit(enqueue, robust=True)
    return count
