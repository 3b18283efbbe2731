"""The one signal by which apps that must not import each other tell the patient something.

queues and tokens send it (through their own `signals.py` helpers) inside the transaction that records the event;
notifications listens and writes its outbox rows in that same transaction, so a message exists exactly when the
event committed. Receivers must be quick and must not do I/O: delivery happens after commit, elsewhere.
"""

import logging

from django.dispatch import Signal

logger = logging.getLogger("tokenline.notifications")

# What happened (the `kind` of a notice).
VISIT_CALLED = "visit_called"  # a desk called a walk-in visit
VISIT_CALLED_AGAIN = "visit_called_again"  # ... and calls it once more
TOKEN_CALLED = "token_called"  # a doctor called an OPD token
TOKEN_PROMOTED = "token_promoted"  # a place freed up: the patient on the waiting list now holds a token
SLOT_DELAYED = "slot_delayed"  # the OPD slot of the patient's token runs late (extra: delay_minutes)

patient_notice = Signal()
"""Keyword arguments: patient (patients.models.Patient), kind (one of the kinds above), number (the token as
printed: `GEN-007`, or `7`), room (where: the desk or the doctor), extra (dict of further values for the message)."""


def notify_patient(*, sender, patient, kind: str, number: str, room: str, extra: dict | None = None) -> None:
    """Send `patient_notice`. Call it inside the transaction that saves the event.

    A failing receiver is logged, never raised: a notice must not undo or fail the call it reports (receivers
    write in a savepoint, so their failure leaves the caller's transaction usable).
    """
    responses = patient_notice.send_robust(
        sender=sender, patient=patient, kind=kind, number=number, room=room, extra=extra or {}
    )
    for receiver, response in responses:
        if isinstance(response, Exception):
            logger.error("Notice %s for patient %s not recorded by %r: %r", kind, patient.mrn, receiver, response)
