"""Reserved values of a sequence: a lab terminal's range, the offline pool, imported or carried-over
numbers. The counter steps over them (services._advance) without ever moving past a free value, so numbers decided
elsewhere never cost the online sequence anything, however high they are.

Rules, each kept under the sequence period's counter row lock (the same lock allocation holds, so a reservation
and a registration never race): a reservation never overlaps another (also an exclusion constraint) and never
covers an issued value (it starts above the counter; values at or below it are issued, void, reserved or recorded
before the ledger). Its values are issued by its owner only, each recorded in the ledger (`issue_reserved`,
`claim`), and `Reservation.issued` counts them for `idseq_check`.
"""

import bisect
from itertools import groupby

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from idseq.exceptions import AlreadyIssued, IdseqError, NotReserved, ReservationOverlap, ReservedValue
from idseq.models import Counter, IssuedNumber, Reservation, Sequence
from idseq.services import _locked_counter, _record, _sequence


def reserve(
    key: str, first: int, last: int, *, owner: str, reason: str, scope: str = "", created_by=None
) -> Reservation:
    """Reserve values `first`..`last` (inclusive) of sequence `key` in period `scope` for `owner`.

    Runs in the caller's transaction (a savepoint inside it), so the reservation commits with the row that made it
    (a terminal's range, an imported patient). Its owner hands the values out with `take_reserved`.
    Returns: the saved Reservation.
    Raises:
        UnknownSequence: no sequence `key` (404).
        IdseqError (400): `first`/`last` outside 1..the format's last value or reversed.
        ReservationOverlap (400): the values reach into the issued ones (at or below the counter) or overlap another
            reservation (the message and `owner` name it).
    """
    sequence = _sequence(key)
    if not 1 <= first <= last <= sequence.id_format.last_value:
        raise IdseqError(
            f"A reservation of {sequence.key!r} needs 1 <= first <= last <= {sequence.id_format.last_value} "
            f"(got {first}-{last})."
        )
    with transaction.atomic():
        counter = _locked_counter(sequence, scope)
        if first <= counter.last_value and last >= sequence.start_value:  # values below the start are never issued
            raise ReservationOverlap(
                f"{first}-{last} reaches into the numbers of {sequence.key!r} already issued (up to "
                f"{counter.last_value}); start above {counter.last_value}.",
                owner="",
            )
        _refuse_overlap(sequence, scope, first, last)
        try:
            with transaction.atomic():
                reservation = Reservation.objects.create(
                    sequence=sequence, scope=scope, first_value=first, last_value=last,
                    next_value=first, owner=owner[:100], reason=reason[:200],
                    created_by=created_by,
                )
        except IntegrityError:  # the exclusion constraint: only possible if someone bypassed the counter lock
            _refuse_overlap(sequence, scope, first, last)
            raise
        _note_reservation(counter, first)
    return reservation


def _refuse_overlap(sequence: Sequence, scope: str, first: int, last: int) -> None:
    other = _overlapping(sequence, scope, first, last).first()
    if other is not None:
        raise ReservationOverlap(
            f"{first}-{last} overlaps {other.first_value}-{other.last_value}, reserved for {other.owner}.",
            owner=other.owner,
        )


def _overlapping(sequence: Sequence, scope: str, first: int, last: int):
    return Reservation.objects.filter(
        sequence=sequence, scope=scope, first_value__lte=last, last_value__gte=first
    ).order_by("first_value")


def _note_reservation(counter: Counter, first: int) -> None:
    """Keep `counter.reserved_from` (the lowest reservation above the counter) true after reserving from `first`."""
    if counter.reserved_from is None or first < counter.reserved_from:
        counter.reserved_from = first
        counter.save(update_fields=["reserved_from", "updated_at"])


def take_reserved(reservation: Reservation, count: int) -> range:
    """Hand out up to `count` values of `reservation` in order (a terminal's lease or next offline number); fewer
    when it ends first, none (an empty range) when it is used up. Locks the reservation row until the caller's
    transaction commits, so concurrent takers get distinct values. Raises IdseqError for `count < 1`."""
    if count < 1:
        raise IdseqError(f"count must be at least 1 (got {count}).")
    with transaction.atomic():
        locked = Reservation.objects.select_for_update().get(pk=reservation.pk)
        first = locked.next_value
        last = min(first + count - 1, locked.last_value)
        if last >= first:
            locked.next_value = last + 1
            locked.save(update_fields=["next_value"])
    reservation.next_value = locked.next_value
    return range(first, last + 1)


def issue_reserved(key: str, value: int, *, owner: str, scope: str = "", issued_by=None, purpose: str = "") -> str:
    """Record in the ledger value `value` of sequence `key`, handed out from a reservation of `owner` (a lab
    terminal's leased number reaching the server); return its id (`007-10-042`).

    Locks the reservation row until the caller's transaction commits (one owner's values are recorded one at a
    time; other owners and online registration do not wait).
    Raises:
        NotReserved (422): `value` lies in no reservation, or was never handed out of it (`take_reserved`).
        ReservedValue (409): it lies in another owner's reservation (names the owner).
        AlreadyIssued (409): it was recorded before.
    """
    sequence = _sequence(key)
    with transaction.atomic():
        reservation = (
            Reservation.objects.select_for_update()
            .filter(sequence=sequence, scope=scope, first_value__lte=value, last_value__gte=value)
            .first()
        )
        if reservation is None or (reservation.owner == owner and value >= reservation.next_value):
            raise NotReserved(f"{value} was never handed out to {owner}.")
        if reservation.owner != owner:
            raise ReservedValue(f"{value} is reserved for {reservation.owner}.", owner=reservation.owner)
        formatted = sequence.id_format.render(value, scope)
        if IssuedNumber.objects.filter(sequence=sequence, scope=scope, value=value).exists():
            raise AlreadyIssued(f"{formatted} was issued before; a number is never issued twice.")
        _record(sequence, scope, [value], [formatted], at=timezone.now(), issued_by=issued_by, purpose=purpose,
                claim=None)
        Reservation.objects.filter(pk=reservation.pk).update(issued=F("issued") + 1)
    return formatted


def claim(
    key: str, values: list[int], *, owner: str, reason: str, scope: str = "", issued_by=None, purpose: str = "",
    record: bool = True,
) -> list[str]:
    """Issue numbers decided outside the counter (a carried-over paper card, an earlier system's records) without
    moving the counter. Values above the counter are reserved for `owner` in runs of consecutive
    values (one reservation per run) and recorded in the ledger; values at or below it must be neither issued nor
    reserved (numbers from before the ledger), and are kept as they are. Returns their ids, in `values` order.

    Runs in the caller's transaction, under the counter's row lock. With `record` False the values above the
    counter are only reserved, and their ledger rows are written later by `record_claimed`, in another transaction
    that holds no counter lock (an import: the desks never wait for its ledger rows); values already in a
    reservation of `owner` that none of them was recorded from (an earlier such claim whose rows never went in)
    are then accepted as they are, so the import can be rerun.
    Raises:
        UnknownSequence (404); IdseqError (400) for a value outside the format;
        ReservedValue (409): a value lies in a reservation (of a terminal, the pool, an earlier claim), naming it;
        AlreadyIssued (409): a value at or below the counter was voided.
    """
    sequence = _sequence(key)
    id_format = sequence.id_format
    if any(not 1 <= value <= id_format.last_value for value in values):
        raise IdseqError(f"Numbers of {sequence.key!r} lie in 1..{id_format.last_value}.")
    ordered = sorted(set(values))
    with transaction.atomic():
        counter = _locked_counter(sequence, scope)
        if not record:
            ordered = _outside_unrecorded_reservations(sequence, scope, ordered, owner)
        _refuse_reserved(sequence, scope, ordered)
        low = ordered[: bisect.bisect_right(ordered, counter.last_value)]
        for start in range(0, len(low), 10_000):
            voided = (
                IssuedNumber.objects.filter(sequence=sequence, scope=scope, value__in=low[start : start + 10_000],
                                            voided_at__isnull=False)
                .values_list("formatted", flat=True)
                .first()
            )
            if voided is not None:
                raise AlreadyIssued(f"{voided} was voided; a number is never issued twice.")
        high = ordered[len(low):]
        if high:
            # No value of `high` is reserved (checked above), so neither is any run of them: one INSERT for all.
            runs = [[value for _, value in run] for _, run in groupby(enumerate(high), key=lambda p: p[1] - p[0])]
            Reservation.objects.bulk_create(
                Reservation(sequence=sequence, scope=scope, first_value=run[0], last_value=run[-1],
                            next_value=run[-1] + 1, issued=len(run) if record else 0, owner=owner[:100],
                            reason=reason[:200], created_by=issued_by)
                for run in runs
            )
            if record:
                _record(sequence, scope, high, [id_format.render(value, scope) for value in high],
                        at=timezone.now(), issued_by=issued_by, purpose=purpose, claim=None)
            _note_reservation(counter, high[0])
    return [id_format.render(value, scope) for value in values]


def _outside_unrecorded_reservations(sequence: Sequence, scope: str, ordered: list[int], owner: str) -> list[int]:
    """The sorted `ordered` values less those lying in a reservation of `owner` nothing was recorded from."""
    if not ordered:
        return ordered
    kept = ordered
    for reservation in _overlapping(sequence, scope, ordered[0], ordered[-1]).filter(owner=owner[:100], issued=0):
        kept = [value for value in kept if not reservation.first_value <= value <= reservation.last_value]
    return kept


def record_claimed(
    key: str, values: list[int], *, owner: str, scope: str = "", issued_by=None, purpose: str = ""
) -> list[str]:
    """Record in the ledger the values of `values` that `claim(..., record=False)` reserved for `owner`, and return
    their ids; values in no reservation (at or below the counter, numbers from before the ledger) are left as they
    are. Locks `owner`'s reservations it records from (never the counter) until the caller's transaction commits.
    Raises:
        ReservedValue (409): a value lies in another owner's reservation (names it).
        CounterBehindLedger (503): a value is in the ledger already.
    """
    sequence = _sequence(key)
    ordered = sorted(set(values))
    if not ordered:
        return []
    recorded: list[int] = []
    with transaction.atomic():
        reservations = _overlapping(sequence, scope, ordered[0], ordered[-1]).select_for_update()
        for reservation in reservations:
            start = bisect.bisect_left(ordered, reservation.first_value)
            inside = ordered[start : bisect.bisect_right(ordered, reservation.last_value)]
            if not inside:
                continue
            if reservation.owner != owner[:100]:
                value = sequence.id_format.render(inside[0], scope)
                raise ReservedValue(f"{value} is reserved for {reservation.owner}.", owner=reservation.owner)
            Reservation.objects.filter(pk=reservation.pk).update(issued=F("issued") + len(inside))
            recorded.extend(inside)
        ids = [sequence.id_format.render(value, scope) for value in recorded]
        if recorded:
            _record(sequence, scope, recorded, ids, at=timezone.now(), issued_by=issued_by, purpose=purpose,
                    claim=None)
    return ids


def _refuse_reserved(sequence: Sequence, scope: str, ordered: list[int]) -> None:
    """Raise ReservedValue when any of the sorted `ordered` values lies in a reservation."""
    if not ordered:
        return
    for reservation in _overlapping(sequence, scope, ordered[0], ordered[-1]).iterator():
        index = bisect.bisect_left(ordered, reservation.first_value)
        if index < len(ordered) and ordered[index] <= reservation.last_value:
            value = sequence.id_format.render(ordered[index], scope)
            raise ReservedValue(f"{value} is reserved for {reservation.owner}.", owner=reservation.owner)


def reserve_free(
    key: str, first: int, last: int, *, size: int | None = None, owner: str, reason: str, scope: str = "",
    created_by=None,
) -> Reservation | None:
    """Reserve for `owner` the lowest free values within `first`..`last` above the counter: `size` consecutive
    ones, or with `size` None the whole first free run (the offline pool's region). None when there is no room.
    Raises as `reserve`."""
    sequence = _sequence(key)
    with transaction.atomic():
        counter = _locked_counter(sequence, scope)
        candidate, gap_end = max(first, counter.last_value + 1), last
        for reservation in _overlapping(sequence, scope, candidate, last).iterator():
            if reservation.first_value > candidate and (size is None or reservation.first_value - candidate >= size):
                gap_end = reservation.first_value - 1
                break
            candidate = max(candidate, reservation.last_value + 1)
        end = gap_end if size is None else candidate + size - 1
        if candidate > end or end > gap_end:
            return None
        return reserve(key, candidate, end, owner=owner, reason=reason, scope=scope, created_by=created_by)


def carve(
    reservation: Reservation, size: int, *, owner: str, reason: str, created_by=None
) -> Reservation | None:
    """Move the first `size` values of `reservation` (the offline pool) to a new reservation of `owner` (a lab
    terminal's range) and return it; None when fewer than `size` are left. The source shrinks (and goes once
    empty), so the two never overlap; none of its values is handed out yet. Locks the counter, then the source row, until the
    caller commits."""
    with transaction.atomic():
        _locked_counter(reservation.sequence, reservation.scope)
        source = Reservation.objects.select_for_update().filter(pk=reservation.pk).first()
        if source is None or source.total < size:
            return None
        first = source.first_value
        if source.total == size:
            source.delete()
        else:
            source.first_value = source.next_value = first + size
            source.save(update_fields=["first_value", "next_value"])
        return Reservation.objects.create(
            sequence=source.sequence, scope=source.scope, first_value=first, last_value=first + size - 1,
            next_value=first, owner=owner[:100], reason=reason[:200],
            created_by=created_by,
        )
