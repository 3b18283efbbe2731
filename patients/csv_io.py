"""The patient CSV shape shared by `import_patients` and `export_patients` (columns in docs/operations/imports.md).

Reading validates every row before anything is written and reports problems by line number, so an import either
has a list of clean patients or a list of what to fix.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.spreadsheet import safe_row, unquote_cell
from patients.models import Patient
from patients.mrn import lenient_mrn

COLUMNS = ("mrn", "full_name", "father_name", "dob", "sex", "phone", "cnic", "email", "address", "is_active",
           "registered_at")
REQUIRED_COLUMNS = ("mrn", "full_name")
# The refused rows' download adds this column (write_refused); reading ignores it, so the fixed file imports as is.
REASON_COLUMN = "reason"
TRUE, FALSE = {"", "1", "true", "yes", "y", "t"}, {"0", "false", "no", "n", "f"}


class BadFile(ValueError):
    """The file as a whole cannot be read (encoding, CSV syntax, columns); the message names line and column."""


@dataclass
class Reading:
    """What a file holds: `rows` (data rows read), valid patients (unsaved, MRN set) with their `lines`, `errors` as
    `line N, column: message` strings (a row may have several), and `refused`: line -> that row's reasons
    (`column: message`), one entry per invalid row, so `len(refused)` counts rows, not messages."""

    patients: list[Patient] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    refused: dict[int, list[str]] = field(default_factory=dict)
    rows: int = 0

    def refuse(self, line: int, message: str, *, column: str = "") -> None:
        """Record that the row on `line` is invalid: `message` about its `column` (blank: about the whole row)."""
        reason = f"{column}: {message}" if column else message
        self.errors.append(f"line {line}, {reason}" if column else f"line {line}: {reason}")
        self.refused.setdefault(line, []).append(reason)

    def refuse_clashes_with_register(self) -> None:
        """Move to `errors` the rows that clash with registered patients: an MRN registered to someone else (another
        name), or an active CNIC registered under another MRN.

        A row whose MRN is registered with the same name is no error: the import skips it, which makes importing
        the same file twice harmless.
        """
        by_mrn = _chunked(
            lambda chunk: Patient.objects.filter(mrn__in=chunk).values_list("mrn", "full_name"),
            [patient.mrn for patient in self.patients],
        )
        by_cnic = _chunked(
            lambda chunk: Patient.objects.filter(is_active=True, cnic__in=chunk).values_list("cnic", "mrn"),
            [patient.cnic for patient in self.patients if _active_cnic(patient)],
        )
        kept, kept_lines = [], []
        for patient, line in zip(self.patients, self.lines):
            name, holder = by_mrn.get(patient.mrn), by_cnic.get(_active_cnic(patient))
            if name is not None and name.casefold() != patient.full_name.casefold():
                self.refuse(line, f"{patient.mrn} is already registered to {name}", column="mrn")
            elif holder and holder != patient.mrn:
                self.refuse(line, f"{patient.cnic} is already registered as {holder}", column="cnic")
            else:
                kept.append(patient)
                kept_lines.append(line)
        self.patients, self.lines = kept, kept_lines


def _chunked(query, keys: list, size: int = 10_000) -> dict:
    """`dict(query(chunk))` over `keys` in chunks of `size` (one short IN list per query)."""
    found = {}
    for start in range(0, len(keys), size):
        found.update(query(keys[start : start + size]))
    return found


def decode(data: bytes) -> str:
    """The file's text (UTF-8, with or without a byte-order mark).

    Raises:
        BadFile: naming the line and column of the first byte that is not UTF-8.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise BadFile(f"line {line}, character {column}: not UTF-8 text (save the file as UTF-8 CSV)") from exc


def read_patients(text: str, progress=iter) -> Reading:
    """Parse and validate every row of a patient CSV.

    Args:
        text: the decoded file.
        progress: wraps the row iterator (e.g. a tqdm progress bar).
    Returns:
        a Reading; a row is an error when a value is invalid, its MRN is no MRN of any scheme (old `xx-xx-xxx`
        numbers are converted), or its MRN or active CNIC repeats an earlier row of the file.
    Raises:
        BadFile: for a missing or unknown column, or broken CSV syntax.
    """
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    header = reader.fieldnames or []
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    unknown = [column for column in header if column not in (*COLUMNS, REASON_COLUMN)]
    if missing or unknown:
        problems = [f"missing column(s) {', '.join(missing)}" if missing else "",
                    f"unknown column(s) {', '.join(unknown)}" if unknown else ""]
        raise BadFile(f"line 1 (header): {'; '.join(p for p in problems if p)}. Columns: {', '.join(COLUMNS)}")
    reading, seen_mrns, seen_cnics = Reading(), {}, {}
    line = 1
    try:
        for row in progress(reader):
            line = reader.line_num
            reading.rows += 1
            if None in row:
                reading.refuse(line, "more values than columns")
                continue
            try:
                patient = _patient(row)
            except ValidationError as exc:
                for column, msgs in _by_column(exc):
                    reading.refuse(line, " ".join(msgs), column=column)
                continue
            for key, seen, label in ((patient.mrn, seen_mrns, "mrn"), (_active_cnic(patient), seen_cnics, "cnic")):
                if key and key in seen:
                    reading.refuse(line, f"{key} repeats line {seen[key]}", column=label)
                    break
            else:
                seen_mrns[patient.mrn] = line
                if _active_cnic(patient):
                    seen_cnics[patient.cnic] = line
                reading.patients.append(patient)
                reading.lines.append(line)
    except csv.Error as exc:
        raise BadFile(f"line {line + 1}: broken CSV ({exc})") from exc  # the record after the last good one
    return reading


def _patient(row: dict) -> Patient:
    values = {column: unquote_cell((row.get(column) or "").strip()) for column in COLUMNS}
    errors = {}
    mrn = lenient_mrn(values["mrn"])
    if not mrn:
        errors["mrn"] = [f"{values['mrn']!r} is not an MRN (xxx-xx-xxx, or the old xx-xx-xxx)"]
    active = values["is_active"].lower()
    if active not in TRUE | FALSE:
        errors["is_active"] = ["use true or false"]
    registered_at = timezone.now()
    if values["registered_at"]:
        try:
            registered_at = parse_datetime(values["registered_at"]) or _start_of(parse_date(values["registered_at"]))
        except ValueError:  # well formed but impossible, e.g. 2024-02-30
            registered_at = None
        if registered_at is None:
            errors["registered_at"] = ["use YYYY-MM-DD or YYYY-MM-DDTHH:MM"]
        elif timezone.is_naive(registered_at):
            registered_at = timezone.make_aware(registered_at)
    patient = Patient(
        mrn=mrn or "",
        is_active=active not in FALSE,
        created_at=registered_at or timezone.now(),
        **{name: values[name] for name in ("full_name", "father_name", "sex", "phone", "cnic", "email", "address")},
        dob=values["dob"] or None,
    )
    try:
        patient.full_clean(exclude=["mrn", "created_by"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return patient


def _start_of(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min) if day else None


def _by_column(exc: ValidationError):
    return sorted(exc.message_dict.items(), key=lambda item: COLUMNS.index(item[0]) if item[0] in COLUMNS else 99)


def _active_cnic(patient: Patient) -> str:
    return patient.cnic if patient.is_active and patient.cnic else ""


def write_patients(out, patients) -> int:
    """Write `patients` (any iterable) as CSV in the shape read_patients reads; returns how many rows."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    for p in patients:
        writer.writerow(safe_row([p.mrn, p.full_name, p.father_name, p.dob.isoformat() if p.dob else "", p.sex, p.phone,
                         p.cnic, p.email, p.address, "true" if p.is_active else "false",
                         timezone.localtime(p.created_at).isoformat()]))
        count += 1
    return count


def write_refused(out, text: str, refused: dict[int, list[str]]) -> int:
    """Write to `out` (a text file) the rows of the CSV `text` whose line is in `refused`, as they were, with a last
    column `reason` (the row's reasons joined by "; "), ready to fix and import again: reading ignores `reason`.
    Cells that a spreadsheet would run as a formula are quoted (core.spreadsheet.safe_row; reading unquotes them).
    Returns the number of rows written."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [column for column in (reader.fieldnames or []) if column and column != REASON_COLUMN]
    writer = csv.writer(out)
    writer.writerow([*header, REASON_COLUMN])
    written = 0
    for row in reader:
        if reader.line_num in refused:
            writer.writerow(safe_row([row.get(column) or "" for column in header] + ["; ".join(refused[reader.line_num])]))
            written += 1
    return written
