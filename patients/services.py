"""Writes on patients. Views, the API, the admin and management commands all register through here."""

from django.db import transaction

from idseq.services import issue
from patients.models import Patient

MRN_COUNTER = "mrn"  # the grouped idseq Sequence (and its counter key) of MRNs

# The fields a registration may set; everything else (mrn, created_at, is_active) is the system's.
DEMOGRAPHIC_FIELDS = ("full_name", "father_name", "dob", "sex", "phone", "cnic", "email", "address")


def register_patient(
    *,
    full_name: str,
    father_name: str = "",
    dob=None,
    sex: str = "",
    phone: str = "",
    cnic: str = "",
    email: str = "",
    address: str = "",
    created_by=None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> Patient:
    """Register a patient and issue the next MRN (`001-00-001`, `001-00-002`, ...).

    Args: the demographics (`dob` a `date` or None, `sex` one of M/F/O or blank) and the user who registers;
        `idempotency_key` and `fingerprint` (of the request body) as for `save_new_patient`.
    Returns: the saved Patient with its MRN.
    Raises:
        django.core.exceptions.ValidationError: for invalid demographics, before any number is taken.
        idseq.exceptions.SequenceExhausted: when the MRN format has no number left.
        idseq.exceptions.IdempotencyConflict: the key was used before with a different request.
    """
    patient = Patient(
        full_name=full_name,
        father_name=father_name,
        dob=dob,
        sex=sex,
        phone=phone,
        cnic=cnic,
        email=email,
        address=address,
        created_by=created_by,
    )
    return save_new_patient(patient, idempotency_key=idempotency_key, fingerprint=fingerprint)


def save_new_patient(
    patient: Patient, *, carried_mrn: str = "", idempotency_key: str | None = None, fingerprint: str = ""
) -> Patient:
    """Validate an unsaved patient, issue its MRN and insert it, in one transaction.

    The MRN counter row stays locked from allocation to commit, so concurrent desks get distinct, consecutive
    numbers; if the insert fails, the rollback returns the number (none is lost). Validation runs first so a bad
    form never holds the lock. A `carried_mrn` (a number decided elsewhere, e.g. by a lab terminal's range, see
    terminals.services) is kept as it is and takes no online number. With an `idempotency_key` (the API's
    Idempotency-Key header), a retry of the same request returns the patient the first one registered instead of
    registering again. Raises as `register_patient`, and django.db.IntegrityError when the MRN is already taken
    (nothing is written).
    """
    # Field rules only: the table's check constraints are enforced by PostgreSQL on insert, so checking them here
    # would cost a query per registration for nothing.
    patient.full_clean(exclude=["mrn"], validate_constraints=False)
    with transaction.atomic():
        if carried_mrn:
            patient.mrn = carried_mrn
        else:
            issued = issue(MRN_COUNTER, purpose="patient registration", issued_by=patient.created_by,
                           idempotency_key=idempotency_key, fingerprint=fingerprint)
            if issued.replayed:
                return Patient.objects.get(mrn=issued.ids[0])
            patient.mrn = issued.ids[0]
        patient.save(force_insert=True)
    return patient


def update_patient(patient: Patient, **changes) -> Patient:
    """Correct a patient's demographics. Only DEMOGRAPHIC_FIELDS may change; the MRN never does.

    Raises:
        ValueError: when `changes` names a field outside DEMOGRAPHIC_FIELDS.
        django.core.exceptions.ValidationError: for invalid values; nothing is saved.
    """
    unknown = set(changes) - set(DEMOGRAPHIC_FIELDS)
    if unknown:
        raise ValueError(f"Not a demographic field: {', '.join(sorted(unknown))}")
    for field, value in changes.items():
        setattr(patient, field, value)
    patient.full_clean(exclude=["mrn"])
    patient.save(update_fields=list(changes) or None)
    return patient


def deactivate_patient(patient: Patient) -> Patient:
    """Mark a patient inactive. The row and its MRN stay: a printed number is never freed or reissued."""
    patient.is_active = False
    patient.save(update_fields=["is_active"])
    return patient
