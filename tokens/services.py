"""Writes on OPD tokens (seed 002). The API, the booking page, the admin and commands all call these.

Locking: every change to a slot's places happens under that slot's row lock (`SELECT ... FOR UPDATE`), taken
first; the token number is then issued by idseq (sequence `slot-token`, scope the slot's id, with its ledger row)
and saved with the token in the same transaction. Several slots are locked in primary-key order. Token numbers
never change; nothing is renumbered.
"""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.db.models.functions import Coalesce, Greatest
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _

from core.busy import bounded_lock_wait
from core.errors import DomainError, NotFound
from idseq.services import issue
from patients.models import Patient
from tokens import selectors, signals
from tokens.models import BASE_PRIORITY, Category, Doctor, Slot, Token, WaitingListEntry

MAX_DELAY_MINUTES = 720  # seed 002: a delay of more than 12 hours is refused
TOKEN_SEQUENCE = "slot-token"  # the idseq sequence of OPD tokens (idseq/builtin.py), one scope per slot


class DoubleBooking(DomainError):
    """The patient already holds a confirmed token with this doctor that day."""

    def __init__(self, existing: Token):
        self.existing = existing
        patient = existing.patient
        super().__init__(  # plain words for the desk: names and a written date, no ids
            _("%(name)s (%(mrn)s) already holds token %(number)s with %(doctor)s on %(day)s.") % {
                "name": patient.full_name, "mrn": patient.mrn, "number": existing.token_number,
                "doctor": existing.doctor, "day": dateformat.format(existing.day, "j M Y"),
            }
        )


class SlotFull(DomainError):
    """The slot has no free place and the desk did not agree to the waiting list (`book_token(waitlist=False)`)."""

    def __init__(self, slot: Slot, waiting: int):
        self.slot, self.waiting = slot, waiting
        super().__init__(
            _("%(slot)s is full (%(waiting)s already waiting). Put the patient on its waiting list?")
            % {"slot": slot, "waiting": waiting}
        )


def token_scope(slot: Slot) -> str:
    """The idseq scope that numbers the tokens of `slot` (1, 2, 3 ...): its id. Ledger ids read
    `SLOT-<slot id>-0017`."""
    return str(slot.pk)


def create_doctor(*, name: str, specialization: str = "") -> Doctor:
    """Add a doctor. Raises ValidationError (400) for a blank name."""
    doctor = Doctor(name=name.strip(), specialization=specialization.strip())
    doctor.full_clean()
    doctor.save()
    return doctor


def update_doctor(doctor: Doctor, *, name: str, specialization: str = "") -> Doctor:
    """Change a doctor's name and specialization. Raises ValidationError (400) for a blank name."""
    doctor.name, doctor.specialization = name.strip(), specialization.strip()
    doctor.full_clean()
    doctor.save(update_fields=["name", "specialization"])
    return doctor


def delete_doctor(doctor: Doctor) -> None:
    """Remove a doctor who has no slots. Raises DomainError (409) otherwise: their tokens' history stays."""
    try:
        doctor.delete()
    except ProtectedError:
        raise DomainError(
            _("%(doctor)s has slots; a doctor with slots cannot be deleted.") % {"doctor": doctor}
        ) from None


# How far from today slots may lie: (back, ahead).
SLOT_WINDOW = (datetime.timedelta(days=365), datetime.timedelta(days=730))


def create_slot(
    *, doctor: Doctor, start_time: datetime.datetime, end_time: datetime.datetime, max_capacity: int
) -> Slot:
    """Open a slot of `doctor` from `start_time` to `end_time` (aware datetimes) for `max_capacity` patients.

    Raises:
        ValidationError (400): end not after start, capacity below 1, or a time outside SLOT_WINDOW (a year back to
            two years ahead of today: a slot in 1970 or 2999 is a typing error, not a plan).
        DomainError (409): the slot overlaps another live slot of the same doctor (exclusion constraint).
    """
    today = timezone.localdate()
    earliest, latest = today - SLOT_WINDOW[0], today + SLOT_WINDOW[1]
    # Compared as instants: converting 9999-12-31T23:00Z to the local day would overflow.
    bounds = [timezone.make_aware(datetime.datetime.combine(day, datetime.time.min)) for day in (earliest, latest)]
    for name, moment in (("start_time", start_time), ("end_time", end_time)):
        if not bounds[0] <= moment < bounds[1] + datetime.timedelta(days=1):
            raise ValidationError({name: [_("A slot lies between %(earliest)s and %(latest)s.") % {
                "earliest": earliest.isoformat(), "latest": latest.isoformat()}]})
    if end_time <= start_time:
        raise ValidationError({"end_time": [_("The slot must end after it starts.")]})
    if max_capacity < 1:
        raise ValidationError({"max_capacity": [_("A slot must seat at least one patient.")]})
    slot = Slot(doctor=doctor, start_time=start_time, end_time=end_time, max_capacity=max_capacity)
    try:
        with transaction.atomic():
            slot.save(force_insert=True)
    except IntegrityError as exc:
        if _constraint(exc) != "tokens_slot_no_overlap_per_doctor":
            raise
        clash = (
            Slot.objects.filter(doctor=doctor, start_time__lt=end_time, end_time__gt=start_time)
            .exclude(status=Slot.Status.CANCELLED)
            .first()
        )
        raise DomainError(
            _("The slot overlaps %(slot)s (id %(id)s).") % {"slot": clash, "id": clash.pk if clash else "?"}
        ) from None
    return slot


def delay_slot(*, slot_id, delay_minutes: int) -> list[Slot]:
    """Mark a slot as running `delay_minutes` late and cascade the delay over the doctor's later slots that day.

    Each later slot is pushed back by whatever of the previous slot's delay the gap between them does not absorb.
    A cascade never pulls a later slot earlier than a delay it already has (that may have been
    reported for it on its own); the named slot takes exactly `delay_minutes` (0 makes it ACTIVE again).
    Tokens' estimated times follow, being derived on read.

    Args:
        slot_id: the slot's UUID.
        delay_minutes: 0 to 720.
    Returns:
        the slots whose delay changed, named slot first.
    Raises:
        ValidationError (400): delay negative or above 720.
        NotFound (404): no such slot. DomainError (409): the slot is cancelled.
    """
    if not 0 <= delay_minutes <= MAX_DELAY_MINUTES:
        raise ValidationError({"delay_minutes": [_("Enter a delay from 0 to %(most)s minutes.") % {"most": MAX_DELAY_MINUTES}]})
    with transaction.atomic():
        slot = get_or_not_found(Slot, slot_id)
        start, end = selectors.day_bounds(slot.day)
        day = list(
            Slot.objects.select_for_update()
            .filter(doctor_id=slot.doctor_id, start_time__gte=start, start_time__lt=end)
            .exclude(status=Slot.Status.CANCELLED)
            .order_by("pk")
        )
        day.sort(key=lambda s: s.start_time)
        index = next((i for i, s in enumerate(day) if s.pk == slot.pk), None)
        if index is None:
            raise DomainError(_("Slot %(slot)s is cancelled; it cannot be delayed.") % {"slot": slot})
        changed = [_set_delay(day[index], delay_minutes)]
        for previous, later in zip(day[index:], day[index + 1 :]):
            gap = (later.start_time - previous.end_time) // datetime.timedelta(minutes=1)
            pushed = previous.delay_minutes - gap  # at most the previous delay, so never past 720
            if pushed <= later.delay_minutes:
                break
            changed.append(_set_delay(later, pushed))
        for each in changed:
            each.save(update_fields=["delay_minutes", "status"])
            signals.slot_delayed(each)
    return changed


def _set_delay(slot: Slot, minutes: int) -> Slot:
    slot.delay_minutes = minutes
    slot.status = Slot.Status.DELAYED if minutes else Slot.Status.ACTIVE
    return slot


def cancel_slot(*, slot_id) -> Slot:
    """Cancel a slot: its confirmed tokens are cancelled (numbers kept, never reissued) and their patients told
    (tokens.signals.slot_cancelled), its waiting list cleared and its time freed for another slot. Raises NotFound (404), or DomainError (409) if already cancelled."""
    with transaction.atomic():
        slot = _lock_slot(slot_id)
        if slot.status == Slot.Status.CANCELLED:
            raise DomainError(_("Slot %(slot)s is already cancelled.") % {"slot": slot})
        confirmed = list(slot.tokens.filter(status=Token.Status.CONFIRMED).select_related("patient", "doctor"))
        slot.tokens.filter(pk__in=[token.pk for token in confirmed]).update(
            status=Token.Status.CANCELLED, updated_at=timezone.now()
        )
        slot.waiting_entries.all().delete()
        slot.current_capacity = slot.tokens.filter(status=Token.Status.COMPLETED).count()
        slot.emergency_overflow = max(slot.current_capacity - slot.max_capacity, 0)
        slot.status = Slot.Status.CANCELLED
        slot.save(update_fields=["current_capacity", "emergency_overflow", "status"])
        signals.slot_cancelled(slot, confirmed)  # each patient's message commits with the cancellation
    return slot


def book_token(
    *, slot_id, patient: Patient, category: str, booked_by=None, waitlist: bool = True
) -> Token | WaitingListEntry:
    """Book `patient` into a slot: a token if a place is free, else an entry on the slot's waiting list.

    Emergencies always get a token, above capacity if need be (counted in `emergency_overflow`), and are ordered
    first.

    Args:
        slot_id: the slot's UUID. patient: an active patient. category: one of `Category`.
        booked_by: the user booking (kept on the token or waiting entry for the audit), None for the system.
        waitlist: False to refuse (SlotFull) rather than put the patient on a full slot's waiting list; the booking
            page asks the clerk first.
    Returns:
        the new Token (number = the slot's next, from idseq), or the new WaitingListEntry when the slot is full.
    Raises:
        ValidationError (400): unknown category.
        NotFound (404): no such slot.
        DoubleBooking (409): the patient holds a confirmed token with this doctor that day.
        DomainError (409): slot cancelled or over, patient deactivated, or the slot is full and the patient is
            already on its waiting list (with a free place, such a patient gets the token and leaves the list).
    """
    if category not in Category.values:
        raise ValidationError({"category": [_("Choose one of %(choices)s.") % {"choices": ", ".join(Category.values)}]})
    if not patient.is_active:
        raise DomainError(_("Patient %(mrn)s is deactivated.") % {"mrn": patient.mrn})
    try:
        with transaction.atomic():
            slot = _lock_slot(slot_id)
            _check_bookable(slot)
            existing = _confirmed_token_with_doctor(patient, slot)
            if existing:
                raise DoubleBooking(existing)
            waiting = slot.waiting_entries.filter(patient=patient).first()
            if category == Category.EMERGENCY or slot.free_places:
                if waiting:  # left waiting while they held a token with the doctor elsewhere; seated now
                    waiting.delete()
                return _issue_token(slot, patient=patient, category=category, booked_by=booked_by)
            if waiting:
                raise DomainError(
                    _("Patient %(mrn)s is already on the waiting list of %(slot)s.") % {"mrn": patient.mrn, "slot": slot}
                )
            if not waitlist:
                raise SlotFull(slot, slot.waiting_entries.count())
            return WaitingListEntry.objects.create(
                slot=slot, patient=patient, category=category, priority=BASE_PRIORITY[category], booked_by=booked_by
            )
    except IntegrityError as exc:
        # Two desks booking the same patient into two slots of the doctor at once: the partial unique index lets
        # one through; the other's transaction (number and all) has rolled back.
        if _constraint(exc) != "tokens_token_one_confirmed_per_patient_doctor_day":
            raise
        slot = Slot.objects.get(pk=slot_id)
        existing = _confirmed_token_with_doctor(patient, slot)
        if existing is None:  # cancelled meanwhile: the desk may simply try again
            raise DomainError(
                _("Patient %(mrn)s was being booked with %(doctor)s at the same time.")
                % {"mrn": patient.mrn, "doctor": slot.doctor}
            ) from None
        raise DoubleBooking(existing) from None


def _confirmed_token_with_doctor(patient: Patient, slot: Slot) -> Token | None:
    """The patient's confirmed token with the slot's doctor on the slot's day, if any (at most one: see the
    partial unique index on Token)."""
    return (
        Token.objects.filter(patient=patient, doctor_id=slot.doctor_id, day=slot.day, status=Token.Status.CONFIRMED)
        .order_by()
        .first()
    )


def _check_bookable(slot: Slot) -> None:
    if slot.status == Slot.Status.CANCELLED:
        raise DomainError(_("Slot %(slot)s is cancelled.") % {"slot": slot})
    if slot.is_over(timezone.now()):
        raise DomainError(_("Slot %(slot)s is over.") % {"slot": slot})


def _issue_token(
    slot: Slot, *, patient: Patient, category: str, booked_by=None, booked_at=None, promoted_by=None
) -> Token:
    """Seat a patient in the locked `slot`: take the slot's next number and a place (an overflow place when full,
    which only emergencies reach). The caller holds the slot's lock inside its transaction."""
    (number,) = issue(TOKEN_SEQUENCE, scope=token_scope(slot), purpose="OPD token", issued_by=booked_by).values
    token = Token.objects.create(
        slot=slot,
        patient=patient,
        doctor_id=slot.doctor_id,
        day=slot.day,
        token_number=number,
        category=category,
        priority=BASE_PRIORITY[category],
        created_at=booked_at or timezone.now(),
        booked_by=booked_by,
        promoted_by=promoted_by,
        promoted_at=timezone.now() if booked_at else None,
    )
    if not slot.free_places:
        slot.emergency_overflow += 1
    slot.current_capacity += 1
    slot.save(update_fields=["current_capacity", "emergency_overflow"])
    return token


def cancel_token(*, token_id, by=None) -> tuple[Token, Token | None]:
    """Cancel a confirmed token (`DELETE /tokens/{id}/`). Its number stays on it, never reissued.

    The freed place goes to the best entry of the slot's waiting list, in the same transaction; when the slot
    had emergency overflow, the overflow shrinks instead. `by` (the user) is recorded as `ended_by` on the token and
    `promoted_by` on the promoted one, with the time, in the same transaction.
    Returns: (the cancelled token, the token promoted from the waiting list or None).
    Raises: NotFound (404); DomainError (409) when the token is not confirmed.
    """
    return _end_token(token_id, Token.Status.CANCELLED, by=by)


def mark_no_show(*, token_id, by=None, absent_only: bool = False) -> tuple[Token, Token | None]:
    """Mark a confirmed token NO_SHOW; its place is released as in `cancel_token`. Records, returns and raises as
    it. With `absent_only` (the automatic no-show, `no_show_absent`) it also raises DomainError (409), writing
    nothing, when the token was checked in or called meanwhile: checked under the token's lock."""
    return _end_token(token_id, Token.Status.NO_SHOW, by=by, absent_only=absent_only)


def _end_token(token_id, status: str, *, by, absent_only: bool = False) -> tuple[Token, Token | None]:
    slot_id = Token.objects.filter(pk=token_id).values_list("slot_id", flat=True).first()
    if slot_id is None:
        raise NotFound(f"No token with id {token_id}.")
    with transaction.atomic():
        slot = _lock_slot(slot_id)  # slot first, then the token: the order every writer uses
        token = Token.objects.select_for_update().get(pk=token_id)
        _check_confirmed(token)
        if absent_only and (token.checked_in_at or token.called_at):
            raise DomainError(
                _("Token %(number)s has arrived or been called: not a no-show.") % {"number": token.token_number}
            )
        token.status, token.ended_by, token.ended_at = status, by, timezone.now()
        token.save(update_fields=["status", "ended_by", "ended_at", "updated_at"])
        return token, _release_place(slot, by=by)


def _release_place(slot: Slot, *, by=None) -> Token | None:
    """Give back one place of the locked `slot`, promoting the best waiting entry into it. Returns the new token."""
    slot.current_capacity -= 1
    if slot.emergency_overflow:
        slot.emergency_overflow -= 1
    slot.save(update_fields=["current_capacity", "emergency_overflow"])
    if not slot.free_places:
        return None
    entry = selectors.next_waiting_entry(slot)
    if entry is None:
        return None
    entry.delete()
    token = _issue_token(
        slot, patient=entry.patient, category=entry.category, booked_by=entry.booked_by, booked_at=entry.created_at,
        promoted_by=by,
    )
    signals.token_promoted(token)
    return token


def complete_token(*, token_id) -> Token:
    """Record that a confirmed token's consultation took place now (`actual_time`). The place stays taken.

    Raises: NotFound (404); DomainError (409) when the token is not confirmed.
    """
    with transaction.atomic():
        token = get_or_not_found(Token, token_id, lock=True)
        _check_confirmed(token)
        token.status = Token.Status.COMPLETED
        token.actual_time = timezone.now()
        token.save(update_fields=["status", "actual_time", "updated_at"])
    return token


def call_next_token(*, slot_id, called_by=None) -> Token:
    """The doctor's room calls the next patient of a slot: the first confirmed, not yet called token in queue
    order (emergencies, then seed 002's final priority, then booking time), stamped `called_at`. From the slot's
    arrival deadline on (`selectors.arrival_deadline`: start, delay and OPD_CHECK_IN_GRACE_MINUTES) only tokens
    checked in are called: the others are skipped, keeping their place should they check in later.

    Under the slot's lock, so two clicks never call two patients. `called_by` is the user who pressed the button
    (kept for symmetry with queues.services.call_next; not stored).
    Returns: the called token (annotated with position). Raises: NotFound (404); DomainError (409) while a token
    of the slot is still in the room (called, not completed or no-show), or when nobody is left to call.
    """
    with transaction.atomic():
        slot = _lock_slot(slot_id)
        current = selectors.in_room(slot)
        if current is not None:
            raise DomainError(
                _("Token %(number)s (%(name)s) is still with %(doctor)s: complete it or mark a no-show first.")
                % {"number": current.token_number, "name": current.patient.full_name, "doctor": slot.doctor}
            )
        waiting = selectors.slot_queue(slot).filter(status=Token.Status.CONFIRMED, called_at__isnull=True)
        arrived_only = timezone.now() >= selectors.arrival_deadline(slot)
        token = (waiting.filter(checked_in_at__isnull=False) if arrived_only else waiting).first()
        if token is None:
            absent = waiting.count() if arrived_only else 0
            message = (
                _("Nobody who has checked in is waiting for %(slot)s (%(absent)s not arrived).") if absent
                else _("Nobody is waiting for %(slot)s.")
            )
            raise DomainError(message % {"slot": slot, "absent": absent})
        token.called_at = token.announced_at = timezone.now()
        token.save(update_fields=["called_at", "announced_at", "updated_at"])
        signals.token_called(token)  # the outbox row (SMS, webhook) commits with the call
    return token


def call_token_again(*, token_id) -> Token:
    """Announce a called token again (the patient has not come in yet): the waiting-room board shows it as the latest
    call, flashes, chimes and speaks it. Only `announced_at` changes; `called_at` keeps the first call.

    Raises: NotFound (404); DomainError (409) unless the token is confirmed, called and not started.
    """
    with transaction.atomic():
        token = get_or_not_found(Token, token_id, lock=True)
        _check_confirmed(token)
        if token.called_at is None or token.started_at is not None:
            raise DomainError(
                _("Token %(number)s is not waiting to come in: only a called token is called again.")
                % {"number": token.token_number}
            )
        token.announced_at = timezone.now()
        token.save(update_fields=["announced_at", "updated_at"])
    return token


def start_token(*, token_id) -> Token:
    """The consultation of a called token begins now (`started_at`).

    Raises: NotFound (404); DomainError (409) when the token is not confirmed, not called yet, or already started.
    """
    with transaction.atomic():
        token = get_or_not_found(Token, token_id, lock=True)
        _check_confirmed(token)
        if token.called_at is None:
            raise DomainError(_("Token %(number)s has not been called yet.") % {"number": token.token_number})
        if token.started_at is not None:
            raise DomainError(_("Token %(number)s has already started.") % {"number": token.token_number})
        token.started_at = timezone.now()
        token.save(update_fields=["started_at", "updated_at"])
    return token


def check_in(*, token_id) -> Token:
    """The patient of a confirmed token has arrived (the desk's Check in, or "I am here" on their token page):
    stamp `checked_in_at` now. Idempotent: a token already checked in is returned unchanged (its first time kept).

    Raises: NotFound (404); DomainError (409) when the token is not confirmed (cancelled, completed, or already a
    no-show: the patient asks at the desk) or is for another day than today (hospital time zone).
    """
    with transaction.atomic():
        token = get_or_not_found(Token, token_id, lock=True)
        _check_confirmed(token)
        if token.day != timezone.localdate():
            raise DomainError(_("Token %(number)s is for %(day)s: check in that day.") % {
                "number": token.token_number, "day": dateformat.format(token.day, "j M Y")})
        if token.checked_in_at is None:
            token.checked_in_at = timezone.now()
            token.save(update_fields=["checked_in_at", "updated_at"])
    return token


def no_show_absent(*, now: datetime.datetime | None = None) -> list[tuple[Token, Token | None]]:
    """The automatic no-show (`manage.py opd_no_shows`, run every minute): every confirmed token of today's and
    yesterday's slots (hospital time zone) neither checked in nor called at `now` (default: the present) past its
    deadline: the slot's end plus its delay plus OPD_CHECK_IN_GRACE_MINUTES, and for a token promoted from the
    waiting list no sooner than its promotion plus the grace (so a late promotion gets its own time to arrive).
    Each goes through `mark_no_show` as the room's button does, one transaction per token, so its place is
    released and the slot's waiting list promoted exactly as by hand. Cancelled slots are left alone. A token that
    arrives or is called while this runs is skipped (checked under its lock).

    Returns: [(the no-show token, the token promoted into its place or None)], in slot and token order.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    grace = datetime.timedelta(minutes=settings.OPD_CHECK_IN_GRACE_MINUTES)
    due = (
        Token.objects.filter(
            day__gte=today - datetime.timedelta(days=1), day__lte=today, status=Token.Status.CONFIRMED,
            called_at__isnull=True, checked_in_at__isnull=True,
        )
        .exclude(slot__status=Slot.Status.CANCELLED)
        .annotate(deadline=Greatest(selectors.slot_end(), Coalesce("promoted_at", "slot__start_time")))
        .filter(deadline__lte=now - grace)
        .order_by("slot__start_time", "slot_id", "token_number")
        .values_list("pk", flat=True)
    )
    ended = []
    for token_id in due:
        try:
            ended.append(mark_no_show(token_id=token_id, absent_only=True))
        except DomainError:
            continue  # checked in, called or ended since the query: not this run's to end
    return ended


def promote_waiting_entry(*, entry_id) -> Token:
    """Seat a waiting-list entry now, chosen by the desk rather than by the queue rule (a free place it was not
    given automatically, e.g. after a capacity change). The entry becomes a token keeping its booking time.

    Raises: NotFound (404); DoubleBooking (409); DomainError (409) when the slot has no free place.
    """
    slot_id = WaitingListEntry.objects.filter(pk=entry_id).values_list("slot_id", flat=True).first()
    if slot_id is None:
        raise NotFound(f"No waiting-list entry with id {entry_id}.")
    with transaction.atomic():
        slot = _lock_slot(slot_id)  # slot first, as every writer
        entry = get_or_not_found(WaitingListEntry, entry_id, lock=True)
        if not slot.free_places:
            raise DomainError(
                _("%(slot)s has no free place; a place frees up when a token is cancelled.") % {"slot": slot}
            )
        existing = _confirmed_token_with_doctor(entry.patient, slot)
        if existing:
            raise DoubleBooking(existing)
        entry.delete()
        return _issue_token(slot, patient=entry.patient, category=entry.category, booked_at=entry.created_at)


def cancel_waiting_entry(*, entry_id) -> WaitingListEntry:
    """Take a patient off a slot's waiting list (they no longer wait). Returns the deleted entry. Raises NotFound."""
    with transaction.atomic():
        entry = get_or_not_found(WaitingListEntry, entry_id, lock=True)
        entry.delete()
    return entry


def _check_confirmed(token: Token) -> None:
    if token.status != Token.Status.CONFIRMED:
        raise DomainError(_("Token %(number)s is %(status)s, not confirmed.") % {
            "number": token.token_number, "status": token.get_status_display().lower()})


def _lock_slot(slot_id) -> Slot:
    # A slot's token numbers are taken under its lock: the wait is bounded like a counter's (503 after
    # TOKENLINE_LOCK_TIMEOUT, core/busy.py).
    with bounded_lock_wait(f"slot {slot_id}"):
        return get_or_not_found(Slot, slot_id, lock=True)


def get_or_not_found(model, pk, *, lock: bool = False):
    """The `model` row with primary key `pk` (locked FOR UPDATE if `lock`), or NotFound (404)."""
    rows = model.objects.select_for_update() if lock else model.objects.all()
    try:
        return rows.get(pk=pk)
    except (model.DoesNotExist, ValidationError):
        raise NotFound(f"No {model._meta.verbose_name} with id {pk}.") from None


def _constraint(exc: IntegrityError) -> str | None:
    """The name of the database constraint an IntegrityError broke, if PostgreSQL says."""
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)



def token_scopes_on(since: datetime.date, **_) -> list[tuple[str, str]]:
    """idseq's `restore_scopes` receiver: the slot-token scope of every slot starting on `since` (a day in TIME_ZONE)
    or later (tokens are booked ahead), so a restore moves past the tokens of a slot first booked after the backup."""
    start = timezone.make_aware(datetime.datetime.combine(since, datetime.time.min))
    return [(TOKEN_SEQUENCE, token_scope(slot)) for slot in Slot.objects.filter(start_time__gte=start)]
