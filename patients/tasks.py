"""Background tasks of patients (django-tasks; run by `manage.py db_worker`)."""

from django_tasks import task

from patients import imports


@task()
def run_import_task(job_id: int) -> dict:
    """Import an uploaded CSV (patients.imports.run); returns the counts."""
    return imports.run(job_id=job_id)
