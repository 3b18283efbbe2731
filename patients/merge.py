"""Merging two records of one patient, and undoing it.

The survivor keeps its MRN. The other record ("merged away") stays in the table, inactive, with `merged_into` set:
its MRN, printed on slips and samples, keeps finding the patient (patients.selectors.by_mrn, the API, FHIR's
`Patient.link`), and, being a row of the unique MRN column and a voided row of idseq's ledger ("merged into
<survivor MRN>"), it is never issued, carried over or imported again. The rows of other apps that point at the
merged record (visits, OPD tokens, waiting-list entries, notifications, offline incidents: every foreign key to
Patient outside this app, found from the model registry so this app imports none of them) move to the survivor.

All of it in one transaction: both patient rows are locked first, in primary-key order (two merges of the same
records, in either direction, queue instead of deadlocking), then each related table's rows, also in primary-key
order. The PatientMerge row records who, when, why, and what moved, and `unmerge` puts it back. Both records'
history (django-simple-history) gets a row naming the merge.

Racing another change: callers pass the history version of each record they showed (`version_of`); if either
record changed since, the merge is refused with 409 naming the fields that changed.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError
from idseq.models import IssuedNumber
from idseq.services import unvoid_id, void_id
from patients.models import DuplicatePair, Patient, PatientMerge
from patients.mrn import SCHEMES, parse_mrn

# The survivor's blank fields that a merge fills from the merged record (the survivor's own values always win).
FILLABLE = ("father_name", "dob", "dob_estimated", "sex", "phone", "cnic", "email", "address")
MAX_CHAIN = 20  # merges followed from a merged-away record to its survivor (A into B, later B into C)


class MergeRefused(DomainError):
    """422: a merge the rules refuse (into itself, two CNICs without an override, no reason)."""

    status_code = 422


class MergeConflict(DomainError):
    """409: a merge or unmerge that the records' current state refuses (merged away already, unmerged already)."""


class RecordChanged(DomainError):
    """409: a record changed since the user looked at it; `changed` maps its MRN to the fields that changed."""

    def __init__(self, changed: dict[str, list[str]]):
        names = "; ".join(f"{mrn}: {', '.join(fields)}" for mrn, fields in changed.items())
        message = _("Changed since you looked (%(changes)s). Look again before merging.") % {"changes": names}
        super().__init__(message, changed=changed)


def version_of(patient: Patient) -> int:
    """The record's version: the id of its newest history row (registration, correction, merge). A page or client
    shows it with the record and sends it back with the merge, which is refused if it moved."""
    return patient.history.order_by("-history_id").values_list("history_id", flat=True).first() or 0


def survivor_of(patient: Patient) -> Patient:
    """The record that holds `patient` now: itself, or the survivor of its merge (followed through later merges)."""
    seen = 0
    while patient.merged_into_id is not None and seen < MAX_CHAIN:
        patient = Patient.objects.get(pk=patient.merged_into_id)
        seen += 1
    return patient


def _changes_since(patient: Patient, version: int) -> list[str]:
    """Labels of the fields of `patient` changed by history rows newer than `version`."""
    records = list(patient.history.filter(history_id__gte=version).order_by("history_id"))
    base = next((record for record in records if record.history_id == version), None)
    newer = [record for record in records if record.history_id > version]
    if not newer:
        return []
    if base is None:
        return [_("the record")]
    fields = set()
    for record in newer:
        fields.update(change.field for change in record.diff_against(base).changes)
    return sorted(str(Patient._meta.get_field(name).verbose_name) for name in fields) or [_("the record")]


def _related_fields():
    """(model, field name) of every foreign key to Patient in other apps: the rows a merge moves."""
    for relation in Patient._meta.get_fields(include_hidden=True):
        if relation.auto_created and not relation.concrete and relation.one_to_many:
            model = relation.related_model
            if model._meta.app_label != Patient._meta.app_label:
                yield model, relation.field.name


def _label(model, field: str) -> str:
    return f"{model._meta.label_lower}.{field}"


def _ledger_row(mrn: str) -> IssuedNumber | None:
    """The ledger row of an MRN (either scheme; a terminal's plain `710042` is the grouped sequence's value), or None
    for a number issued before the ledger existed."""
    parsed = parse_mrn(mrn)
    if parsed is None and mrn.isdigit():
        parsed = (SCHEMES["grouped"], int(mrn), "")
    if parsed is None:
        return None
    key, value, scope = parsed
    return IssuedNumber.objects.filter(sequence__key=key, scope=scope, value=value).select_related("sequence").first()


def _merged_reason(survivor: Patient) -> str:
    return f"merged into {survivor.mrn}"


def _locked(*pks: int) -> dict[int, Patient]:
    """The patient rows `pks`, locked FOR UPDATE in primary-key order (so two merges never deadlock)."""
    return {patient.pk: patient for patient in Patient.objects.select_for_update().filter(pk__in=pks).order_by("pk")}


def _move(model, field: str, source: Patient, target: Patient, pks=None) -> list[int]:
    """Point `field` of `model`'s rows at `source` (or the rows `pks` of them) to `target`, locked in pk order;
    return the pks moved. A row the move would make break a constraint (two open visits of one patient in one
    queue today) refuses the whole merge, naming it."""
    rows = model.objects.filter(**{field: source})
    if pks is not None:
        rows = rows.filter(pk__in=pks)
    moved = list(rows.select_for_update().order_by("pk").values_list("pk", flat=True))
    if moved:
        try:
            with transaction.atomic():
                model.objects.filter(pk__in=moved).update(**{field: target})
        except IntegrityError as exc:
            constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", "") or "a constraint"
            raise MergeConflict(
                _("Both records have %(rows)s that cannot belong to one patient (%(constraint)s); close or cancel"
                  " one first.") % {"rows": model._meta.verbose_name_plural, "constraint": constraint}
            ) from None
    return moved


def merge_patients(
    *, survivor: Patient, merged: Patient, reason: str, merged_by=None, cnic_override: bool = False,
    versions: dict[int, int] | None = None,
) -> PatientMerge:
    """Merge record `merged` into `survivor`; return the PatientMerge that records it.

    Args:
        survivor, merged: the two records (re-read and locked here; the instances passed are refreshed).
        reason: why (the audit), required.
        merged_by: the user, recorded in the merge, both histories and the ledger.
        cnic_override: merge although both records carry different CNICs (the reason must say why).
        versions: `{patient pk: version_of(patient)}` as the user saw them; None skips the check (a script).
    Returns: the PatientMerge.
    Raises:
        MergeRefused (422): into itself; different CNICs without `cnic_override`; blank reason.
        MergeConflict (409): either record is merged away already (the message names its survivor); moving a row
            would break a rule of its own app.
        RecordChanged (409): a record changed since `versions` (names the fields).
    """
    reason = (reason or "").strip()
    if survivor.pk == merged.pk:
        raise MergeRefused(_("A record cannot be merged into itself."))
    if not reason:
        raise MergeRefused(_("Say why the two records are one patient."))
    with transaction.atomic():
        locked = _locked(survivor.pk, merged.pk)
        survivor, merged = locked[survivor.pk], locked[merged.pk]
        changed = {p.mrn: _changes_since(p, versions[p.pk]) for p in (survivor, merged) if versions and p.pk in versions}
        changed = {mrn: fields for mrn, fields in changed.items() if fields}
        if changed:
            raise RecordChanged(changed)
        for record in (survivor, merged):
            if record.merged_into_id is not None:
                raise MergeConflict(
                    _("%(mrn)s was merged into %(survivor)s already; merge into that record.")
                    % {"mrn": record.mrn, "survivor": survivor_of(record).mrn}
                )
        if survivor.cnic and merged.cnic and survivor.cnic != merged.cnic and not cnic_override:
            raise MergeRefused(
                _("%(mrn)s has CNIC %(cnic)s and %(other_mrn)s has %(other_cnic)s: different people, unless one CNIC"
                  " was typed wrong. Merge with the CNIC override and say why.")
                % {"mrn": survivor.mrn, "cnic": survivor.cnic, "other_mrn": merged.mrn, "other_cnic": merged.cnic}
            )
        moved = {_label(model, field): _move(model, field, merged, survivor) for model, field in _related_fields()}
        filled = {name: getattr(merged, name) for name in FILLABLE
                  if getattr(merged, name) not in ("", None, False) and getattr(survivor, name) in ("", None, False)}
        was_active = merged.is_active
        merged.is_active, merged.merged_into = False, survivor
        merged._history_user, merged._change_reason = merged_by, f"{_merged_reason(survivor)}: {reason}"
        merged.save(update_fields=["is_active", "merged_into"])  # first: frees its CNIC for the survivor
        for name, value in filled.items():
            setattr(survivor, name, value)
        survivor._history_user, survivor._change_reason = merged_by, f"{merged.mrn} merged in: {reason}"
        survivor.save(update_fields=[*filled, "is_active"])  # always a history row naming the merge
        number = _ledger_row(merged.mrn)
        if number is not None:
            void_id(number.sequence.key, number.formatted, reason=_merged_reason(survivor), voided_by=merged_by)
        low, high = sorted((survivor.pk, merged.pk))
        DuplicatePair.objects.filter(low_id=low, high_id=high).update(
            status=DuplicatePair.Status.MERGED, decided_at=timezone.now(), decided_by=merged_by
        )
        return PatientMerge.objects.create(
            survivor=survivor, merged=merged, reason=reason, cnic_override=cnic_override,
            moved={label: [str(pk) for pk in pks] for label, pks in moved.items() if pks},  # UUIDs and ints
            filled={**{name: _json(value) for name, value in filled.items()}, "_was_active": was_active},
            merged_by=merged_by,
        )


def _json(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def unmerge(merge: PatientMerge, *, reason: str, unmerged_by=None,
            also_move: dict[str, list[str]] | None = None) -> PatientMerge:
    """Undo `merge`: the merged record is active (as it was) with its MRN again, the rows that moved go back, the
    survivor's fields filled from it are blank again (unless corrected since), and the pair is remembered as "not
    the same". What was added to the survivor after the merge stays with the survivor, except the rows the user
    names in `also_move` (`{"queues.visit.patient": [pk, ...]}`, labels as in PatientMerge.moved), which go to the
    restored record too (a visit registered on the survivor that was the other patient's).

    Raises:
        MergeRefused (422): blank reason; an unknown label in `also_move`.
        MergeConflict (409): undone already; the survivor was itself merged away since (undo that first).
    """
    reason = (reason or "").strip()
    if not reason:
        raise MergeRefused(_("Say why the merge is undone."))
    with transaction.atomic():
        merge = PatientMerge.objects.select_for_update().get(pk=merge.pk)
        if merge.unmerged_at is not None:
            raise MergeConflict(_("This merge was undone already."))
        locked = _locked(merge.survivor_id, merge.merged_id)
        survivor, merged = locked[merge.survivor_id], locked[merge.merged_id]
        if survivor.merged_into_id is not None:
            raise MergeConflict(
                _("%(mrn)s was merged into %(survivor)s since; undo that first.")
                % {"mrn": survivor.mrn, "survivor": survivor_of(survivor).mrn}
            )
        labels = {_label(model, field) for model, field in _related_fields()}
        unknown = set(also_move or {}) - labels
        if unknown:
            raise MergeRefused(_("Nothing of a patient is called %(labels)s.") % {"labels": ", ".join(sorted(unknown))})
        for model, field in _related_fields():
            label = _label(model, field)
            back = [*merge.moved.get(label, []), *map(str, (also_move or {}).get(label, []))]
            _move(model, field, survivor, merged, pks=back)
        restored = []
        for name, value in merge.filled.items():
            if name in FILLABLE and _json(getattr(survivor, name)) == value:
                setattr(survivor, name, Patient._meta.get_field(name).get_default())
                restored.append(name)
        survivor._history_user, survivor._change_reason = unmerged_by, f"{merged.mrn} unmerged: {reason}"
        survivor.save(update_fields=[*restored, "is_active"])  # first: gives back the CNIC it took
        merged.is_active, merged.merged_into = merge.filled.get("_was_active", True), None
        merged._history_user, merged._change_reason = unmerged_by, f"unmerged from {survivor.mrn}: {reason}"
        merged.save(update_fields=["is_active", "merged_into"])
        number = _ledger_row(merged.mrn)
        if number is not None:
            unvoid_id(number.sequence.key, number.formatted, reason=_merged_reason(survivor))
        low, high = sorted((survivor.pk, merged.pk))
        DuplicatePair.objects.filter(low_id=low, high_id=high).update(
            status=DuplicatePair.Status.NOT_SAME, decided_at=timezone.now(), decided_by=unmerged_by
        )
        merge.unmerged_at, merge.unmerged_by, merge.unmerge_reason = timezone.now(), unmerged_by, reason
        merge.save(update_fields=["unmerged_at", "unmerged_by", "unmerge_reason"])
    return merge
