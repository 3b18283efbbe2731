"""Writes on patients. Views, the API, the admin and management commands all register through here."""

import contextlib
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from idseq import coalesce
from idseq.exceptions import AlreadyIssued, ReservedValue
from idseq.reservations import claim, record_claimed
from idseq.services import issue
from patients.exceptions import DuplicatePatient, MrnTaken
from patients import worklist
from patients.history_trigger import history_user_for_inserts
from patients.models import MRN_VALUE_UNIQUE, Patient
from patients.mrn import SCHEMES, active_scheme, mrn_value, parse_mrn, scheme_formats
from patients.validators import validate_dob

MRN_COUNTER = SCHEMES["grouped"]  # the grouped idseq Sequence (and its counter key) of MRNs
# The partial unique index on active CNICs (patients/models.py).
ACTIVE_CNIC_CONSTRAINT = "patients_patient_active_cnic_unique"
MRN_UNIQUE_INDEX = "patients_patient_mrn_key"
# The owners of the reservations that carried-over and imported numbers become (idseq.reservations.claim).
CARRIED_OVER = "carried over"
IMPORTED = "import"
# The kind of record coalesced registrations queue (idseq.coalesce.register_writer, in PatientsConfig.ready).
REGISTRATION = "patients.registration"
# The fields a queued registration carries: every column a registration sets (not the id, the MRN, the generated).
QUEUED_FIELDS = [field for field in Patient._meta.concrete_fields
                 if not field.primary_key and field.name != "mrn" and not field.generated]

# The fields a registration may set; everything else (mrn, created_at, is_active) is the system's. The last two are
# the patient's wishes about text messages, asked with the demographics.
DEMOGRAPHIC_FIELDS = (
    "full_name", "father_name", "dob", "dob_estimated", "sex", "phone", "cnic", "email", "address",
    "notify_opt_out", "notify_language",
)


def register_patient(
    *,
    full_name: str,
    father_name: str = "",
    dob=None,
    dob_estimated: bool = False,
    sex: str = "",
    phone: str = "",
    cnic: str = "",
    email: str = "",
    address: str = "",
    notify_opt_out: bool = False,
    notify_language: str = "ur",
    mrn: str = "",
    created_by=None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> Patient:
    """Register a patient and issue the next MRN (`001-00-001`, `001-00-002`, ..., or `PAT-20241103-0001`, ... with
    TOKENLINE_MRN_SCHEME=dated).

    Args: the demographics (`dob` a `date` or None, `dob_estimated` True when `dob` was worked out from an age
        (patients/dob.py; ignored without a `dob`), `sex` one of M/F/O or blank), whether the patient wants no
        text messages (`notify_opt_out`) and in which language (`notify_language`: ur or en), the user who registers,
        `mrn`: a number issued before Tokenline (a paper card), already validated (patients.mrn.validate_mrn),
        blank to issue the next one; `idempotency_key` and `fingerprint` (of the request body) as for
        `save_new_patient`.
    Returns: the saved Patient with its MRN.
    Raises:
        django.core.exceptions.ValidationError: for invalid demographics, before any number is taken.
        DuplicatePatient: an active patient already has this CNIC (409).
        MrnTaken: the carried-over `mrn` already belongs to a patient (409).
        idseq.exceptions.SequenceExhausted: when the MRN format has no number left.
        idseq.exceptions.IdempotencyConflict: the key was used before with a different request.
    """
    patient = Patient(
        full_name=full_name,
        father_name=father_name,
        dob=dob,
        dob_estimated=bool(dob_estimated and dob),
        sex=sex,
        phone=phone,
        cnic=cnic,
        email=email,
        address=address,
        notify_opt_out=notify_opt_out,
        notify_language=notify_language,
        created_by=created_by,
    )
    return save_new_patient(patient, carried_mrn=mrn, idempotency_key=idempotency_key, fingerprint=fingerprint)


def save_new_patient(
    patient: Patient,
    *,
    carried_mrn: str = "",
    idempotency_key: str | None = None,
    fingerprint: str = "",
    dob_not_after: date | None = None,
    numbering: Callable[[], str] | None = None,
) -> Patient:
    """Validate an unsaved patient, issue its MRN and insert it, in one transaction.

    The MRN counter row stays locked from allocation to commit, so concurrent desks get distinct, consecutive
    numbers; if the insert fails, the rollback returns the number (none is lost). Validation runs first so a bad
    form never holds the lock. A `carried_mrn` (a paper card or earlier system's number, already validated) never
    moves the counter: above it, it becomes a single reserved value the counter steps over; at or below
    it, it must be neither issued nor reserved; either way it is recorded in the ledger. `numbering` is called
    inside the transaction for an MRN decided and recorded elsewhere (a lab terminal's reserved number, see
    terminals.services) and returns it. With an `idempotency_key` (the API's Idempotency-Key header), a retry of the
    same request returns the patient the first one registered instead of registering again. `dob_not_after` is the
    latest date of birth accepted instead of the hospital's today (a lab terminal's registration date).
    With TOKENLINE_COALESCE on and no transaction open, a registration that takes the next number is queued and
    numbered with others arriving at once (idseq.coalesce), with the same guarantees and errors; it may also raise
    NumberingBusy (503) when no batch numbered it within TOKENLINE_LOCK_TIMEOUT (nothing taken).
    Raises as `register_patient`, and idseq's ReservedValue (409, naming the owner) for a number inside someone's
    reservation.
    """
    _validate(patient, dob_not_after=dob_not_after)
    if numbering is None and not carried_mrn and coalesce.enabled():
        done = coalesce.issue_with_record(
            SCHEMES[active_scheme()], kind=REGISTRATION, purpose="patient registration",
            payload={field.attname: getattr(patient, field.attname) for field in QUEUED_FIELDS},
            issued_by=patient.created_by, idempotency_key=idempotency_key, fingerprint=fingerprint,
        )
        if done is not None:  # committed by the batch's leader (None: this one goes the ordinary way below)
            patient.pk, patient.mrn, patient._state.adding = done.record_id, done.formatted, False
            return patient
    try:
        with _unique_violations_as_domain_errors(), transaction.atomic():
            if numbering is not None:
                patient.mrn = numbering()
            elif carried_mrn:
                patient.mrn = _carry_over(carried_mrn, by=patient.created_by)
            else:
                issued = issue(SCHEMES[active_scheme()], purpose="patient registration",
                               issued_by=patient.created_by, idempotency_key=idempotency_key, fingerprint=fingerprint)
                if issued.replayed:
                    return Patient.objects.get(mrn=issued.ids[0])
                patient.mrn = issued.ids[0]
            patient.save(force_insert=True)  # its history row is written by the insert trigger
    except (AlreadyIssued, ReservedValue) as exc:
        raise _holder_of(patient.mrn or carried_mrn) or exc from None
    return patient


def insert_queued_registrations(payloads: list[dict], mrns: list[str]) -> list[int]:
    """The writer of coalesced registrations (idseq.coalesce): insert the queued patients with their MRNs in one
    statement, in the leader's transaction; return their ids in the same order. Their history rows come from the
    insert trigger (inserted by each one's `created_by`). Raises IntegrityError for a row that breaks a constraint
    (an active patient's CNIC): the leader then retries the batch row by row."""
    fields = {field.attname: field for field in QUEUED_FIELDS}
    patients = [
        Patient(mrn=mrn, **{name: fields[name].to_python(value) for name, value in payload.items()})
        for payload, mrn in zip(payloads, mrns)
    ]
    Patient.objects.bulk_create(patients)
    return [patient.pk for patient in patients]


def _carry_over(mrn: str, *, by) -> str:
    """Record a number issued before Tokenline in its sequence's ledger without moving the counter; returns it."""
    holder = _holder_of(mrn)
    if holder is not None:
        raise holder
    key, value, scope = parse_mrn(mrn)
    claim(key, [value], scope=scope, owner=CARRIED_OVER, reason="a number issued before Tokenline (paper card)",
          issued_by=by, purpose="carried over")
    return mrn


def _holder_of(mrn: str) -> MrnTaken | None:
    """MrnTaken naming the patient who holds `mrn` (however written), or None when nobody does."""
    value = mrn_value(mrn) if mrn else None
    holder = Patient.objects.filter(mrn_value=value).first() if value is not None else None
    holder = holder or Patient.objects.filter(mrn=mrn).first()
    return MrnTaken(mrn=holder.mrn) if holder else None


def update_patient(patient: Patient, *, changed_by=None, **changes) -> Patient:
    """Correct a patient's demographics. Only DEMOGRAPHIC_FIELDS may change; the MRN never does.

    The history (django-simple-history) records the new values with `changed_by` and the time.
    Raises:
        ValueError: when `changes` names a field outside DEMOGRAPHIC_FIELDS.
        django.core.exceptions.ValidationError: for invalid values; nothing is saved.
        DuplicatePatient: the new CNIC belongs to another active patient.
    """
    unknown = set(changes) - set(DEMOGRAPHIC_FIELDS)
    if unknown:
        raise ValueError(f"Not a demographic field: {', '.join(sorted(unknown))}")
    for field, value in changes.items():
        setattr(patient, field, value)
    if patient.dob is None and patient.dob_estimated:  # no date, nothing estimated
        patient.dob_estimated = False
        changes["dob_estimated"] = False
    _validate(patient)
    patient._history_user = changed_by
    with _unique_violations_as_domain_errors(), transaction.atomic():
        patient.save(update_fields=list(changes) or None)
    return patient


def deactivate_patient(patient: Patient, *, changed_by=None) -> Patient:
    """Mark a patient inactive. The row and its MRN stay: a printed number is never freed or reissued."""
    patient.is_active = False
    patient._history_user = changed_by
    patient.save(update_fields=["is_active"])
    return patient


def import_patients(*, patients: list[Patient], imported_by=None, batch_size: int = 2000) -> list[Patient]:
    """Insert patients that arrive with their numbers (an earlier system's records), all or none.

    Rows whose MRN is already registered are skipped, so importing the same records twice adds nothing. The numbers
    never move a counter: those above it are reserved in blocks of consecutive values (owner "import"),
    those below must be free, as for a carried-over number; each is recorded in the ledger with its row.
    Args:
        patients: unsaved, validated Patients with `mrn` set (see patients.csv_io.read_patients).
        imported_by: the user recorded in each patient's history and the ledger.
        batch_size: rows per INSERT.
    Returns:
        the patients inserted (those whose MRN was new).
    Raises:
        DuplicatePatient: a row's CNIC belongs to an active patient registered meanwhile; nothing is imported.
        MrnTaken: a row's MRN was registered meanwhile; nothing is imported.
        idseq's ReservedValue / AlreadyIssued (409): a row's number is a terminal's, the pool's, or was issued.
    Numbers first, rows after: the numbers are reserved in a transaction of its own that commits at once,
    so the desks wait for the counter row only milliseconds, never for the import; the rows then go in with their
    ledger rows, all or none, in a second transaction that holds no counter. If that fails, the reservations stay
    (owner "import"), which only means those numbers are never issued to anyone else; the import can be rerun.
    Likely duplicates among the rows imported are queued on the duplicates worklist (patients/worklist.py).
    """
    existing = set()
    mrns = [patient.mrn for patient in patients]
    for start in range(0, len(mrns), 10_000):
        existing.update(Patient.objects.filter(mrn__in=mrns[start : start + 10_000]).values_list("mrn", flat=True))
    new = [patient for patient in patients if patient.mrn not in existing]
    with transaction.atomic():
        claimed = _claim_all([patient.mrn for patient in new])
    with _unique_violations_as_domain_errors(), transaction.atomic():
        for (key, scope), values in claimed.items():
            record_claimed(key, values, scope=scope, owner=IMPORTED, issued_by=imported_by, purpose="import")
        with history_user_for_inserts(imported_by):  # the history rows come from the insert trigger
            Patient.objects.bulk_create(new, batch_size=batch_size)
    # Imported as they are (their numbers are printed); likely duplicates of patients already registered go on
    # the worklist, after the rows are in (outside the import's transaction: the desks never wait for it).
    worklist.queue_pairs_for_many([patient for patient in new if patient.is_active], source=worklist.IMPORT)
    return new


def _claim_all(mrns: list[str]) -> dict[tuple[str, str], list[int]]:
    """Reserve imported MRNs in their sequences (idseq.reservations.claim, recorded in the ledger later with their
    rows), one call per sequence period; return the values claimed per (sequence key, scope)."""
    values: dict[tuple[str, str], list[int]] = defaultdict(list)
    formats = scheme_formats()
    for mrn in mrns:
        parsed = parse_mrn(mrn, formats)
        if parsed:
            key, value, scope = parsed
            values[key, scope].append(value)
    for (key, scope), numbers in sorted(values.items()):  # a fixed order: two imports lock counters alike
        claim(key, numbers, scope=scope, owner=IMPORTED, reason=f"{len(numbers)} imported patient(s)", record=False)
    return dict(sorted(values.items()))


def _validate(patient: Patient, *, dob_not_after: date | None = None) -> None:
    # Field rules only. Uniqueness and constraints are left to the database: the guard must hold under concurrency
    # (see _unique_violations_as_domain_errors), and checking them here would cost a query per registration for nothing.
    # created_by is the system's (the logged-in user): checking it exists would cost a query per registration.
    if dob_not_after is None:
        patient.full_clean(exclude=["mrn", "created_by"], validate_unique=False, validate_constraints=False)
        return
    # The date of birth against another day than today: the field's own rule runs with that day as its limit
    # (still from 1900, as online), after the other fields.
    patient.full_clean(exclude=["mrn", "created_by", "dob"], validate_unique=False, validate_constraints=False)
    if patient.dob is not None:
        try:
            validate_dob(patient.dob, not_after=dob_not_after)
        except ValidationError as exc:
            raise ValidationError({"dob": exc.messages}) from None


@contextlib.contextmanager
def _unique_violations_as_domain_errors():
    """Turn a unique violation raised inside into the domain error naming the patient who has the value.

    Wrap it around the `transaction.atomic()` that saves: the lookup of the holder runs after that block rolled
    back (no savepoint per registration needed just to keep the transaction usable).
    """
    try:
        yield
    except IntegrityError as exc:
        raise _domain_error(exc) from exc


def _domain_error(exc: IntegrityError) -> Exception:
    """The domain error for a unique violation of a patient's CNIC or MRN, or `exc` itself for any other.

    The clashing value is read from PostgreSQL's detail (`Key (cnic)=(12345-1234567-1) already exists.`), so this
    serves one registration and a bulk import alike.
    """
    diag = getattr(exc.__cause__, "diag", None)
    match = re.search(r"\((\w+)\)=\((.*)\) already exists", (diag and diag.message_detail) or "")
    if not match:
        return exc
    if diag.constraint_name == ACTIVE_CNIC_CONSTRAINT:
        cnic = match.group(2)
        holder = Patient.objects.filter(cnic=cnic, is_active=True).first()
        return DuplicatePatient(cnic=cnic, mrn=holder.mrn if holder else "")
    if diag.constraint_name == MRN_UNIQUE_INDEX:
        return MrnTaken(mrn=match.group(2))
    if diag.constraint_name == MRN_VALUE_UNIQUE:
        return _holder_of(match.group(2)) or exc
    return exc
