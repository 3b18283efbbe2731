"""Offline registration from lab terminals' ranges (seed 001, issue #6). Views, the admin and commands call these.

Two ways to register offline, both ending in `patients.services.save_new_patient`:
- seed-compatible: the server takes the next number of the terminal's active range (`register_offline` without
  `mrn`), so the number is decided when the terminal reaches the server;
- leases: while online the terminal leases a block (`lease_block`), numbers patients itself from it while offline,
  and on sync the server stores exactly the number it printed (`register_offline` with `mrn` and `client_uuid`).

Locking: a terminal's ranges and leases change only while its LabTerminal row is locked (`select_for_update`), and
`current` moves in the same transaction as the patient (or lease) that carries the numbers, so numbers of one
terminal are distinct and consecutive, and a failed request returns them. Different terminals never wait on each
other. Accepting a leased number needs no lock: the number was decided at lease time; the unique MRN and
client_uuid constraints settle races between replays.

Where ranges may lie: never overlapping (an exclusion constraint), and never inside the online MRN space in use,
i.e. a new range starts above the online counter's last value and contains no number already stored as an MRN
string (`check_range_placement`). Online MRNs are written grouped (`007-10-000`) and offline ones as plain digits
(`710000`), so even when the online counter later passes a range the two MRN strings can never be equal; the
utilisation report shows how far the online counter is from the lowest active range.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import BigIntegerField, Case, F, Q, When
from django.db.models.functions import Cast
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import PermissionDenied

from core.busy import bounded_lock_wait
from core.errors import DomainError
from idseq.models import Counter
from patients.exceptions import MrnTaken
from patients.models import Patient
from patients.services import MRN_COUNTER, save_new_patient
from terminals import devices, incidents
from terminals.incidents import MRN_IN_USE, Collision
from terminals.models import LabTerminal, TerminalLease, TerminalRange
from terminals.values import mrn_value

logger = logging.getLogger("tokenline.terminals")

LEASE_MAX = 10_000  # the most numbers one lease may take (issue #6)
SYNC_BATCH_MAX = 1_000  # the most registrations one sync request may carry (issue #6)
WARNING_PERCENT = 80  # seed 001: "approaching 80 % utilization" -> reconfigure
CRITICAL_PERCENT = 90  # seed 001: "alert when terminal reaches 90 %"; also when the pool extends a terminal

# Seed 001's error messages, byte for byte (MRN_IN_USE is terminals.incidents').
CODE_REQUIRED = "origin_terminal_code is required when offline=True"


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


@dataclass(frozen=True)
class Registration:
    """What `register_offline` did: the patient, and whether this call created it (False: already synced)."""

    patient: Patient
    created: bool


# --- terminals and their keys -----------------------------------------------------------------------------------


def terminal_for(*, code: str, user) -> LabTerminal:
    """The active terminal `code`, if `user` is that terminal's API identity.

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
    if user is None or terminal.user_id != user.pk:
        raise PermissionDenied(f"This key may not use terminal {code}; each terminal uses its own key.")
    return terminal


def issue_terminal_key(*, terminal: LabTerminal) -> str:
    """Give `terminal` a new API key and return it; any earlier key stops working at once.

    The terminal's user (created on first use as `terminal-<code>`, in group `lab_terminal`, no password) keeps its
    patients' history; only its DRF token changes.
    """
    with transaction.atomic():
        if terminal.user is None:
            user, created = User.objects.get_or_create(username=f"terminal-{terminal.code}".lower())
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            terminal.user = user
            terminal.save(update_fields=["user", "updated_at"])
        terminal.user.groups.add(Group.objects.get(name="lab_terminal"))
        Token.objects.filter(user=terminal.user).delete()
        return Token.objects.create(user=terminal.user).key


def revoke_terminal_key(*, terminal: LabTerminal) -> bool:
    """Delete the terminal's API key. Returns whether there was one."""
    deleted, _ = Token.objects.filter(user_id=terminal.user_id).delete() if terminal.user_id else (0, {})
    return bool(deleted)


# --- ranges -----------------------------------------------------------------------------------------------------


def check_range_placement(*, start: int, end: int) -> None:
    """Raise ValidationError unless start..end (inclusive) may become a terminal range.

    Rules: 1 <= start <= end; no overlap with another range (message names its terminal); above the online MRN
    counter's last value; no number already stored as an MRN string. The exclusion constraint repeats the overlap
    rule in the database.
    """
    if not 1 <= start <= end:
        raise ValidationError("A range needs 1 <= start <= end.")
    other = TerminalRange.objects.filter(start__lte=end, end__gte=start).select_related("terminal").first()
    if other is not None:
        raise ValidationError(
            f"{start}-{end} overlaps range {other} of terminal {other.terminal.code}.", code="overlap"
        )
    online_last = online_mrn_last()
    if start <= online_last:
        raise ValidationError(
            f"{start}-{end} reaches into the online MRNs in use (up to {online_last}); start above {online_last}.",
            code="online",
        )
    taken = _numeric_mrns().filter(number__range=(start, end)).values_list("mrn", flat=True).first()
    if taken is not None:
        raise ValidationError(f"{start}-{end} contains MRN {taken}, already registered.", code="taken")


def online_mrn_last() -> int:
    """The online MRN counter's last value (0 before the first online registration)."""
    return Counter.objects.filter(key=MRN_COUNTER).values_list("last_value", flat=True).first() or 0


def _numeric_mrns():
    """Patients whose MRN is plain digits, annotated with its value as `number` (other MRNs get NULL)."""
    return Patient.objects.annotate(
        number=Case(When(mrn__regex=r"^[0-9]{1,18}$", then=Cast("mrn", BigIntegerField())), default=None)
    )


def add_range(*, terminal: LabTerminal, start: int, end: int, created_by=None) -> TerminalRange:
    """Reserve start..end (inclusive) for `terminal`. Raises ValidationError as `check_range_placement`."""
    check_range_placement(start=start, end=end)
    with transaction.atomic():
        return TerminalRange.objects.create(terminal=terminal, start=start, end=end, created_by=created_by)


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
    """Hand out up to `count` consecutive numbers of a terminal's first active range with room.

    Must run inside the caller's transaction, which commits the numbers with the rows that carry them. Locks the
    terminal row until then. Fewer than `count` come back when the range ends first: numbers never span ranges.
    Raises RangeExhausted when no active range (nor the pool) has a number left.
    """
    with bounded_lock_wait(f"terminal {terminal_id}"):  # 503 after TOKENLINE_LOCK_TIMEOUT, as idseq's counters
        terminal = LabTerminal.objects.select_for_update().get(pk=terminal_id)
    block = _range_with_room(terminal) or _extend_from_pool(terminal)
    if block is None:
        raise RangeExhausted(terminal, terminal.ranges.filter(is_active=True).order_by("start").last())
    before = block.percent_used
    first = block.current + 1 if block.current else block.start
    block.current = min(first + count - 1, block.end)
    block.save(update_fields=["current"])
    _log_crossings(terminal, block, before)
    # Passing 90 % with less than a tenth of a range free in all its ranges: extend from the pool, if there is one.
    if block.percent_used >= CRITICAL_PERCENT and offline_pool() and _free_numbers(terminal) * 10 < block.total:
        _extend_from_pool(terminal)
    return terminal, block, range(first, block.current + 1)


def _range_with_room(terminal: LabTerminal) -> TerminalRange | None:
    return (
        terminal.ranges.filter(Q(current=0) | Q(current__lt=F("end")), is_active=True).order_by("start").first()
    )


def _free_numbers(terminal: LabTerminal) -> int:
    return sum(r.remaining for r in terminal.ranges.filter(is_active=True))


def _log_crossings(terminal: LabTerminal, block: TerminalRange, before: float) -> None:
    """Log once when a range passes 80 % (warning) and 90 % (critical), after the numbers commit.

    `current` only moves up, so each threshold is crossed by exactly one allocation."""
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


def _extend_from_pool(terminal: LabTerminal) -> TerminalRange | None:
    """Give the locked `terminal` the pool's next free block of its latest range's size; None when impossible.

    Two terminals extending at once may pick the same block: the exclusion constraint makes the second wait for
    the first and fail, in a savepoint, and it then looks again past the first's new range.
    """
    pool = offline_pool()
    latest = terminal.ranges.order_by("-created_at", "-pk").first()
    if pool is None or latest is None:
        return None
    for _attempt in range(3):
        start = _next_free_block(pool, latest.total)
        if start is None:
            return None
        try:
            with transaction.atomic():
                block = TerminalRange.objects.create(
                    terminal=terminal, start=start, end=start + latest.total - 1, from_pool=True
                )
        except IntegrityError:
            continue
        message = f"Terminal {terminal.code} got range {block} from the offline pool"
        transaction.on_commit(lambda: logger.warning(message))
        return block
    return None


def _next_free_block(pool: tuple[int, int], size: int) -> int | None:
    """The lowest start of `size` free numbers in `pool` that `check_range_placement` accepts, or None."""
    first, last = pool
    candidate = max(first, online_mrn_last() + 1)
    for taken in TerminalRange.objects.filter(end__gte=candidate, start__lte=last).order_by("start"):
        if taken.start > candidate + size - 1:
            break
        candidate = max(candidate, taken.end + 1)
    if candidate + size - 1 > last:
        return None
    try:
        check_range_placement(start=candidate, end=candidate + size - 1)
    except ValidationError:
        return None
    return candidate


# --- leases and registrations -----------------------------------------------------------------------------------


def lease_block(*, terminal_code: str, user, count: int, device_id: str = "",
                request_id: uuid.UUID | None = None) -> TerminalLease:
    """Lease up to `count` numbers of the terminal's range for it to number patients itself while offline.

    Args:
        terminal_code: the terminal's code; `user` must be its API identity.
        count: 1..10,000. The lease is shorter when the current range ends first (a lease never spans two
            ranges); lease again for the rest.
        device_id: the client's device identity (issue #14); only that device may sync the lease's numbers.
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
    """Register a patient offline for terminal `terminal_code` (seed 001, issue #6).

    Args:
        terminal_code: the terminal's code; `user` must be its API identity.
        mrn: the number the terminal printed from one of its leases, stored unchanged ("710042"); None to take the
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
              registered_at: datetime | None = None, **demographics) -> Registration:
    """`register_offline` for a terminal already checked by `terminal_for`."""
    if client_uuid is not None:
        existing = _already_synced(terminal, client_uuid, mrn)
        if existing is not None:
            return Registration(existing, created=False)
    patient = Patient(
        **demographics,
        created_by=user,
        origin_terminal=terminal,
        is_offline_entry=True,
        synced_at=timezone.now(),
        registered_at=registered_at,
        client_uuid=client_uuid,
    )
    # Issue #14: the terminal's day, not the server's, bounds the date of birth (its clock may run a day ahead).
    dob_not_after = timezone.localdate(registered_at) + timedelta(days=1) if registered_at else None
    if mrn is not None:
        devices.check_device(terminal=terminal, lease=_check_leased(terminal, mrn), device_id=device_id, mrn=mrn)
    try:
        if mrn is None:
            # Seed 001: the terminal range's next number, taken in the same transaction as the insert. Validation
            # runs under the terminal's lock here, which only that terminal's own requests wait for.
            with transaction.atomic():
                save_new_patient(patient, carried_mrn=str(_take_numbers(terminal.pk, 1)[2].start),
                                 dob_not_after=dob_not_after)
        else:
            save_new_patient(patient, carried_mrn=mrn, dob_not_after=dob_not_after)
    except Exception as exc:
        # A unique violation: a replay of this registration committed first (copies sent in parallel), or the MRN
        # belongs to another record (MrnTaken). Anything else goes up unchanged.
        existing = client_uuid and _already_synced(terminal, client_uuid, mrn)
        if existing:
            return Registration(existing, created=False)
        if isinstance(exc, MrnTaken):
            if client_uuid is not None and mrn is not None:  # two printed slips, one number: an incident
                raise Collision(incidents.record_collision(terminal=terminal, refused=patient,
                                                           device_id=device_id)) from None
            raise DomainError(MRN_IN_USE) from None
        raise
    return Registration(patient, created=True)


def _already_synced(terminal: LabTerminal, client_uuid: uuid.UUID, mrn: str | None) -> Patient | None:
    """The patient stored with `client_uuid`, if it is this same registration; DomainError (409) when it is another."""
    patient = Patient.objects.filter(client_uuid=client_uuid).first()
    if patient is None:
        return None
    if patient.origin_terminal_id != terminal.pk:
        raise DomainError(f"client_uuid {client_uuid} was synced by another terminal.")
    if mrn is not None and patient.mrn != mrn and not incidents.renumbered_by_incident(client_uuid=client_uuid,
                                                                                       patient=patient):
        raise DomainError(f"client_uuid {client_uuid} was already synced with MRN {patient.mrn}, not {mrn}.")
    return patient


def _check_leased(terminal: LabTerminal, mrn: str) -> TerminalLease:
    """The lease of `terminal` holding `mrn` (only its `device_id` loaded); NotLeased unless `mrn` is plain digits
    inside one of them."""
    number = mrn_value(mrn)
    if number is None or str(number) != mrn:  # offline numbers are written as plain digits, one writing per number
        raise NotLeased(f"MRN {mrn!r} is not a number of terminal {terminal.code}'s leases.")
    lease = TerminalLease.objects.filter(terminal=terminal, start__lte=number, end__gte=number).only(
        "device_id").first()
    if lease is None:
        raise NotLeased(f"MRN {mrn} lies outside every lease of terminal {terminal.code}.")
    return lease


def sync_registrations(*, terminal_code: str, user, registrations: list, device_id: str = "") -> list:
    """Store a batch of a terminal's offline registrations, each independently (issue #6).

    Args:
        registrations: up to 1,000 items; each a dict of `register_offline` arguments (with `mrn` and
            `client_uuid`), or an exception already raised for it (e.g. it failed validation).
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
    outcomes = []
    for item in registrations:
        if isinstance(item, Exception):
            outcomes.append(item)
            continue
        try:
            outcomes.append(_register(terminal, user=user, device_id=device_id,
                                      **{"mrn": None, "client_uuid": None, **item}))
        except Exception as exc:  # one item's failure never drops the others; nothing was written for it
            outcomes.append(exc)
    return outcomes
