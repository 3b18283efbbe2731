"""The import page checks an uploaded CSV, shows a summary, runs the import in the background
(django-tasks, database backend) with a progress bar and ends with a report."""

import io
import os
import subprocess
import sys

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from core.errors import DomainError
from patients import imports
from patients.models import ImportJob, Patient
from tests.conftest import CHROMIUM, browser_context, database_url, make_user

GOOD = "mrn,full_name,dob,sex\n001-00-001,Ayesha Khan,1990-05-01,F\n02-00-002,Imran Ali,,M\n"
MIXED = GOOD + "001-00-003,,1990-01-01,F\n001-00-004,Bad Date,1990-13-01,M\n"


@pytest.fixture
def ops(db):
    client = Client()
    client.force_login(make_user("opsuser", "ops"))
    return client


def upload(client, text: str, **extra):
    return client.post("/patients/import/", {"file": SimpleUploadedFile("patients.csv", text.encode()), **extra})


def work() -> None:
    """Run the queued tasks as `manage.py db_worker` does, then stop."""
    call_command("db_worker", batch=True, no_startup_delay=True, stdout=io.StringIO(), stderr=io.StringIO())


def test_an_upload_is_checked_and_summarised_before_anything_is_imported(ops):
    response = upload(ops, MIXED)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response.url == f"/patients/import/{job.pk}/"
    page = ops.get(response.url).content.decode()
    assert (job.rows, job.valid, job.error_count) == (4, 2, 2)
    assert "line 4, full_name" in page and "line 5, dob" in page and 'data-testid="run-import"' not in page
    assert not Patient.objects.exists()
    with pytest.raises(DomainError, match="2 invalid row"):
        imports.start(job=job)


def test_a_file_that_cannot_be_read_is_a_form_error(ops):
    response = upload(ops, "name\nAyesha\n")
    assert response.status_code == 200 and "missing column(s) mrn, full_name" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_reception_cannot_import(desk):
    assert desk.get("/patients/import/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_background_run_imports_and_reports(db):
    make_user("opsuser", "ops")
    job = imports.check_upload(file_name="a.csv", data=MIXED.encode(), skip_invalid=True)
    imports.start(job=job)
    assert ImportJob.objects.get().status == ImportJob.Status.QUEUED
    work()
    job.refresh_from_db()
    assert (job.status, job.imported, job.already_registered, job.error_count, job.percent) == ("done", 2, 0, 2, 100)
    assert sorted(Patient.objects.values_list("mrn", flat=True)) == ["001-00-001", "002-00-002"]
    again = imports.check_upload(file_name="a.csv", data=GOOD.encode())
    imports.start(job=again)
    work()
    again.refresh_from_db()
    assert (again.imported, again.already_registered) == (0, 2)  # the same file twice adds nothing


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")
@pytest.mark.django_db(transaction=True)
def test_ops_uploads_runs_and_watches_the_import_in_the_browser(live_server, tmp_path):
    user = make_user("opsuser", "ops")
    csv_file = tmp_path / "patients.csv"
    csv_file.write_text(GOOD)
    test_database = database_url()  # read before the browser starts (see browser_context)
    with browser_context(live_server, user) as context:
        page = context.new_page()
        page.goto("/patients/import/")
        page.set_input_files("input[type=file]", str(csv_file))
        page.click("[data-testid=check]")
        page.wait_for_selector("[data-testid=run-import]")
        assert page.text_content("[data-testid=valid]") == "2"
        page.click("[data-testid=run-import]")
        page.wait_for_selector("[data-testid=import-bar]")
        worker = subprocess.run(  # the worker of a real deployment: its own process, on the test database
            [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay"],
            env={**os.environ, "DATABASE_URL": test_database}, capture_output=True, timeout=60,
        )
        page.wait_for_selector("[data-testid=import-result]", timeout=10_000)
        result = page.text_content("[data-testid=import-result]")
        assert not context.blocked
    assert worker.returncode == 0, worker.stderr.decode()[-2000:]
    assert "Imported 2 patient(s); 0 already registered." in result
    assert Patient.objects.count() == 2


# 6 rows, 4 of them bad: two with two bad values each, one repeating an MRN, one with too many values.
FOUR_BAD = (GOOD + "001-00-003,,1990-13-01,F\n"
            "bad-mrn,Bad Sex,1990-01-01,Q\n"
            "001-00-001,Ayesha Again,,F\n"
            "001-00-006,Too Many,1990-01-01,F,extra\n")


def test_the_summary_counts_rows_not_messages_and_the_refused_rows_download_to_fix_and_import_again(ops):
    job = ImportJob.objects.get(pk=upload(ops, FOUR_BAD).url.rstrip("/").rsplit("/", 1)[1])
    assert (job.rows, job.valid, job.error_count) == (6, 2, 4)
    assert len(job.errors) == 6  # two rows have two messages each
    page = ops.get(f"/patients/import/{job.pk}/").content.decode()
    assert "<dd>6</dd>" in page and '<dd data-testid="invalid">4' in page and 'data-testid="refused-csv"' in page
    download = ops.get(f"/patients/import/{job.pk}/refused.csv")
    assert download["Content-Type"].startswith("text/csv")
    assert 'filename="patients-refused.csv"' in download["Content-Disposition"]
    lines = download.content.decode().splitlines()
    assert lines[0] == "mrn,full_name,dob,sex,reason"
    assert lines[1].startswith("001-00-003,,1990-13-01,F,") and "full_name:" in lines[1] and "dob:" in lines[1]
    assert lines[2].startswith("bad-mrn,Bad Sex,1990-01-01,Q,") and "mrn:" in lines[2] and "sex:" in lines[2]
    assert lines[3] == "001-00-001,Ayesha Again,,F,mrn: 001-00-001 repeats line 2"
    assert lines[4].startswith("001-00-006,Too Many,1990-01-01,F,") and "more values than columns" in lines[4]
    assert len(lines) == 5
    fixed = "\n".join([lines[0], "001-00-003,Fixed Name,1990-12-01,F,x", "001-00-007,Bad Sex,1990-01-01,F,"]) + "\n"
    again = ImportJob.objects.get(pk=upload(ops, fixed).url.rstrip("/").rsplit("/", 1)[1])
    assert (again.rows, again.error_count) == (2, 0)  # the reason column is ignored
