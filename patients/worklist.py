"""The duplicates worklist: pairs of records the scorer finds likely to be one patient (patients/duplicates.py),
queued for ops and admins to decide "same patient" (merge, patients/merge.py) or "not the same" (remembered).

Pairs are queued when a record arrives that nobody at a desk looked at: an offline registration synced from a lab
terminal, an imported row (both are stored as they come, their printed MRNs working, never refused for being a
likely duplicate), and by `manage.py find_duplicates` over recent registrations.
"""

import logging

from django.db import DatabaseError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError
from patients.duplicates import Record, likely_duplicates, likely_pairs_among
from patients.models import DuplicatePair, Patient

OFFLINE = "offline sync"
IMPORT = "import"
SCAN = "scan"
FRESH_STATISTICS_AFTER = 1000  # patients imported at once after which the table is analysed before the lookup
log = logging.getLogger("tokenline.patients")


def queue_pairs_for(patient: Patient, *, source: str) -> list[DuplicatePair]:
    """Queue on the worklist every likely duplicate of `patient` (active, not merged away) not queued before; a
    pair decided before ("not the same", merged) is left as decided. Returns the pairs newly queued.

    Never raises for a database error: queueing is a hint, and the record it concerns is saved already (offline
    sync and import must not fail because of it). Runs in a savepoint of the caller's transaction, if any.
    """
    try:
        with transaction.atomic():
            return _queue(patient, source)
    except DatabaseError:
        log.exception("Could not queue the likely duplicates of %s", patient.mrn)
        return []


def _queue(patient: Patient, source: str) -> list[DuplicatePair]:
    others = Patient.objects.filter(is_active=True, merged_into__isnull=True)
    found = likely_duplicates(others, Record.of(patient), exclude_pk=patient.pk)
    pairs = [
        DuplicatePair(low_id=min(patient.pk, other.pk), high_id=max(patient.pk, other.pk), score=match.score,
                      reasons=match.reasons, source=source)
        for other, match in found
    ]
    if not pairs:
        return []
    before = set(
        DuplicatePair.objects.filter(
            Q(low=patient) | Q(high=patient)
        ).values_list("low_id", "high_id")
    )
    fresh = [pair for pair in pairs if (pair.low_id, pair.high_id) not in before]
    # ON CONFLICT DO NOTHING: a pair queued meanwhile by another sync, or decided, is left as it is.
    DuplicatePair.objects.bulk_create(fresh, ignore_conflicts=True)
    return fresh


def queue_pairs_for_many(patients: list[Patient], *, source: str) -> int:
    """Queue the likely duplicates of many saved patients (an import) in a few statements
    (patients.duplicates.likely_pairs_among); pairs queued or decided before are left as they are. Returns how many
    likely pairs were found (queued now or before). Never raises for a database error (see `queue_pairs_for`)."""
    ids = [patient.pk for patient in patients if patient.pk is not None]
    try:
        if len(ids) >= FRESH_STATISTICS_AFTER:
            # Thousands of rows just went in: without fresh statistics PostgreSQL would still plan for the table
            # before them (a bitmap scan reading every patient born that day instead of an index scan stopping at
            # the first twenty), 15 times slower on a 10,000-row import.
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {Patient._meta.db_table}")
        with transaction.atomic():
            pairs = [DuplicatePair(low_id=low, high_id=high, score=match.score, reasons=match.reasons, source=source)
                     for low, high, match in likely_pairs_among(ids)]
            return len(DuplicatePair.objects.bulk_create(pairs, ignore_conflicts=True, batch_size=2000))
    except DatabaseError:
        log.exception("Could not queue the likely duplicates of %d imported patients", len(ids))
        return 0


def open_pairs() -> QuerySet:
    """The worklist: open pairs whose records are both still active and unmerged, newest first."""
    return (
        DuplicatePair.objects.filter(status=DuplicatePair.Status.OPEN)
        .filter(low__merged_into__isnull=True, high__merged_into__isnull=True)
        .select_related("low", "high")
        .order_by("-found_at", "-id")
    )


def mark_not_same(pair: DuplicatePair, *, decided_by=None) -> DuplicatePair:
    """Remember that the two records of `pair` are different people: the pair leaves the worklist for good.

    Raises:
        DomainError (409): the pair was decided already (merged, or marked by someone else).
    """
    with transaction.atomic():
        pair = DuplicatePair.objects.select_for_update().get(pk=pair.pk)
        if pair.status != DuplicatePair.Status.OPEN:
            raise DomainError(_("This pair was decided already (%(status)s).") % {"status": pair.get_status_display()})
        pair.status, pair.decided_at, pair.decided_by = DuplicatePair.Status.NOT_SAME, timezone.now(), decided_by
        pair.save(update_fields=["status", "decided_at", "decided_by"])
    return pair
