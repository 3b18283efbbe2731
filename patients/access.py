"""Access records: who read which patient's details, when, and through what (patients.models.PatientAccess).

Every path that shows one patient's details (the patient page, the correction form, the REST API's detail, the FHIR
read, the slips, the admin's change page) calls `record_read` in the same request, before answering: one INSERT,
in autocommit, so the record stays even if rendering the answer fails afterwards. A search calls `record_search`
with its kind and result count, never the text (a name or CNIC typed into a search box is patient data itself). An
export records one row per patient exported (`exported`). Registration and token issue are writes, audited by the
patient's history, not reads.

Records older than TOKENLINE_ACCESS_LOG_DAYS are deleted by `prune` (`manage.py prune_access_log`).
"""

from collections.abc import Iterable, Iterator
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from core.requests import current_request_id
from patients.models import Patient, PatientAccess

Channel = PatientAccess.Channel
EXPORT_BATCH = 5000  # export rows recorded per INSERT
KIND_LENGTH = PatientAccess._meta.get_field("search_kind").max_length


def _request_id() -> str:
    """The running request's id (core.requests), or "" outside a request (a management command)."""
    request_id = current_request_id()
    return "" if request_id == "-" else request_id


def _reader(user):
    """`user` when it is a saved user, else None (a command line run, an anonymous request)."""
    return user if getattr(user, "pk", None) is not None else None


def record_read(*, user, patient: Patient, channel: str) -> PatientAccess:
    """Record that `user` read `patient`'s details through `channel` (a PatientAccess.Channel value), now.

    Returns:
        the saved PatientAccess (one INSERT).
    """
    return PatientAccess.objects.create(
        user=_reader(user), patient=patient, channel=channel, request_id=_request_id()
    )


def record_search(*, user, channel: str, kind: str, count: int) -> PatientAccess:
    """Record that `user` searched patients through `channel`: the search's `kind` (e.g. "name", "mrn",
    "cnic+dob"; "all" for a list without criteria) and how many patients it found (`count`, as the page or API
    counted them, possibly capped). The text searched for is never stored.

    Returns:
        the saved PatientAccess (one INSERT).
    """
    return PatientAccess.objects.create(
        user=_reader(user), channel=channel, search_kind=(kind or "all")[:KIND_LENGTH], result_count=count,
        request_id=_request_id(),
    )


def exported(patients: Iterable[Patient], *, user=None) -> Iterator[Patient]:
    """Yield `patients` (e.g. an export's iterator), having recorded an export read of each first, EXPORT_BATCH
    at a time (one INSERT per batch), so every row written out has its record.

    Args:
        patients: the patients being exported, in export order.
        user: who exports, or None for a command run without one.
    """
    batch: list[Patient] = []
    for patient in patients:
        batch.append(patient)
        if len(batch) == EXPORT_BATCH:
            yield from _record_export_batch(batch, user)
            batch = []
    yield from _record_export_batch(batch, user)


def _record_export_batch(batch: list[Patient], user) -> list[Patient]:
    now, request_id, reader = timezone.now(), _request_id(), _reader(user)
    PatientAccess.objects.bulk_create(
        PatientAccess(at=now, user=reader, patient=patient, channel=Channel.EXPORT, request_id=request_id)
        for patient in batch
    )
    return batch


def prune(*, days: int | None = None) -> int:
    """Delete access records older than `days` days (default settings.TOKENLINE_ACCESS_LOG_DAYS).

    Returns:
        how many records were deleted (one DELETE statement: nothing refers to these rows).
    Raises:
        ValueError: when `days` is below 1 (that would delete today's records).
    """
    days = settings.TOKENLINE_ACCESS_LOG_DAYS if days is None else days
    if days < 1:
        raise ValueError(f"Keep access records for at least 1 day, not {days}.")
    deleted, _ = PatientAccess.objects.filter(at__lt=timezone.now() - timedelta(days=days)).delete()
    return deleted
