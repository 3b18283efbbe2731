"""manage.py import_patients / export_patients: all rows or none, numbers kept, idempotent."""

import csv
import io
import random

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from idseq.formats import format_grouped, parse_grouped
from idseq.models import Counter
from patients.csv_io import COLUMNS
from patients.models import Patient
from patients.services import register_patient

HEADER = ",".join(COLUMNS)


def generated_csv(rows: int, seed: int = 5, first: int = 100_001) -> tuple[str, set[str]]:
    """A CSV of `rows` patients with distinct numbers, every tenth in the old xx-xx-xxx format.

    Returns the text and the MRNs the import must keep (old numbers converted).
    """
    rng = random.Random(seed)
    values = rng.sample(range(first, 700_000), rows)  # below seed 001's terminal ranges (reserved)
    out, expected = io.StringIO(), set()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for i, value in enumerate(values):
        mrn = format_grouped(value)
        expected.add(mrn)
        written = mrn[1:] if i % 10 == 0 else mrn  # 001-23-456 was 01-23-456 in the old system
        cnic = f"{35000 + i % 1000:05d}-{i:07d}-{i % 10}" if i % 3 else ""
        writer.writerow([written, f"Patient {i}", f"Father {i}", "1990-01-02", rng.choice("MF"), "0300-1234567", cnic,
                         "", "Lahore", "true", "2020-03-04"])
    return out.getvalue(), expected


def write(tmp_path, text, name="patients.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(path, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_patients", str(path), *args, stdout=out, stderr=err, verbosity=0)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [2_000, pytest.param(10_000, marks=pytest.mark.long)])
def test_an_import_keeps_its_numbers_and_registration_steps_over_them_skipping_nothing(rows, tmp_path):
    text, expected = generated_csv(rows, first=100_003)
    path = write(tmp_path, text)
    out, _ = run(path)
    assert f"Imported {rows} patient(s)" in out
    assert set(Patient.objects.values_list("mrn", flat=True)) == expected
    imported = {parse_grouped(mrn) for mrn in expected}
    assert Counter.objects.get(key="mrn").last_value == 100_000  # no number was skipped
    free = [value for value in range(100_001, 100_010) if value not in imported][:2]
    assert [register_patient(full_name="After the import").mrn for _ in free] == [format_grouped(v) for v in free]
    call_command("idseq_check", stdout=io.StringIO())  # the imported numbers are reserved and in the ledger

    out, _ = run(path)
    assert f"Imported 0 patient(s); {rows} already registered" in out
    assert Patient.objects.count() == rows + 2


@pytest.mark.django_db
def test_registration_dates_and_old_numbers_are_carried_over(tmp_path):
    path = write(tmp_path, f"{HEADER}\n01-23-456,Kashif Ali,,,M,,,,,false,2019-05-06T10:30:00\n")
    run(path)
    patient = Patient.objects.get()
    assert patient.mrn == "001-23-456" and not patient.is_active
    assert timezone.localtime(patient.created_at).isoformat() == "2019-05-06T10:30:00+05:00"  # hospital's time


@pytest.mark.django_db
def test_one_bad_row_imports_nothing_and_names_its_line(tmp_path):
    text, _ = generated_csv(50)
    lines = text.splitlines()
    lines[31] = lines[31].replace("1990-01-02", "1990-13-45")
    path = write(tmp_path, "\n".join(lines) + "\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 invalid row"):
        call_command("import_patients", str(path), stderr=err, verbosity=0)
    assert not Patient.objects.exists()
    assert "line 32, dob:" in err.getvalue()


@pytest.mark.django_db
def test_skip_invalid_imports_the_other_rows(tmp_path):
    path = write(tmp_path, f"{HEADER}\n001-00-001,Good,,,,,,,,,\n1-2-3,Bad number,,,,,,,,,\n001-00-002,,,,,,,,,,\n")
    out, err = run(path, "--skip-invalid")
    assert "Imported 1 patient(s)" in out
    assert "line 3, mrn: '1-2-3' is not an MRN" in err and "line 4, full_name:" in err
    assert list(Patient.objects.values_list("mrn", flat=True)) == ["001-00-001"]


@pytest.mark.django_db
def test_repeated_numbers_and_clashes_with_registered_patients_are_invalid_rows(tmp_path):
    register_patient(full_name="Already Here", cnic="12345-1234567-1")
    path = write(
        tmp_path,
        f"{HEADER}\n001-00-501,A,,,,,11111-1111111-1,,,,\n001-00-501,B,,,,,,,,,\n"
        "001-00-502,C,,,,,11111-1111111-1,,,,\n001-00-503,D,,,,,12345-1234567-1,,,,\n"
        "001-00-001,Someone Else,,,,,,,,,\n",
    )
    err = io.StringIO()
    with pytest.raises(CommandError, match="4 invalid row"):
        call_command("import_patients", str(path), stderr=err, verbosity=0)
    assert "line 3, mrn: 001-00-501 repeats line 2" in err.getvalue()
    assert "line 4, cnic: 11111-1111111-1 repeats line 2" in err.getvalue()
    assert "line 5, cnic: 12345-1234567-1 is already registered as 001-00-001" in err.getvalue()
    assert "line 6, mrn: 001-00-001 is already registered to Already Here" in err.getvalue()
    assert Patient.objects.count() == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"mrn,name\n001-00-001,A\n", "line 1 (header): missing column(s) full_name; unknown column(s) name"),
        (b"mrn,full_name\n001-00-001,Ok\n001-00-002,Caf\xe9\n", "line 3, character 15: not UTF-8"),
        (b'mrn,full_name\n001-00-001,"unterminated\n', "line 2: broken CSV (unexpected end of data)"),
    ],
)
@pytest.mark.django_db
def test_a_file_that_cannot_be_read_is_a_command_error_naming_line_and_column(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(path)
    assert not Patient.objects.exists()


@pytest.mark.django_db
def test_export_writes_what_import_reads(tmp_path):
    register_patient(full_name="Zoë Ahmed", father_name="José", phone="0300-1234567", cnic="12345-1234567-1")
    register_patient(full_name="Bilal, \"Billy\" Ahmed", address="House 1\nStreet 2")
    exported = tmp_path / "export.csv"
    call_command("export_patients", "--output", str(exported), stderr=io.StringIO())
    before = list(Patient.objects.order_by("mrn").values("mrn", "full_name", "cnic", "address", "created_at"))
    Patient.history.all().delete()
    Patient.objects.all().delete()
    run(exported)
    assert list(Patient.objects.order_by("mrn").values("mrn", "full_name", "cnic", "address", "created_at")) == before


@pytest.mark.django_db
def test_an_import_whose_rows_fail_keeps_its_numbers_reserved_and_can_be_rerun():
    """Numbers first, rows after with reservations: the numbers are reserved in a short
    transaction of their own; when the rows then fail, the reservation stays and a rerun takes it up again."""
    from idseq.models import IssuedNumber, Reservation
    from patients.exceptions import DuplicatePatient
    from patients.services import import_patients

    register_patient(full_name="Holds The CNIC", cnic="12345-1234567-1")
    values = (5_000_001, 5_000_002)

    def rows(cnic):
        return [Patient(mrn=format_grouped(values[0]), full_name="First", cnic=cnic),
                Patient(mrn=format_grouped(values[1]), full_name="Second")]

    with pytest.raises(DuplicatePatient):
        import_patients(patients=rows("12345-1234567-1"))
    assert not Patient.objects.filter(full_name__in=["First", "Second"]).exists()
    (block,) = Reservation.objects.filter(owner="import")
    assert (block.first_value, block.last_value, block.issued) == (*values, 0)
    assert not IssuedNumber.objects.filter(value__in=values).exists()
    call_command("idseq_check", stdout=io.StringIO())  # reserved, none issued yet: consistent

    assert len(import_patients(patients=rows(""))) == 2
    (block,) = Reservation.objects.filter(owner="import")
    assert block.issued == 2
    assert sorted(IssuedNumber.objects.filter(value__in=values).values_list("formatted", flat=True)) == [
        format_grouped(value) for value in values]
    assert Counter.objects.get(key="mrn").last_value == 100_001  # never moved by the import
    call_command("idseq_check", stdout=io.StringIO())
