"""Reading a patient's demographic history (django-simple-history records every save)."""

from dataclasses import dataclass
from datetime import datetime

from patients.models import FIELD_LABELS, Patient


@dataclass(frozen=True)
class Correction:
    """One saved change: when, by whom (None when unknown), and (field label, old value, new value) triples."""

    at: datetime
    by: object
    changes: list[tuple[str, object, object]]


def _label(field: str) -> str:
    """A field's name as the pages show it, in the page's language (FIELD_LABELS, else the model's)."""
    return FIELD_LABELS.get(field) or Patient._meta.get_field(field).verbose_name


def corrections(patient: Patient) -> list[Correction]:
    """The changes made to `patient` after registration, newest first; saves that changed nothing are left out."""
    records = list(patient.history.order_by("history_date", "history_id").select_related("history_user"))
    found = []
    for before, after in zip(records, records[1:]):
        delta = after.diff_against(before)
        changes = [(_label(change.field), change.old, change.new) for change in delta.changes]
        if changes:
            found.append(Correction(at=after.history_date, by=after.history_user, changes=changes))
    return found[::-1]
