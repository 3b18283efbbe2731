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
SLOT_CANCELLED = "slot_cancelled"  # the OPD slot of the patient's token is cancelled, and the token with it
REMINDER_EVENING = "reminder_evening"  # the evening before an OPD token's slot (extra: starts_at)
REMINDER_SOON = "reminder_soon"  # a set time (two hours) before an OPD token's slot (extra: starts_at)
VISIT_AHEAD = "visit_ahead"  # a waiting walk-in visit now has a set number of patients ahead of it (extra: ahead)

patient_notice = Signal()
"""Keyword arguments: patient (patients.models.Patient), kind (one of the kinds above), number (the token as
printed: `GEN-007`, or `7`), room (where: the desk or the doctor), extra (dict of further values for the message),
key (blank, or the notice's identity: at most one message per key and adapter is ever written, see `notice_key`)."""

notice_still_wanted = Signal()
"""Sent by the outbox just before a keyed message goes out. Keyword arguments: kind, key. A receiver returns False
when the event the message announces no longer holds (a reminder for a token cancelled since); the message is then
skipped, never sent. Receivers only read."""


def notice_key(subject: str, pk, kind: str, *variant) -> str:
    """The identity of a notice about one record: `notice_key("token", token.pk, REMINDER_EVENING)` ->
    `token:<uuid>:reminder_evening`; `variant` tells apart notices of one kind that may rightly repeat (a delay
    of 15 then of 30 minutes). `subject_of(key)` reads (subject, pk) back."""
    return ":".join([subject, str(pk), kind, *map(str, variant)])


def subject_of(key: str) -> tuple[str, str]:
    """`("token", "<uuid>")` from a key made by `notice_key`."""
    subject, pk, *_ = key.split(":")
    return subject, pk


def notify_patient(
    *, sender, patient, kind: str, number: str, room: str, extra: dict | None = None, key: str = ""
) -> None:
    """Send `patient_notice`. Call it inside the transaction that saves the event. With a `key` (`notice_key`), a
    second notice with the same key writes nothing: reminders sent by two schedulers at once go out once.

    A failing receiver is logged, never raised: a notice must not undo or fail the call it reports (receivers
    write in a savepoint, so their failure leaves the caller's transaction usable).
    """
    responses = patient_notice.send_robust(
        sender=sender, patient=patient, kind=kind, number=number, room=room, extra=extra or {}, key=key
    )
    for receiver, response in responses:
        if isinstance(response, Exception):
            logger.error("Notice %s for patient %s not recorded by %r: %r", kind, patient.mrn, receiver, response)
