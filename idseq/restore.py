"""Restoring a backup that does not reach the last moment before the crash (a nightly dump, a PITR that lost the
last WAL): every number printed between the backup and the crash is missing from the restored database, and its
counters would issue each of them again, to another patient.

`skip_after_restore` moves every counter past those numbers: past a margin the operator states (more than were
issued in the lost time), or past the highest number known from outside (a printed slip, a lab report, a
terminal's outbox). The values passed over become reservations owned by `RESTORE_OWNER` with the reason "skipped
after restore on <date>", issued by nobody, so `idseq_check` sees them accounted for (not missing) and no one may
issue them again (a claim of one is refused as reserved). Terminals' lease cursors move by the margin too.

Run it once, on the restored database, before any desk is let in (`manage.py idseq_after_restore`).
"""

import datetime
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from idseq.exceptions import IdseqError
from idseq.formats import Period, scope_of
from idseq.models import Counter, IssuedNumber, Reservation, Sequence
from idseq.services import HEALTH_KEY, _locked_counter, _sequence
from idseq.signals import restore_scopes

RESTORE_OWNER = "restore"  # the owner of the reservations that hold the values skipped after a restore
MAX_DAYS = 31  # days from the newest ledger row to today whose scopes are covered; older ones are long closed


@dataclass(frozen=True)
class Skipped:
    """One counter moved: `counter` (its key), the values passed over `first`..`last` (reserved values of other
    owners in between left as they were) and their ids as printed."""

    counter: str
    first: int
    last: int
    first_id: str
    last_id: str

    def __str__(self):
        return f"{self.counter}: skipped {self.first_id}..{self.last_id} ({self.last - self.first + 1} values)"


def skip_after_restore(
    *, margin: int = 0, known: list[tuple[str, str]] = (), today: datetime.date | None = None, by=None
) -> list[Skipped]:
    """Move every sequence's counter past the numbers a lost stretch of time may have printed.

    Counters covered: every sequence counter in the database; each sequence's current period (today for daily,
    this year for yearly) and each caller's scope the apps name for the days from the newest ledger row to
    `today` (`signals.restore_scopes`: queues' days, slots), created when missing; bare counters of
    `allocate()` (moved by `margin`, with no ledger). Retired sequences too (one may have been reactivated after
    the backup); not the health check's (its numbers are rolled back, never printed).

    Args:
        margin: values to pass over on every counter (and every lease cursor of a reservation), >= 0; choose more
            than the busiest counter issues in the time the backup may have lost.
        known: (sequence key, id) pairs known to have been printed, e.g. `("mrn", "001-00-326")`,
            `("visit-token", "VT-GEN-20261207-0042")`, `("INV", "INV-AAA0042")`: the counter of the id's period
            passes it (by `margin` more, when given). An unknown valid prefix creates its sequence (it may have
            been created after the backup).
        today: the day of the restore, in TIME_ZONE (default: today); it names the reservations' reason.
        by: the user who ran it, kept on the reservations.
    Returns:
        One `Skipped` per counter moved, in key order.
    Raises:
        IdseqError (400): `margin` < 0, nothing asked for, or a known id lying in another owner's reservation (a
            terminal's number is no counter's; give the highest number the counter issued).
        InvalidId / UnknownSequence: a known id not in its sequence's format, or an unknown key.
    """
    if margin < 0:
        raise IdseqError(f"The margin is a number of values, at least 0 (got {margin}).")
    if not margin and not known:
        raise IdseqError("Give a margin, or the highest ids known to have been printed, or both.")
    today = today or timezone.localdate()
    above: dict[tuple[int, str], int] = {}
    sequences = {sequence.pk: sequence for sequence in Sequence.objects.exclude(key=HEALTH_KEY)}
    for key, formatted in known:
        sequence = _sequence(key, create=True)
        sequences[sequence.pk] = sequence
        value, scope = sequence.id_format.parse(formatted)
        above[sequence.pk, scope] = max(value, above.get((sequence.pk, scope), 0))
    periods = set(above) if not margin else {*above, *_periods(sequences, today)}
    reason = f"skipped after restore on {today.isoformat()}"
    skipped = []
    for sequence_id, scope in sorted(periods, key=lambda period: (sequences[period[0]].key, period[1])):
        moved = _skip(sequences[sequence_id], scope, margin=margin, above=above.get((sequence_id, scope)),
                      reason=reason, by=by)
        if moved is not None:
            skipped.append(moved)
    if margin:
        skipped.extend(_skip_bare_counters_and_leases(margin))
    return skipped


def _periods(sequences: dict[int, Sequence], today: datetime.date) -> set[tuple[int, str]]:
    """The (sequence id, scope) pairs a margin covers: every sequence counter, each sequence's current period,
    and the scopes the apps name for each day since the newest ledger row."""
    periods = set(Counter.objects.filter(sequence_id__in=sequences).values_list("sequence_id", "scope"))
    by_key = {sequence.key: sequence for sequence in sequences.values()}
    newest = IssuedNumber.objects.aggregate(at=Max("issued_at"))["at"]
    first_day = max(timezone.localdate(newest) if newest else today, today - datetime.timedelta(days=MAX_DAYS))
    for sequence in sequences.values():
        if sequence.reset != Period.SCOPED:
            periods.add((sequence.pk, scope_of(sequence.reset, today)))
    for _, pairs in restore_scopes.send(sender=None, since=min(first_day, today), until=today):
        periods.update((by_key[key].pk, scope) for key, scope in pairs if key in by_key)
    return periods


def _skip(sequence: Sequence, scope: str, *, margin: int, above: int | None, reason: str, by) -> Skipped | None:
    """Move one counter (locked until this function's transaction commits) past `margin` more values, or past
    value `above` (+ `margin`), reserving what it passes over; None when it need not move."""
    id_format = sequence.id_format
    with transaction.atomic():
        counter = _locked_counter(sequence, scope)
        recorded = IssuedNumber.objects.filter(sequence=sequence, scope=scope).aggregate(m=Max("value"))["m"] or 0
        last = max(counter.last_value, recorded, sequence.start_value - 1)
        if above is not None:
            holder = _reservations(sequence, scope, above, above).exclude(owner=RESTORE_OWNER).first()
            if holder is not None and holder.first_value > last:
                raise IdseqError(
                    f"{id_format.render(above, scope)} is reserved for {holder.owner}: it is not a number the "
                    f"counter of {sequence.key!r} issued. Give the highest number the counter issued."
                )
        target = min(max(last, above or 0) + margin, id_format.last_value)
        # A counter never stops inside a reservation: it steps over whole reservations (services._advance).
        straddled = _reservations(sequence, scope, target, target).first()
        if straddled is not None:
            target = straddled.last_value
        if target <= last:
            return None
        runs, value = [], last + 1
        for reservation in _reservations(sequence, scope, last + 1, target):
            if reservation.first_value > value:
                runs.append((value, reservation.first_value - 1))
            value = max(value, reservation.last_value + 1)
        if value <= target:
            runs.append((value, target))
        Reservation.objects.bulk_create(
            Reservation(sequence=sequence, scope=scope, first_value=first, last_value=end, next_value=end + 1,
                        issued=0, owner=RESTORE_OWNER, reason=reason, created_by=by)
            for first, end in runs
        )
        counter.last_value = target
        counter.reserved_from = (
            Reservation.objects.filter(sequence=sequence, scope=scope, last_value__gt=target)
            .order_by("first_value").values_list("first_value", flat=True).first()
        )
        counter.save(update_fields=["last_value", "reserved_from", "updated_at"])
    return Skipped(counter.key, last + 1, target, id_format.render(last + 1, scope), id_format.render(target, scope))


def _reservations(sequence: Sequence, scope: str, first: int, last: int):
    return Reservation.objects.filter(
        sequence=sequence, scope=scope, first_value__lte=last, last_value__gte=first
    ).order_by("first_value")


def _skip_bare_counters_and_leases(margin: int) -> list[Skipped]:
    """Move the bare counters of `allocate()` by `margin`, and the lease cursor (`next_value`) of every reservation
    not used up by `margin` (to its end at most): the values a terminal leased after the backup are not handed out
    again, and the terminal may still sync the ones it printed (they lie below the cursor)."""
    skipped = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Counter._meta.db_table} SET last_value = last_value + %s, updated_at = now()"
            " WHERE sequence_id IS NULL RETURNING key, last_value",
            [margin],
        )
        for key, last in sorted(cursor.fetchall()):
            skipped.append(Skipped(key, last - margin + 1, last, str(last - margin + 1), str(last)))
        leases = (
            Reservation.objects.select_for_update()
            .exclude(owner=RESTORE_OWNER).filter(next_value__lte=F("last_value"))
            .select_related("sequence").order_by("sequence__key", "scope", "first_value")
        )
        for reservation in leases:
            first = reservation.next_value
            reservation.next_value = min(first + margin, reservation.last_value + 1)
            reservation.save(update_fields=["next_value"])
            render = reservation.sequence.id_format.render
            skipped.append(Skipped(
                f"{reservation.sequence.counter_key(reservation.scope)} lease of {reservation.owner}", first,
                reservation.next_value - 1, render(first, reservation.scope),
                render(reservation.next_value - 1, reservation.scope),
            ))
    return skipped
