"""Offline registration from lab terminals' ranges (seed 001). Views, the admin and commands call these.

Two ways to register offline, both ending in `patients.services.save_new_patient`:
- seed-compatible: the server takes the next number of the terminal's active range (`register_offline` without
  `mrn`), so the number is decided when the terminal reaches the server;
- leases: while online the terminal leases a block (`lease_block`), numbers patients itself from it while offline,
  and on sync the server stores exactly the number it printed (`register_offline` with `mrn` and `client_uuid`).

Locking: a terminal's ranges and leases change only while its LabTerminal row is locked (`select_for_update`), and
its numbers are taken from the range's idseq reservation (`take_reserved`, which locks the reservation row and moves
its cursor `next_value`) in the same transaction as the patient (or lease) that carries them, so numbers of one
terminal are distinct and consecutive, and a failed request returns them. Different terminals never wait on each
other. Accepting a leased number needs no lock: the number was decided at lease time; the unique MRN and
client_uuid constraints settle races between replays.

Where numbers come from: offline MRNs are values of the `mrn` idseq sequence, written like every other
MRN (`007-10-000` in the grouped scheme, plain `710000` in the dated one, patients.mrn.written_mrn). Each range is an
idseq reservation of its values for the terminal (`add_range`), so online numbering steps over it and no one else
can issue them; the pool (TOKENLINE_OFFLINE_POOL) is a reservation too, from which ranges are carved whatever the
online counter or imports do. A number a terminal registers is recorded in idseq's ledger, issued by the terminal.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from knox.models import AuthToken
from rest_framework.exceptions import PermissionDenied

from core.auth import issue_token
from core.busy import bounded_lock_wait
from core.errors import DomainError
from idseq.exceptions import AlreadyIssued, ReservationOverlap
from idseq.models import Counter, Reservation
from idseq.reservations import carve, issue_reserved, reserve, reserve_free, take_reserved
from patients import worklist
from patients.exceptions import MrnTaken
from patients.models import Patient
from patients.mrn import mrn_value, written_mrn
from patients.services import MRN_COUNTER, save_new_patient
from terminals import devices, incidents
from terminals.incidents import MRN_IN_USE, Collision
from terminals.models import (
    LabTerminal, LeaseHandover, OfflineIncident, SkewedRegistration, TerminalDevice, TerminalLease, TerminalRange,
)

logger = logging.getLogger("tokenline.terminals")

LEASE_MAX = 10_000  # the most numbers one lease may take
SYNC_BATCH_MAX = 1_000  # the most registrations one sync request may carry
WARNING_PERCENT = 80  # seed 001: "approaching 80 % utilization" -> reconfigure
CRITICAL_PERCENT = 90  # seed 001: "alert when terminal reaches 90 %"; also when the pool extends a terminal

# Seed 001's error messages, byte for byte (MRN_IN_USE is terminals.incidents').
CODE_REQUIRED = "origin_terminal_code is required when offline=True"
POOL_OWNER = "offline pool"  # the owner of the pool's reservation in idseq


class TerminalNotFound(DomainError):
    """400: no active terminal has this code (seed 001's message)."""

    status_code = 400

    def __init__(self, code: str):
        super().__init__(f"Terminal '{code}' not found or not active")


class RangeExhausted(DomainError):
    """409: the terminal has no number left in its active ranges (seed 001's message, naming its last range)."""

    def __init__(self, terminal: LabTerminal, last_range: TerminalRange | None):
        if last_range is None:
            super().__init__(f"Terminal {terminal.code} has no offline MRN range. "
                             "Please contact administrator to configure a new range.")
        else:
            super().__init__(f"Terminal {terminal.code} has exhausted its offline MRN range "
                             f"({last_range.start}-{last_range.end}). "
                             "Please contact administrator to configure a new range.")


class NotLeased(DomainError):
    """422: a synced MRN lies in none of the terminal's leases, so the terminal could not have printed it."""

    status_code = 422


class LeaseOnHold(DomainError):
    """409: a number printed from a lease on hold, above its hold mark (after a collision on the lease);
    `incident` holds the registration for a new MRN when it had a client_uuid."""

    def __init__(self, lease: TerminalLease, number: str, incident=None):
        extra = {"incident": incident.pk} if incident is not None else {}
        super().__init__(f"MRN {number}: lease {lease.start}-{lease.end} is on hold since two machines printed "
                         "from it (a cloned PC?); its later numbers are refused. Lease a new block.", field="mrn",
                         **extra)


@dataclass(frozen=True)
class Registration:
    """What `register_offline` did: the patient, and whether this call created it (False: already synced)."""

    patient: Patient
    created: bool


# --- terminals and their keys -----------------------------------------------------------------------------------


def terminal_for(*, code: str, user) -> LabTerminal:
    """The active terminal `code`, if `user` is that terminal's API identity or one of its `browser_users` (staff
    running its offline page in a browser: `may_run_in_browser`).

    Raises:
        DomainError (400): `code` is blank (seed 001's "origin_terminal_code is required when offline=True").
        TerminalNotFound: no active terminal has this code.
        PermissionDenied (403): `user` is not bound to this terminal; a key serves its own terminal only.
    """
    if not code:
        raise DomainError(CODE_REQUIRED, status_code=400)
    terminal = LabTerminal.objects.filter(code=code, is_active=True).first()
    if terminal is None:
        raise TerminalNotFound(code)
    if user is None or (terminal.user_id != user.pk and not may_run_in_browser(terminal=terminal, user=user)):
        raise PermissionDenied(f"This key may not use terminal {code}; each terminal uses its own key.")
    return terminal


def may_run_in_browser(*, terminal: LabTerminal, user) -> bool:
    """Whether `user` (logged in, with their own password) may lease and sync as `terminal` from its offline page:
    an admin listed them in the terminal's `browser_users`. Leases they take are bound to their browser's device
    identity, like a terminal key's to its machine."""
    return bool(user.is_authenticated) and terminal.browser_users.filter(pk=user.pk).exists()


def issue_terminal_key(*, terminal: LabTerminal, grace: timedelta | None = None) -> str:
    """Give `terminal` a new API key, valid TOKENLINE_TERMINAL_KEY_DAYS, and return it (shown once: only its digest
    is stored).

    Rotation without downtime: the terminal's earlier keys keep working for `grace` more (default
    TOKENLINE_KEY_GRACE_HOURS; never longer than they had left), so a workstation still syncing with the old key is
    not refused while someone types the new one in. `grace=timedelta(0)` ends them at once (a stolen key: or revoke).
    The terminal's user (created on first use as `terminal-<code>`, in group `lab_terminal`, no password) keeps its
    patients' history; only its tokens change.
    """
    if grace is None:
        grace = timedelta(hours=settings.TOKENLINE_KEY_GRACE_HOURS)
    with transaction.atomic():
        if terminal.user is None:
            user, created = User.objects.get_or_create(username=f"terminal-{terminal.code}".lower())
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            terminal.user = user
            terminal.save(update_fields=["user", "updated_at"])
        terminal.user.groups.add(Group.objects.get(name="lab_terminal"))
        ends = timezone.now() + grace
        old = AuthToken.objects.filter(user=terminal.user)
        old.filter(Q(expiry__isnull=True) | Q(expiry__gt=ends)).update(expiry=ends)
        _, key = issue_token(terminal.user, ttl=timedelta(days=settings.TOKENLINE_TERMINAL_KEY_DAYS))
        return key


def revoke_terminal_key(*, terminal: LabTerminal) -> bool:
    """Delete every API key of the terminal: they stop working at once (401). Returns whether there was one."""
    deleted, _ = AuthToken.objects.filter(user_id=terminal.user_id).delete() if terminal.user_id else (0, {})
    return bool(deleted)


# --- ranges -----------------------------------------------------------------------------------------------------


def check_range_placement(*, start: int, end: int) -> None:
    """Raise ValidationError unless start..end (inclusive) may become a terminal range.

    Rules: 1 <= start <= end; no overlap with another range (message names its terminal) or with another
    reservation of the MRN sequence (a carried-over or imported number, the pool: names its owner); above the
    online MRN counter's last value; no number already held by a patient, however written. `add_range` then
    reserves the values in idseq under the counter lock, which checks the same again.
    """
    if not 1 <= start <= end:
        raise ValidationError(_("A range needs 1 <= start <= end."))
    other = TerminalRange.objects.filter(start__lte=end, end__gte=start).select_related("terminal").first()
    if other is not None:
        raise ValidationError(
            _("%(start)s-%(end)s overlaps range %(other)s of terminal %(terminal)s.")
            % {"start": start, "end": end, "other": other, "terminal": other.terminal.code},
            code="overlap",
        )
    reserved = Reservation.objects.filter(
        sequence__key=MRN_COUNTER, scope="", first_value__lte=end, last_value__gte=start
    ).order_by("first_value").first()
    if reserved is not None:  # a carried-over or imported number, or the pool
        raise ValidationError(
            _("%(start)s-%(end)s overlaps %(first)s-%(last)s, reserved for %(owner)s.") % {
                "start": start, "end": end, "first": reserved.first_value, "last": reserved.last_value,
                "owner": reserved.owner},
            code="reserved",
        )
    online_last = online_mrn_last()
    if start <= online_last:
        raise ValidationError(
            _("%(start)s-%(end)s reaches into the online MRNs in use (up to %(last)s); start above %(last)s.")
            % {"start": start, "end": end, "last": online_last},
            code="online",
        )
    taken = Patient.objects.filter(mrn_value__range=(start, end)).values_list("mrn", flat=True).first()
    if taken is not None:
        raise ValidationError(
            _("%(start)s-%(end)s contains MRN %(mrn)s, already registered.") % {"start": start, "end": end, "mrn": taken},
            code="taken",
        )


def online_mrn_last() -> int:
    """The online MRN counter's last value (0 before the first online registration)."""
    return Counter.objects.filter(key=MRN_COUNTER).values_list("last_value", flat=True).first() or 0


def add_range(*, terminal: LabTerminal, start: int, end: int, created_by=None) -> TerminalRange:
    """Reserve start..end (inclusive) for `terminal`: an idseq reservation of the `mrn` sequence and the range
    that carries it, in one transaction. Raises ValidationError as `check_range_placement`, or naming the owner of
    another reservation the values overlap."""
    check_range_placement(start=start, end=end)
    with transaction.atomic():
        try:
            reservation = reserve(MRN_COUNTER, start, end, owner=terminal.code, reason="offline range",
                                  created_by=created_by)
        except ReservationOverlap as exc:
            raise ValidationError(str(exc), code="reserved") from None
        return TerminalRange.objects.create(
            terminal=terminal, start=start, end=end, created_by=created_by, reservation=reservation
        )


def switch_range(*, block: TerminalRange, is_active: bool, by=None) -> TerminalRange:
    """Turn a range on or off, recording who and when in the same transaction (a range's bounds never change:
    numbers of it may be printed). Does nothing when it is already so."""
    with transaction.atomic():
        locked = TerminalRange.objects.select_for_update().get(pk=block.pk)
        if locked.is_active != is_active:
            locked.is_active, locked.switched_by, locked.switched_at = is_active, by, timezone.now()
            locked.save(update_fields=["is_active", "switched_by", "switched_at"])
    return locked


def _take_numbers(terminal_id: int, count: int) -> tuple[LabTerminal, TerminalRange, range]:
    """Hand out up to `count` consecutive numbers of a terminal's first active range with room, from the range's
    idseq reservation (`take_reserved`: its cursor `next_value` is the one record of what was handed out).

    Must run inside the caller's transaction, which commits the numbers with the rows that carry them. Locks the
    terminal row (which range, whether to extend from the pool), then the range's reservation row, until then;
    each wait is bounded (503 after TOKENLINE_LOCK_TIMEOUT, as idseq's counters). Fewer than `count` come back when
    the range ends first: numbers never span ranges.
    Raises RangeExhausted when no active range (nor the pool) has a number left.
    """
    with bounded_lock_wait(f"terminal {terminal_id}"):
        terminal = LabTerminal.objects.select_for_update().get(pk=terminal_id)
    block = _range_with_room(terminal) or _extend_from_pool(terminal)
    if block is None:
        raise RangeExhausted(terminal, terminal.ranges.filter(is_active=True).order_by("start").last())
    before = block.percent_used
    with bounded_lock_wait(f"terminal {terminal.code} range {block}"):
        numbers = take_reserved(block.reservation, count)  # moves block.reservation.next_value too
    _log_crossings(terminal, block, before)
    # Passing 90 % with less than a tenth of a range free in all its ranges: extend from the pool, if there is one.
    if block.percent_used >= CRITICAL_PERCENT and offline_pool() and _free_numbers(terminal) * 10 < block.total:
        _extend_from_pool(terminal)
    return terminal, block, numbers


def _range_with_room(terminal: LabTerminal) -> TerminalRange | None:
    return (
        terminal.ranges.filter(is_active=True, reservation__next_value__lte=F("reservation__last_value"))
        .select_related("reservation").order_by("start").first()
    )


def _free_numbers(terminal: LabTerminal) -> int:
    return sum(r.remaining for r in terminal.ranges.filter(is_active=True).select_related("reservation"))


def _log_crossings(terminal: LabTerminal, block: TerminalRange, before: float) -> None:
    """Log once when a range passes 80 % (warning) and 90 % (critical), after the numbers commit.

    The reservation's cursor only moves up, so each threshold is crossed by exactly one allocation."""
    for threshold, level in ((WARNING_PERCENT, logging.WARNING), (CRITICAL_PERCENT, logging.CRITICAL)):
        if before < threshold <= block.percent_used:
            message = (f"Terminal {terminal.code} range {block} passed {threshold} %: "
                       f"{block.used}/{block.total} used, {block.remaining} remaining")
            transaction.on_commit(lambda level=level, message=message: logger.log(level, message))


# --- the pool -----------------------------------------------------------------------------------------------------


def offline_pool() -> tuple[int, int] | None:
    """TOKENLINE_OFFLINE_POOL as (first, last), or None when unset. Raises ValueError when malformed."""
    text = settings.TOKENLINE_OFFLINE_POOL.strip()
    if not text:
        return None
    first, _, last = text.partition("-")
    if not (first.strip().isdigit() and last.strip().isdigit() and 1 <= int(first) <= int(last)):
        raise ValueError(f"TOKENLINE_OFFLINE_POOL must be FIRST-LAST with 1 <= FIRST <= LAST (got {text!r})")
    return int(first), int(last)


def pool_reservations() -> list[Reservation]:
    """The pool's idseq reservations, lowest first: every free run of TOKENLINE_OFFLINE_POOL above the online
    counter, reserved (owner "offline pool") when first seen, on each extension and after every migrate, so online
    numbering and imports step over them. Empty without a pool or once all of it went to terminals."""
    pool = offline_pool()
    if pool is None:
        return []
    while reserve_free(MRN_COUNTER, *pool, owner=POOL_OWNER, reason="TOKENLINE_OFFLINE_POOL") is not None:
        pass
    return list(Reservation.objects.filter(sequence__key=MRN_COUNTER, scope="", owner=POOL_OWNER)
                .order_by("first_value"))


def _extend_from_pool(terminal: LabTerminal) -> TerminalRange | None:
    """Give the locked `terminal` the pool's next block of its latest range's size; None when impossible.

    The block is carved out of the pool's reservation under the MRN counter's lock, so two terminals extending at
    once get different blocks, and neither the online counter nor an import can take pool values meanwhile.
    """
    latest = terminal.ranges.order_by("-created_at", "-pk").first()
    if latest is None:
        return None
    with transaction.atomic():
        pools = [pool for pool in pool_reservations() if pool.total >= latest.total]
        reservation = pools and carve(pools[0], latest.total, owner=terminal.code,
                                      reason="offline range from the pool")
        if not reservation:
            return None
        block = TerminalRange.objects.create(terminal=terminal, start=reservation.first_value,
                                             end=reservation.last_value, from_pool=True, reservation=reservation)
    message = f"Terminal {terminal.code} got range {block} from the offline pool"
    transaction.on_commit(lambda: logger.warning(message))
    return block


# --- leases and registrations -----------------------------------------------------------------------------------


def lease_block(*, terminal_code: str, user, count: int, device_id: str = "",
                request_id: uuid.UUID | None = None) -> TerminalLease:
    """Lease up to `count` numbers of the terminal's range for it to number patients itself while offline.

    Args:
        terminal_code: the terminal's code; `user` must be its API identity.
        count: 1..10,000. The lease is shorter when the current range ends first (a lease never spans two
            ranges); lease again for the rest.
        device_id: the client's device identity; only that device may sync the lease's numbers.
        request_id: the client's id for this request; the same id again returns the same lease (a lost reply
            orphans no numbers).
    Returns: the saved TerminalLease (`start`, `end`, `total`).
    Raises: as `terminal_for`; DomainError (400) for a count outside 1..10,000; RangeExhausted (409).
    """
    if not 1 <= count <= LEASE_MAX:
        raise DomainError(f"count must be between 1 and {LEASE_MAX:,} (got {count}).", status_code=400)
    terminal = terminal_for(code=terminal_code, user=user)
    with transaction.atomic():
        if request_id is not None:
            # Under the terminal's lock: a resent request waits for the first one, then finds its lease.
            LabTerminal.objects.select_for_update().filter(pk=terminal.pk).exists()
            earlier = TerminalLease.objects.filter(terminal=terminal, request_id=request_id).first()
            if earlier is not None:
                return earlier
        terminal, block, numbers = _take_numbers(terminal.pk, count)
        return TerminalLease.objects.create(
            terminal=terminal, range=block, start=numbers.start, end=numbers[-1], created_by=user,
            device_id=device_id, request_id=request_id, requested=count,
        )


def register_offline(
    *, terminal_code: str, user, mrn: str | None = None, client_uuid: uuid.UUID | None = None, device_id: str = "",
    registered_at: datetime | None = None, **demographics
) -> Registration:
    """Register a patient offline for terminal `terminal_code` (seed 001).

    Args:
        terminal_code: the terminal's code; `user` must be its API identity.
        mrn: the number the terminal printed from one of its leases, as `710042` or `007-10-042`; stored as the MRN
            scheme writes it (`007-10-042` grouped, `710042` dated) and recorded in idseq's ledger; None to take the
            next number of the terminal's active range, as seed 001's server does.
        client_uuid: the terminal's id for this registration; a registration already stored with it is returned
            instead of creating a second one.
        device_id: the sending machine's identity; a number of a lease bound to another device is refused.
        registered_at: when the terminal registered the patient, by its clock (stored next to synced_at); the
            date of birth may be up to one day after its date (hospital time zone) instead of the server's today.
        demographics: as `patients.services.register_patient`.
    Returns: Registration(patient, created). The patient has is_offline_entry, origin_terminal and synced_at set.
    Raises:
        as `terminal_for`; ValidationError for bad demographics (no number taken);
        NotLeased (422): `mrn` lies in none of the terminal's leases;
        WrongDevice (409): `mrn` lies in a lease of another device of the terminal (a copied outbox);
        Collision (409): a leased `mrn` is already used by another record: an offline incident is opened
            (terminals.incidents) and the detail is seed 001's message;
        DomainError (409): without `client_uuid`, the MRN is already used (seed 001's message); `client_uuid` was
            already synced with another MRN or by another terminal;
        RangeExhausted (409): without `mrn`, when the terminal's ranges have no number left.
    """
    return _register(terminal_for(code=terminal_code, user=user), user=user, mrn=mrn, client_uuid=client_uuid,
                     device_id=device_id, registered_at=registered_at, **demographics)


def _register(terminal: LabTerminal, *, user, mrn: str | None, client_uuid: uuid.UUID | None, device_id: str = "",
              registered_at: datetime | None = None, stored: dict[uuid.UUID, Patient] | None = None,
              **demographics) -> Registration:
    """`register_offline` for a terminal already checked by `terminal_for`: the one path every offline
    registration takes (the single endpoint and batch sync alike). `stored`: the patients a sync batch's
    client_uuids were already stored with, looked up once for the batch (None: look this one up)."""
    if client_uuid is not None:
        existing = _already_synced(terminal, client_uuid, mrn, stored=stored)
        if existing is not None:
            return Registration(existing, created=False)
    now = timezone.now()
    # A terminal clock running ahead cannot date a record after its arrival: the server's time is stored instead
    # and the claim kept (SkewedRegistration). Within the allowed skew the terminal's time stands.
    claimed = registered_at if registered_at is not None and registered_at > now + devices.SKEW_LIMIT else None
    patient = Patient(
        **demographics,
        created_by=user,
        origin_terminal=terminal,
        is_offline_entry=True,
        synced_at=now,
        registered_at=now if claimed else registered_at,
        client_uuid=client_uuid,
    )
    # The terminal's registration day, not the server's, bounds the date of birth (from 1900, as online).
    dob_not_after = timezone.localdate(patient.registered_at) if patient.registered_at else None
    value = None
    if mrn is not None:
        lease, value = _check_leased(terminal, mrn)
        if not devices.may_use(lease, device_id):
            raise devices.WrongDevice(terminal, mrn, incident=client_uuid and incidents.record_collision(
                terminal=terminal, refused=_as_printed(patient, mrn), device_id=device_id,
                kind=OfflineIncident.Kind.WRONG_DEVICE))
        if lease.on_hold_at is not None and value > lease.hold_mark:
            raise LeaseOnHold(lease, mrn, incident=client_uuid and incidents.record_collision(
                terminal=terminal, refused=_as_printed(patient, mrn), device_id=device_id,
                kind=OfflineIncident.Kind.ON_HOLD))
    try:
        with transaction.atomic():
            if value is None:
                # Seed 001: the terminal range's next number, taken in the same transaction as the insert.
                # Validation runs under the terminal's lock here, which only that terminal's own requests wait for.
                value = _take_numbers(terminal.pk, 1)[2].start
            save_new_patient(patient, numbering=lambda: _issue(terminal, value, user), dob_not_after=dob_not_after)
            if claimed:
                SkewedRegistration.objects.create(patient=patient, terminal=terminal, claimed_registered_at=claimed,
                                                  device_id=device_id)
                transaction.on_commit(lambda: logger.warning(
                    "Terminal %s sent registered_at %s for MRN %s, after the server's time plus %s: stored with "
                    "the server's time", terminal.code, claimed.isoformat(), patient.mrn, devices.SKEW_LIMIT))
    except Exception as exc:
        # A unique violation: a replay of this registration committed first (copies sent in parallel), or the MRN
        # belongs to another record (MrnTaken). Anything else goes up unchanged.
        existing = client_uuid and _already_synced(terminal, client_uuid, mrn)
        if existing:
            return Registration(existing, created=False)
        if isinstance(exc, MrnTaken):
            if client_uuid is not None and mrn is not None:  # two printed slips, one number: an incident
                devices.put_on_hold(lease, printed=value, why=f"MRN {mrn} was printed twice")
                patient.mrn = ""
                if incidents.earlier_keeps(terminal=terminal, newcomer=patient, value=value, by=user,
                                           device_id=device_id, dob_not_after=dob_not_after):
                    return Registration(patient, created=True)
                incident = incidents.record_collision(terminal=terminal, refused=_as_printed(patient, mrn),
                                                      device_id=device_id)
                raise Collision(incident) from None
            raise DomainError(MRN_IN_USE) from None
        raise
    # Stored as the terminal sent it, its printed MRN working; a likely duplicate of a patient registered online
    # (or on another terminal) goes on the ops' worklist, never refuses the sync.
    worklist.queue_pairs_for(patient, source=worklist.OFFLINE)
    return Registration(patient, created=True)


def _as_printed(patient: Patient, mrn: str) -> Patient:
    """`patient` (unsaved) carrying `mrn` as the terminal printed it: what an incident lists for reprint."""
    patient.mrn = mrn
    return patient


def _issue(terminal: LabTerminal, value: int, user) -> str:
    """Record the terminal's number `value` in idseq's ledger (issued by the terminal) and return the MRN as the
    scheme writes it (`007-10-042`, or `710042` in the dated scheme)."""
    try:
        issue_reserved(MRN_COUNTER, value, owner=terminal.code, issued_by=user, purpose="offline registration")
    except AlreadyIssued:  # another record has it (or a replay of this one committed first: _register decides)
        raise MrnTaken(mrn=written_mrn(value)) from None
    return written_mrn(value)


def _already_synced(terminal: LabTerminal, client_uuid: uuid.UUID, mrn: str | None, *,
                    stored: dict[uuid.UUID, Patient] | None = None) -> Patient | None:
    """The patient stored with `client_uuid` (found in `stored` when given, else looked up), if it is this same
    registration; DomainError (409) when it is another."""
    if stored is None:
        patient = Patient.objects.filter(client_uuid=client_uuid).first()
    else:
        patient = stored.get(client_uuid)
    if patient is None:
        return None
    if patient.origin_terminal_id != terminal.pk:
        raise DomainError(f"client_uuid {client_uuid} was synced by another terminal.")
    if (
        mrn is not None
        and patient.mrn != mrn
        and patient.mrn_value != mrn_value(mrn)
        and not incidents.renumbered_by_incident(client_uuid=client_uuid, patient=patient)
    ):
        raise DomainError(f"client_uuid {client_uuid} was already synced with MRN {patient.mrn}, not {mrn}.")
    return patient


def _check_leased(terminal: LabTerminal, mrn: str) -> tuple[TerminalLease, int]:
    """The lease of `terminal` holding `mrn` and the MRN's value (`710042` or
    `007-10-042`: terminals may send either, patients.mrn.mrn_value); NotLeased unless it lies inside one."""
    value = mrn_value(mrn) if mrn.isascii() else None
    if value is None or (mrn.isdigit() and mrn != str(value)):  # `0710042` is no number a terminal prints
        raise NotLeased(f"MRN {mrn!r} is not a number of terminal {terminal.code}'s leases.")
    lease = TerminalLease.objects.filter(terminal=terminal, start__lte=value, end__gte=value).first()
    if lease is None:
        raise NotLeased(f"MRN {mrn} lies outside every lease of terminal {terminal.code}.")
    return lease, value


def sync_registrations(*, terminal_code: str, user, registrations: list, device_id: str = "") -> list:
    """Store a batch of a terminal's offline registrations, each independently.

    Args:
        registrations: up to 1,000 items; each a dict of `register_offline` arguments (with `mrn` and
            `client_uuid`, a uuid.UUID), or an exception already raised for it (e.g. it failed validation). The
            patients already stored with their client_uuids (a replay) are looked up in one query for the batch.
        device_id: the sending machine's identity, as for `register_offline`.
    Returns: one entry per item, in order: a Registration, or the exception that item raised (nothing was written
        for it; the other items are unaffected).
    Raises: as `terminal_for`, and DomainError (400) for more than 1,000 items, before anything is written.
    """
    if len(registrations) > SYNC_BATCH_MAX:
        raise DomainError(
            f"A sync carries at most {SYNC_BATCH_MAX:,} registrations (got {len(registrations)}).", status_code=400
        )
    terminal = terminal_for(code=terminal_code, user=user)
    uuids = [item["client_uuid"] for item in registrations if isinstance(item, dict) and item.get("client_uuid")]
    # One query for the batch, not one per item; a copy committed since is still caught by _register's unique check.
    stored = {patient.client_uuid: patient for patient in Patient.objects.filter(client_uuid__in=uuids)}
    outcomes = []
    for item in registrations:
        if isinstance(item, Exception):
            outcomes.append(item)
            continue
        try:
            registration = _register(terminal, user=user, device_id=device_id, stored=stored,
                                     **{"mrn": None, "client_uuid": None, **item})
        except Exception as exc:  # one item's failure never drops the others; nothing was written for it
            outcomes.append(exc)
            continue
        stored.setdefault(registration.patient.client_uuid, registration.patient)  # the same item again in it
        outcomes.append(registration)
    return outcomes


def hand_over_lease(*, terminal_code: str, start: int, to_device: str, by, reason: str) -> LeaseHandover:
    """Bind terminal `terminal_code`'s lease starting at `start` to its machine `to_device` (a dead PC's
    replacement): from now on only that machine numbers from it and syncs its numbers, including the records the
    dead one printed and never synced (the new machine takes them with the client's `adopt`).

    Args: `to_device` must have contacted the server as a machine of the same terminal (its client's `status`
        shows its identity); `by` the ops user; `reason` why (required, kept with the handover).
    Returns: the LeaseHandover recorded in the same transaction as the change.
    Raises: DomainError (400) for a blank reason or an unknown device; NotFound (404) for an unknown lease;
        DomainError (409) when the lease is already bound to that device.
    """
    from core.errors import NotFound

    if not reason.strip():
        raise DomainError("Say why the lease is handed over (reason).", status_code=400)
    with transaction.atomic():
        terminal = LabTerminal.objects.select_for_update().filter(code=terminal_code).first()
        lease = terminal and TerminalLease.objects.select_for_update().filter(terminal=terminal, start=start).first()
        if lease is None:
            raise NotFound(f"Terminal {terminal_code} has no lease starting at {start}.")
        if not TerminalDevice.objects.filter(terminal=terminal, device_id=to_device).exists():
            raise DomainError(f"No machine {to_device!r} of {terminal_code} has contacted the server; run the "
                              "client's status on the new machine first (it shows its identity).", status_code=400)
        if lease.device_id == to_device:
            raise DomainError(f"Lease {lease} is already bound to {to_device}.")
        handover = LeaseHandover.objects.create(lease=lease, from_device=lease.device_id, to_device=to_device,
                                                reason=reason.strip(), by=by)
        lease.device_id = to_device
        lease.save(update_fields=["device_id"])
    logger.warning("Lease %s handed from machine %s to %s by %s: %s", lease, handover.from_device or "-", to_device,
                   by, handover.reason)
    return handover
