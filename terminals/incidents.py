"""Offline incidents: two registrations claiming one MRN.

When a terminal syncs a number that another record already holds (with a different client_uuid: a copied or
restored outbox printed it twice), the server keeps the first record, stores the second here as refused with both
patients' details, and logs an ERROR. A person resolves the incident by giving the second patient a new MRN
(`resolve_incident`); the slip printed with the old number is listed for reprint.
"""

import logging
import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import DomainError
from patients.models import Patient
from patients.mrn import mrn_value
from patients.services import DEMOGRAPHIC_FIELDS, save_new_patient
from terminals.models import LabTerminal, OfflineIncident

logger = logging.getLogger("tokenline.terminals")

# Seed 001's message for a number already taken, byte for byte; the body adds the incident.
MRN_IN_USE = "Registration number already exists. Please check offline ranges or contact admin."


class Collision(DomainError):
    """409: the MRN belongs to another record; an incident holds this registration until ops give it a number."""

    def __init__(self, incident: OfflineIncident):
        super().__init__(MRN_IN_USE, field="mrn", incident=incident.pk,
                         reason=f"MRN {incident.mrn} was already synced for another patient (offline incident "
                                f"#{incident.pk}); ops give this patient a new MRN, which the terminal's next sync "
                                "prints for reprint.")


def details(patient: Patient) -> dict:
    """A patient's demographics and origin as JSON-safe values (what an incident keeps of each side)."""
    shown = {name: getattr(patient, name) for name in DEMOGRAPHIC_FIELDS}
    shown["dob"] = shown["dob"].isoformat() if shown["dob"] else None
    return {"mrn": patient.mrn, **shown, "client_uuid": str(patient.client_uuid or ""),
            "registered_at": patient.registered_at.isoformat() if patient.registered_at else None,
            "origin_terminal": patient.origin_terminal.code if patient.origin_terminal else None}


def record_collision(*, terminal: LabTerminal, refused: Patient, device_id: str = "",
                     kind: str = OfflineIncident.Kind.COLLISION) -> OfflineIncident:
    """Open (or find, for a registration sent again) the incident for unsaved `refused`, whose `mrn` and
    `client_uuid` are set. `kind` COLLISION: another record holds the MRN; WRONG_DEVICE: the MRN is of a lease
    bound to another machine; ON_HOLD: of a lease on hold, above its mark (for these two, the record holding the
    MRN, if any, is kept). Commits on its own; logs an ERROR once.

    Raises Patient.DoesNotExist for a COLLISION when no record holds the MRN (the caller saw a unique violation,
    so one does).
    """
    value = mrn_value(refused.mrn)  # the kept record may write the number otherwise (`710000`, `007-10-000`)
    holders = Patient.objects.select_related("origin_terminal").filter(
        **({"mrn_value": value} if value is not None else {"mrn": refused.mrn}))
    kept = holders.get() if kind == OfflineIncident.Kind.COLLISION else holders.first()
    try:
        with transaction.atomic():
            incident, created = OfflineIncident.objects.get_or_create(
                refused_client_uuid=refused.client_uuid,
                defaults={"terminal": terminal, "kind": kind, "mrn": refused.mrn, "kept": kept,
                          "kept_details": details(kept) if kept else None, "refused_details": details(refused),
                          "registered_at": refused.registered_at, "device_id": device_id},
            )
    except IntegrityError:  # the same registration, sent twice at once: the other request opened it
        incident, created = OfflineIncident.objects.get(refused_client_uuid=refused.client_uuid), False
    if created:
        holder = {OfflineIncident.Kind.WRONG_DEVICE: "its lease is bound to another machine",
                  OfflineIncident.Kind.ON_HOLD: "its lease is on hold (two machines printed from it)"}.get(kind) or \
            f"it belongs to {kept.full_name!r} ({kept.client_uuid or 'registered online'})"
        logger.error("Offline incident #%s (%s): terminal %s synced MRN %s for %r, but %s; the registration is held "
                     "for a new number", incident.pk, kind, terminal.code, refused.mrn, refused.full_name, holder)
    return incident


def earlier_keeps(*, terminal: LabTerminal, newcomer: Patient, value: int, by, device_id: str = "",
                  dob_not_after=None) -> bool:
    """When the unsaved offline `newcomer` claims MRN `value` that an offline record registered later already holds,
    the earlier registration keeps it: the holder gets the next online MRN, `newcomer` is stored under the
    contested MRN, and a resolved incident records the holder's old and new number so its terminal prints the
    reprint notice on its next sync (`renumbered`). All in one transaction.

    Returns False, changing nothing, unless both carry `registered_at` and a client_uuid and the newcomer's is
    earlier. Raises as `patients.services.save_new_patient` (nothing changed then).
    """
    from idseq.services import issue
    from patients.mrn import SCHEMES, active_scheme

    if newcomer.registered_at is None or newcomer.client_uuid is None:
        return False
    with transaction.atomic():
        holder = Patient.objects.select_for_update().filter(mrn_value=value).first()
        if (holder is None or not holder.is_offline_entry or holder.client_uuid is None
                or holder.registered_at is None or newcomer.registered_at >= holder.registered_at):
            return False
        contested = holder.mrn
        holder.mrn = issue(SCHEMES[active_scheme()], purpose="offline MRN kept by an earlier registration",
                           issued_by=by).ids[0]
        holder._history_user = by
        holder.save(update_fields=["mrn"])
        save_new_patient(newcomer, numbering=lambda: contested, dob_not_after=dob_not_after)
        incident = OfflineIncident.objects.create(
            terminal=holder.origin_terminal or terminal, mrn=contested, kept=newcomer, kept_details=details(newcomer),
            refused_client_uuid=holder.client_uuid, refused_details={**details(holder), "mrn": contested},
            registered_at=holder.registered_at, device_id=device_id, resolved_at=timezone.now(), new_patient=holder)
    logger.error("Offline incident #%s: MRN %s was printed for %r and, registered earlier, for %r, who keeps it; "
                 "%r now has MRN %s (reprint the slip)", incident.pk, contested, holder.full_name, newcomer.full_name,
                 holder.full_name, holder.mrn)
    return True


def renumbered_for(terminal: LabTerminal, limit: int = 200) -> list[dict]:
    """The terminal's registrations given a new MRN by a resolved incident, newest first (at most `limit`):
    [{"client_uuid", "printed", "mrn"}], sent with every sync and lease listing so its PC prints the reprint."""
    rows = (OfflineIncident.objects.filter(terminal=terminal, new_patient__isnull=False)
            .order_by("-resolved_at", "-pk").values_list("refused_client_uuid", "mrn", "new_patient__mrn")[:limit])
    return [{"client_uuid": str(key), "printed": printed, "mrn": mrn} for key, printed, mrn in rows]


def open_incidents():
    """Incidents nobody has resolved yet, newest first."""
    return OfflineIncident.objects.filter(resolved_at__isnull=True).select_related("terminal", "kept")


def resolve_incident(*, incident_id: int, resolved_by=None) -> Patient:
    """Register the refused patient of incident `incident_id` under a new MRN and close the incident.

    The new record keeps the terminal, its registration time and the refused client_uuid, so the terminal's next
    sync of that registration answers "already synced" with the new number (which it shows for reprint).
    Returns: the new patient (the one already created, when the incident was resolved before).
    Raises: NotFound (404) for an unknown incident; as `patients.services.save_new_patient` when the refused
        details are invalid (e.g. their CNIC now belongs to an active patient): fix them first.
    """
    from core.errors import NotFound

    with transaction.atomic():
        incident = OfflineIncident.objects.select_for_update().filter(pk=incident_id).first()
        if incident is None:
            raise NotFound(f"No offline incident #{incident_id}.")
        if incident.new_patient_id is not None:
            return incident.new_patient
        sent = incident.refused_details
        # Fields the terminal did not send (or sent empty) keep the model's defaults.
        sent_fields = {name: sent[name] for name in DEMOGRAPHIC_FIELDS if sent.get(name) not in (None, "")}
        patient = Patient(**sent_fields, created_by=resolved_by, origin_terminal=incident.terminal,
                          is_offline_entry=True, synced_at=timezone.now(), registered_at=incident.registered_at,
                          client_uuid=uuid.UUID(str(incident.refused_client_uuid)))
        save_new_patient(patient)
        incident.new_patient, incident.resolved_at, incident.resolved_by = patient, timezone.now(), resolved_by
        incident.save(update_fields=["new_patient", "resolved_at", "resolved_by"])
    logger.info("Offline incident #%s resolved: %r now has MRN %s (reprint the slip printed as %s)",
                incident.pk, patient.full_name, patient.mrn, incident.mrn)
    return patient


def renumbered_by_incident(*, client_uuid, patient: Patient) -> bool:
    """Whether `patient` got its MRN by resolving the incident of registration `client_uuid`."""
    return OfflineIncident.objects.filter(refused_client_uuid=client_uuid, new_patient=patient).exists()


def open_incident_count() -> int:
    """Open incidents, for /metrics and the ops view."""
    return open_incidents().count()
