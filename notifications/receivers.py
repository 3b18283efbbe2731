"""Writes the outbox rows of a notice (core.signals.patient_notice), in the sender's transaction."""

from django.db import transaction

from notifications import adapters
from notifications.delivery import enqueue
from notifications.models import Notification


def write_outbox(
    sender, *, patient, kind: str, number: str, room: str, extra: dict, key: str = "", **kwargs
) -> list[Notification]:
    """One pending row per enabled adapter that this patient may get; a task to deliver them after commit.

    The SMS is skipped for a patient who opted out (`Patient.notify_opt_out`) or has no phone. The rows are
    inserted in a savepoint so that, should the insert fail, the call that sent the notice still commits
    (core.signals.notify_patient logs the error). A keyed row whose key and adapter are already in the outbox is
    not written again (`INSERT ... ON CONFLICT DO NOTHING` on `notifications_key_once`: a concurrent writer of the
    same key waits for the first one's commit, then writes nothing). Returns the rows meant to be written.
    """
    rows = [
        Notification(patient=patient, kind=kind, number=number, room=room, extra=extra,
                     language=patient.notify_language, adapter=adapter.name, key=key)
        for adapter in adapters.enabled()
        if not adapter.reaches_patient or (patient.phone and not patient.notify_opt_out)
    ]
    if rows:
        with transaction.atomic():
            Notification.objects.bulk_create(rows, ignore_conflicts=bool(key))
        transaction.on_commit(enqueue, robust=True)
    return rows
