"""The outbox asks before sending a reminder whether it still holds (core.signals.notice_still_wanted)."""

import datetime

from django.utils import timezone

from core import signals
from queues.models import Visit
from tokens.models import Slot, Token


def still_wanted(sender, *, kind: str, key: str, **kwargs) -> bool | None:
    """False for a reminder whose token is no longer confirmed, has been called, is in a cancelled slot or whose
    slot has started; False for a "patients ahead" notice whose visit no longer waits. None (no opinion) for the
    other kinds."""
    subject, pk = signals.subject_of(key)
    if kind in (signals.REMINDER_EVENING, signals.REMINDER_SOON) and subject == "token":
        token = Token.objects.select_related("slot").filter(pk=pk).first()
        if token is None:
            return False
        starts = token.slot.start_time + datetime.timedelta(minutes=token.slot.delay_minutes)
        return (token.status == Token.Status.CONFIRMED and token.called_at is None
                and token.slot.status != Slot.Status.CANCELLED and timezone.now() < starts)
    if kind == signals.VISIT_AHEAD and subject == "visit":
        return Visit.objects.filter(pk=pk, status=Visit.Status.WAITING).exists()
    return None
