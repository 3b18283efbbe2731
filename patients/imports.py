"""The CSV import page's jobs: check an upload, then import it in the background with progress.

The rules are the command's (`manage.py import_patients`, patients.csv_io and services.import_patients): every
row checked first, all or none unless `skip_invalid`, numbers kept, rows already registered skipped. Here they run
as a django-tasks job (patients.tasks.run_import_task) that records its progress on the ImportJob row, which the
page polls.
"""

import io

from django.utils import timezone
from django.utils.translation import gettext as _, ngettext

from core.errors import DomainError
from core.text import printable
from patients import csv_io, services
from patients.models import ImportJob

MAX_ERRORS_KEPT = 200  # errors listed on the page; the count says how many there are
PROGRESS_EVERY = 500  # rows between progress updates


def check_upload(*, file_name: str, data: bytes, skip_invalid: bool = False, created_by=None) -> ImportJob:
    """Read and check an uploaded CSV (without importing) and keep it as an ImportJob to run later.

    Returns: the job (status CHECKED) with `rows` (data rows), `errors` (messages, first MAX_ERRORS_KEPT) and
        `error_count` (invalid rows: a row with two bad values counts once).
    Raises: csv_io.BadFile for a file that cannot be read (encoding, CSV syntax, columns); nothing is kept.
    """
    text = csv_io.decode(data)
    reading = csv_io.read_patients(text)
    reading.refuse_clashes_with_register()
    return ImportJob.objects.create(
        # The browser's file name, shown on the page: printed safely rather than refused.
        file_name=printable(file_name)[:255], csv_text=text, skip_invalid=skip_invalid,
        rows=reading.rows, errors=reading.errors[:MAX_ERRORS_KEPT],
        error_count=len(reading.refused), created_by=created_by,
    )


def start(*, job: ImportJob) -> ImportJob:
    """Queue a checked job for the background worker (`manage.py db_worker`).

    Raises: DomainError (409) when the job is not CHECKED (already started), or when it has invalid rows and was
    not told to skip them.
    """
    from patients.tasks import run_import_task  # the task module imports this one

    if job.status != ImportJob.Status.CHECKED:
        raise DomainError(_("%(file)s is already %(status)s.") % {
            "file": job.file_name, "status": job.get_status_display().lower()})
    if job.error_count and not job.skip_invalid:
        raise DomainError(ngettext(
            "%(file)s has %(count)s invalid row: correct it or skip it.",
            "%(file)s has %(count)s invalid rows: correct them or skip them.", job.error_count,
        ) % {"file": job.file_name, "count": job.error_count})
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
    run_import_task.enqueue(job.pk)
    job.refresh_from_db()
    return job


def run(*, job_id: int) -> dict:
    """The background run: check the rows again (the register may have changed since the upload), recording
    progress, then import them in one transaction. Ends DONE with the counts, or FAILED with the reason; a failed
    run imports nothing. Returns the counts (the task's result)."""
    job = ImportJob.objects.get(pk=job_id)
    ImportJob.objects.filter(pk=job_id).update(status=ImportJob.Status.RUNNING, checked=0)
    try:
        return _run(job)
    except Exception as exc:  # the page must not wait forever on a job that died; the worker logs the traceback
        _finish(job_id, ImportJob.Status.FAILED, message=f"The import stopped ({type(exc).__name__}).")
        raise


def _run(job: ImportJob) -> dict:
    job_id = job.pk

    def counted(rows):
        for number, row in enumerate(rows, 1):
            if number % PROGRESS_EVERY == 0:
                ImportJob.objects.filter(pk=job_id).update(checked=number)
            yield row

    reading = csv_io.read_patients(job.csv_text, progress=counted)
    reading.refuse_clashes_with_register()
    ImportJob.objects.filter(pk=job_id).update(checked=job.rows)
    if reading.refused and not job.skip_invalid:
        return _finish(job_id, ImportJob.Status.FAILED, reading=reading,
                       message=f"{len(reading.refused)} invalid row(s) now; nothing imported.")
    try:
        added = services.import_patients(patients=reading.patients, imported_by=job.created_by)
    except DomainError as exc:
        return _finish(job_id, ImportJob.Status.FAILED, reading=reading, message=f"{exc}. Nothing imported.")
    return _finish(job_id, ImportJob.Status.DONE, reading=reading, imported=len(added),
                   already_registered=len(reading.patients) - len(added))


def refused_rows_csv(job: ImportJob) -> str:
    """The job's invalid rows as CSV, as they were in the file plus a `reason` column, to fix and import again.

    The file is read and checked again against today's register (csv_io.read_patients and the register clashes),
    as the background run does: after an import the rows it imported are registered under their own names and so
    are not refused."""
    reading = csv_io.read_patients(job.csv_text)
    reading.refuse_clashes_with_register()
    out = io.StringIO()
    csv_io.write_refused(out, job.csv_text, reading.refused)
    return out.getvalue()


def _finish(job_id: int, status: str, *, reading=None, message: str = "", imported: int = 0,
            already_registered: int = 0) -> dict:
    errors = reading.errors if reading else []
    invalid = len(reading.refused) if reading else 0
    counts = {"imported": imported, "already_registered": already_registered, "invalid": invalid}
    ImportJob.objects.filter(pk=job_id).update(
        status=status, message=message, errors=errors[:MAX_ERRORS_KEPT], error_count=invalid,
        imported=imported, already_registered=already_registered, finished_at=timezone.now(),
    )
    return counts
