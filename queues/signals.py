"""What queues tells patients, through core.signals: call these inside the transaction of the step."""

from core import signals
from queues.models import Visit


def visit_called(visit: Visit, *, again: bool = False) -> None:
    """`visit` (status called, desk set) was called to its desk; `again=True` when the desk calls it once more
    (e.g. a `call_again` step). Notifications (SMS, webhook) are written in the caller's transaction."""
    signals.notify_patient(
        sender=Visit,
        patient=visit.patient,
        kind=signals.VISIT_CALLED_AGAIN if again else signals.VISIT_CALLED,
        number=visit.token,
        room=visit.desk.name,
    )
