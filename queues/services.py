"""Writes on queues: issue a token, call next, and the explicit steps of a visit (seeds 000 and 003).

Every function here is one transaction. Tokens come from idseq (sequence `visit-token`, scope `<code>-<yyyymmdd>`)
with their ledger row in the same transaction as the visit row, so a failure returns the number. Visits are locked
one row at a time; call-next skips rows another desk holds (`SKIP LOCKED`) so desks never wait on each other. Logs
and board notifications run after commit. No function rewrites other visits: positions are derived (see
`selectors.waiting_line`).
"""

import contextlib
import datetime
import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from idseq.exceptions import IdempotencyConflict
from core.errors import NotFound
from idseq.services import issue
from patients.services import register_patient
from queues import claim, notify, signals
from queues.exceptions import ActionNotAllowed, DeskBusy, NobodyWaiting, OpenVisitExists, QueueInactive
from queues.models import Desk, Queue, Visit

logger = logging.getLogger("tokenline.queues")

S = Visit.Status
# The partial unique indexes (queues/models.py) whose violations services turn into domain errors.
DESK_BUSY_CONSTRAINT = "queues_visit_one_at_desk"
OPEN_VISIT_CONSTRAINT = "queues_visit_one_open_per_patient"
TOKEN_SEQUENCE = "visit-token"  # the idseq sequence of visit tokens (idseq/builtin.py), one scope per queue and day


def token_scope(queue: Queue, visit_date: datetime.date) -> str:
    """The idseq scope of `queue`'s tokens on `visit_date` (a day in the hospital's time zone), e.g. `GEN-20261125`:
    the `visit-token` sequence counts each scope from 1, which is what restarts tokens daily. Ledger ids read
    `VT-GEN-20261125-0017` (the printed token stays `GEN-017`)."""
    return f"{queue.code}-{visit_date:%Y%m%d}"


def issue_visit(
    *,
    patient,
    queue: Queue,
    priority: str = Visit.Priority.MEDIUM,
    issued_by=None,
    idempotency_key: str = "",
    fingerprint: str = "",
) -> Visit:
    """Put `patient` in `queue` today with the queue's next token (1, 2, ... per day; shown `GEN-001`).

    Args:
        patient: a `patients.models.Patient`.
        queue: the queue to join.
        priority: "high", "medium" or "low" (seed 003); high-priority visits are called first.
        issued_by: the user at the desk (a `User`), or None for the system.
        idempotency_key: the client's `Idempotency-Key` (1-255 characters; blank for none), scoped to `issued_by`:
            the same key with the same `fingerprint` (idseq.services.request_fingerprint of the body) returns the
            visit the first request issued, taking no token; with another fingerprint it is IdempotencyConflict.
    Returns:
        the saved visit, status "waiting" (or the earlier visit of a retried key). After commit the seed-000 line
        is logged on `tokenline.queues`:
        `Visit created: Token 1 for patient 001-23-456 in queue General by user asst`.
    Raises:
        ValidationError: for an unknown priority (400), before any number is taken.
        QueueInactive: the queue is closed (409).
        ActionNotAllowed: the patient is inactive (409).
        OpenVisitExists: the patient already holds an open visit in this queue today (409, naming its token);
            the token taken is returned by the rollback.
        idseq.exceptions.IdempotencyConflict: the key was used by this user for a different request (422).
    """
    if len(idempotency_key) > 255:
        raise ValidationError("An Idempotency-Key has 1 to 255 characters.")
    _check_can_join(patient, queue, priority)
    try:
        with _open_visit_clash_as_domain_error(patient, queue), transaction.atomic():
            return _new_visit(patient=patient, queue=queue, priority=priority, issued_by=issued_by,
                              idempotency_key=idempotency_key, request_hash=fingerprint)
    except _Replayed as replay:  # the rollback returned the token taken
        return replay.visit


def register_and_issue(*, registration: dict, queue: Queue, priority: str = Visit.Priority.MEDIUM,
                       issued_by=None) -> Visit:
    """The desk's one step for a new walk-in patient: register them and give them a token in `queue`, in one
    transaction, so the MRN and the token commit together or neither number is taken.

    Args:
        registration: the keyword arguments of `patients.services.register_patient` but `created_by` (the
            demographics, as `patients.forms.PatientForm.registration()` gives them).
        queue, priority, issued_by: as `issue_visit` (the user registers and issues).
    Returns:
        the saved visit, status "waiting"; `visit.patient` is the new patient with their MRN.
    Raises:
        ValidationError, QueueInactive: an unknown priority or a closed queue, before any number is taken.
        whatever `register_patient` or `issue_visit` raises (DuplicatePatient, MrnTaken, ...); the transaction
        rolls back, so neither the MRN nor the token is used up.
    """
    _check_queue_takes(queue, priority)
    with transaction.atomic():
        patient = register_patient(**registration, created_by=issued_by)
        return issue_visit(patient=patient, queue=queue, priority=priority, issued_by=issued_by)


class _Replayed(Exception):
    """Raised under the counter lock when the Idempotency-Key already issued a visit, to roll the token back."""

    def __init__(self, visit: Visit):
        self.visit = visit


def _check_replay(issued_by, idempotency_key: str, request_hash: str) -> None:
    """Raise _Replayed with the visit `issued_by` issued with `idempotency_key`, if any, or IdempotencyConflict when
    that visit's request differed. Called holding the queue's counter lock, so a copy sent at the same time has
    committed by now and is seen (a copy for another queue is stopped by the key's unique index)."""
    if not idempotency_key:
        return
    earlier = Visit.objects.filter(issued_by=issued_by, idempotency_key=idempotency_key).first()
    if earlier is None:
        return
    if earlier.request_hash != request_hash:
        raise IdempotencyConflict(
            f"Idempotency-Key {idempotency_key!r} was already used with a different request; send a new key."
        )
    raise _Replayed(earlier)


def call_next(*, desk: Desk, called_by=None) -> Visit:
    """Call the first waiting visit of the desk's queues today (priority, then place in line) to this desk.

    The desk row is locked first, so two clicks at one desk run one after the other; the visit is taken with
    `SELECT ... FOR UPDATE SKIP LOCKED`, so two desks calling at once get different visits without waiting on each
    other. Nothing is completed automatically (seed 003).
    Args:
        desk: the desk calling; only its pk is read (the row is read again under its lock), so the API passes
            `Desk(pk=...)` without loading it first.
    Returns:
        the visit, now "called", with `desk` set.
    Raises:
        NotFound: no desk with that pk (404).
        ActionNotAllowed: the desk is inactive (409).
        DeskBusy: the desk still has a visit called or in consultation: complete it or mark it no-show first (409).
        NobodyWaiting: no visit is waiting in the desk's queues today (409).
    """
    try:
        with transaction.atomic():
            visit = _call_next(desk, called_by)
    except IntegrityError as exc:
        # The desk already has a patient: the partial unique index on visits at a desk (queues_visit_one_at_desk)
        # refused the second. Checked by the index rather than a query on every call; named after the rollback.
        if _violated_constraint(exc) != DESK_BUSY_CONSTRAINT:
            raise
        desk = Desk.objects.get(pk=desk.pk)
        raise _desk_busy(desk) or DeskBusy(_("Desk %(desk)s already has a patient.") % {"desk": desk.name}) from None
    return visit


def _call_next(desk: Desk, called_by) -> Visit:
    # Two statements (queues/claim.py): the desk row locked with its queue ids, then the next waiting visit taken
    # and marked called, walking the waiting-line index in call order (LIMIT 1, SKIP LOCKED).
    locked = claim.lock_desk(desk.pk)
    if locked is None:
        raise NotFound(f"Desk {desk.pk} does not exist.")
    if not locked.is_active:
        raise ActionNotAllowed(_("Desk %(desk)s is inactive.") % {"desk": locked.name})
    visit = claim.claim_next(locked, called_by, timezone.localdate(), timezone.now())
    if visit is None:
        busy = _desk_busy(locked)
        raise busy or NobodyWaiting(_("Nobody is waiting for desk %(desk)s today.") % {"desk": locked.name})
    signals.visit_called(visit)  # the outbox row (SMS, webhook) commits with the call
    _announce(visit.queue_id)
    return visit


def _desk_busy(desk: Desk) -> DeskBusy | None:
    """The error for a desk that still has a visit called or in consultation, or None when it has none."""
    current = Visit.objects.select_related("queue").filter(desk=desk, status__in=Visit.AT_DESK_STATUSES).first()
    if current is None:
        return None
    return DeskBusy(
        _("Desk %(desk)s still has %(token)s (%(status)s): complete it or mark it no-show first.")
        % {"desk": desk.name, "token": current.token, "status": current.get_status_display().lower()}
    )


def call_again(*, visit: Visit, called_by=None) -> Visit:
    """Announce a called visit again (the patient has not come yet): the board shows it as the latest call,
    flashes, chimes and speaks it. Only `announced_at` changes; the first call's time and caller stay.

    `called_by` is who pressed the button (not stored). The patient's "called again" notification (SMS, webhook)
    is written in the same transaction. Raises ActionNotAllowed (409) unless the visit is called.
    """
    with transaction.atomic():
        visit = _step(visit, "call again", (S.CALLED,), announced_at=timezone.now())
        signals.visit_called(visit, again=True)
    return visit


def start_visit(*, visit: Visit, started_by=None) -> Visit:
    """The called patient came to the desk: called -> in_consultation. Raises ActionNotAllowed (409) otherwise."""
    return _step(visit, "start", (S.CALLED,), status=S.IN_CONSULTATION, started_at=timezone.now(), started_by=started_by)


def complete_visit(*, visit: Visit, completed_by=None) -> Visit:
    """Close a consultation, explicitly (seed 003: never automatically): in_consultation -> completed.
    Its duration (started_at to completed_at) feeds the queue's wait estimates. Raises ActionNotAllowed (409)."""
    return _step(
        visit, "complete", (S.IN_CONSULTATION,),
        status=S.COMPLETED, completed_at=timezone.now(), completed_by=completed_by,
    )


def mark_no_show(*, visit: Visit, marked_by=None) -> Visit:
    """The called patient did not come: called -> no_show, freeing the desk. The visit stays open (it can be
    recalled). Raises ActionNotAllowed (409) for any other status."""
    return _step(visit, "mark no-show", (S.CALLED,), status=S.NO_SHOW, no_show_at=timezone.now(), no_show_by=marked_by)


def recall_visit(*, visit: Visit, recalled_by=None) -> Visit:
    """A no-show came back: no_show -> waiting with the same token, placed after the visits already waiting of the
    same priority (its place in line is now). The earlier call is cleared (`no_show_at` keeps that it happened);
    `announced_at` stays, so the board knows its newest announcement was not an older call's.
    Raises ActionNotAllowed (409) for another status or a visit of another day."""
    if visit.visit_date != timezone.localdate():
        raise ActionNotAllowed(f"Cannot recall visit {visit.token}: it belongs to {visit.visit_date}, not today.")
    now = timezone.now()
    return _step(
        visit, "recall", (S.NO_SHOW,),
        status=S.WAITING, queued_at=now, recalled_at=now, recalled_by=recalled_by,
        called_at=None, called_by=None, desk=None,
    )


def cancel_visit(*, visit: Visit, cancelled_by=None) -> Visit:
    """Take the visit out of the line for good: waiting, called or no_show -> cancelled. The token is not reused.
    Raises ActionNotAllowed (409) for any other status."""
    return _step(
        visit, "cancel", (S.WAITING, S.CALLED, S.NO_SHOW),
        status=S.CANCELLED, cancelled_at=timezone.now(), cancelled_by=cancelled_by,
    )


def transfer_visit(*, visit: Visit, to_queue: Queue, transferred_by=None) -> Visit:
    """Send the patient to another queue: a new visit there with that queue's next token (same priority, linked by
    `transferred_from`), and the original closed as transferred, in one transaction.

    Allowed from waiting, called and in_consultation.
    Returns:
        the new visit, "waiting" in `to_queue`.
    Raises:
        ActionNotAllowed: wrong status, same queue, or inactive patient (409).
        QueueInactive: `to_queue` is closed (409).
        OpenVisitExists: the patient already holds an open visit in `to_queue` today (409).
    Nothing is written when it raises.
    """
    if to_queue.pk == visit.queue_id:
        raise ActionNotAllowed(
            _("Visit %(token)s is already in %(queue)s.") % {"token": visit.token, "queue": to_queue.name}
        )
    _check_can_join(visit.patient, to_queue, visit.priority)
    with _open_visit_clash_as_domain_error(visit.patient, to_queue), transaction.atomic():
        original = _step(
            visit, "transfer", (S.WAITING, S.CALLED, S.IN_CONSULTATION),
            status=S.TRANSFERRED, transferred_at=timezone.now(), transferred_by=transferred_by,
        )
        return _new_visit(
            patient=original.patient, queue=to_queue, priority=original.priority,
            issued_by=transferred_by, transferred_from=original,
        )


def _check_can_join(patient, queue: Queue, priority: str) -> None:
    """Checks that need no lock, run before a number is taken."""
    _check_queue_takes(queue, priority)
    if not patient.is_active:
        raise ActionNotAllowed(_("Patient %(mrn)s is inactive.") % {"mrn": patient.mrn})


def _check_queue_takes(queue: Queue, priority: str) -> None:
    """The queue is open and the priority one it knows; raises ValidationError or QueueInactive otherwise."""
    if priority not in Visit.Priority.values:
        raise ValidationError({"priority": [f"Choose one of {', '.join(Visit.Priority.values)}."]})
    if not queue.is_active:
        raise QueueInactive(_("Queue %(queue)s is inactive: it issues no tokens.") % {"queue": queue.name})


def _new_visit(
    *,
    patient,
    queue: Queue,
    priority: str,
    issued_by,
    transferred_from: Visit | None = None,
    idempotency_key: str = "",
    request_hash: str = "",
) -> Visit:
    """Inside the caller's transaction: take the queue's next token for today and insert the visit.

    From the counter's UPDATE to the commit the queue's counter row is locked, so only the writes that must commit
    with the number run in between (the visit's INSERT, the replay check of a retried key); the visit is built
    before the number is taken and the log line and board push run after the commit."""
    visit_date = timezone.localdate()
    visit = Visit(
        patient=patient,
        queue=queue,
        visit_date=visit_date,
        priority=priority,
        issued_by=issued_by,
        transferred_from=transferred_from,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )
    (number,) = issue(
        TOKEN_SEQUENCE, scope=token_scope(queue, visit_date), purpose="visit token", issued_by=issued_by
    ).values
    _check_replay(issued_by, idempotency_key, request_hash)
    # One open visit per patient, queue and day: the partial unique index queues_visit_one_open_per_patient refuses
    # a second (see _open_visit_clash_as_domain_error), so the hot path needs no query to check it.
    visit.token_number = number
    visit.queued_at = timezone.now()  # after the counter lock, so queued_at follows token order
    visit.save(force_insert=True)
    username = issued_by.get_username() if issued_by is not None else "system"
    transaction.on_commit(
        lambda: logger.info(
            "Visit created: Token %s for patient %s in queue %s by user %s", number, patient.mrn, queue.name, username
        )
    )
    _announce(queue.pk)
    return visit


@contextlib.contextmanager
def _open_visit_clash_as_domain_error(patient, queue: Queue):
    """Around the `transaction.atomic()` that inserts a visit: a violation of the one-open-visit index becomes
    OpenVisitExists naming the patient's open token, read after the rollback (which returned the token taken)."""
    try:
        yield
    except IntegrityError as exc:
        if _violated_constraint(exc) != OPEN_VISIT_CONSTRAINT:
            raise
        existing = Visit.objects.select_related("queue").filter(
            patient=patient, queue=queue, visit_date=timezone.localdate(), status__in=Visit.OPEN_STATUSES
        ).first()
        if existing is None:
            message = _("Patient %(mrn)s already holds an open visit in %(queue)s today.")
        else:
            message = _("Patient %(mrn)s already holds token %(token)s (%(status)s) in %(queue)s today.")
        raise OpenVisitExists(message % {
            "mrn": patient.mrn, "queue": queue.name, "token": existing and existing.token,
            "status": existing and existing.get_status_display().lower(),
        }) from None


def _violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint or unique index an IntegrityError violated (PostgreSQL's diagnostics)."""
    diag = getattr(exc.__cause__, "diag", None)
    return diag and diag.constraint_name


# Why a step was refused, one whole sentence per step so a translation never splices words into another language's
# sentence; %(status)s and %(allowed)s are status labels in the page's language.
STEP_REFUSED = {
    "call again": gettext_lazy("Visit %(token)s cannot be called again: it is %(status)s (allowed when: %(allowed)s)."),
    "start": gettext_lazy("Visit %(token)s cannot be started: it is %(status)s (allowed when: %(allowed)s)."),
    "complete": gettext_lazy("Visit %(token)s cannot be completed: it is %(status)s (allowed when: %(allowed)s)."),
    "mark no-show": gettext_lazy(
        "Visit %(token)s cannot be marked no-show: it is %(status)s (allowed when: %(allowed)s)."
    ),
    "recall": gettext_lazy("Visit %(token)s cannot be recalled: it is %(status)s (allowed when: %(allowed)s)."),
    "cancel": gettext_lazy("Visit %(token)s cannot be cancelled: it is %(status)s (allowed when: %(allowed)s)."),
    "transfer": gettext_lazy("Visit %(token)s cannot be transferred: it is %(status)s (allowed when: %(allowed)s)."),
}


def _step(visit: Visit, action: str, allowed: tuple[str, ...], **changes) -> Visit:
    """Lock `visit`, check its status is in `allowed`, apply `changes` and save; announce after commit.

    Raises ActionNotAllowed naming the current status when the action does not apply.
    """
    with transaction.atomic():
        locked = Visit.objects.select_for_update(of=("self",)).select_related("queue", "patient").get(pk=visit.pk)
        if locked.status not in allowed:
            labels = ", ".join(str(S(status).label).lower() for status in allowed)
            raise ActionNotAllowed(
                STEP_REFUSED[action] % {
                    "token": locked.token, "status": locked.get_status_display().lower(), "allowed": labels,
                }
            )
        for field, value in changes.items():
            setattr(locked, field, value)
        locked.save()
        _announce(locked.queue_id)
    return locked


def _announce(queue_id: int) -> None:
    """After commit, tell the board notifiers (off this thread; see `queues.notify`)."""
    transaction.on_commit(lambda: notify.board_changed([queue_id]))



def token_scopes_on(since: datetime.date, until: datetime.date, **_) -> list[tuple[str, str]]:
    """idseq's `restore_scopes` receiver: the visit-token scope of every queue on each day `since`..`until` (days in
    TIME_ZONE), so a restore moves past the tokens of a queue whose first token of a day came after the backup."""
    days = [since + datetime.timedelta(days=n) for n in range((until - since).days + 1)]
    return [(TOKEN_SEQUENCE, token_scope(queue, day)) for queue in Queue.objects.all() for day in days]
