"""What the OPD tells patients, through core.signals: call these inside the transaction of the change."""

import datetime

from django.utils import timezone

from core import signals
from tokens.models import Slot, Token


def token_called(token: Token) -> None:
    """The doctor calls `token` in (e.g. a doctor's "call next")."""
    _notify(token, signals.TOKEN_CALLED)


def token_promoted(token: Token) -> None:
    """`token` was just issued to a patient from the slot's waiting list."""
    _notify(token, signals.TOKEN_PROMOTED, starts_at=_local_time(token.slot))


def slot_delayed(slot: Slot) -> None:
    """`slot` now runs `slot.delay_minutes` late: tell each patient holding a confirmed token in it (nothing when
    the delay was taken back to 0)."""
    if not slot.delay_minutes:
        return
    tokens = slot.tokens.filter(status=Token.Status.CONFIRMED).select_related("patient", "doctor", "slot")
    for token in tokens:
        _notify(token, signals.SLOT_DELAYED, delay_minutes=slot.delay_minutes, starts_at=_local_time(slot),
                key=token_key(token, signals.SLOT_DELAYED, slot.delay_minutes))


def slot_cancelled(slot: Slot, tokens: list[Token]) -> None:
    """`slot` was cancelled with `tokens` (those confirmed until then): tell each patient, once per token."""
    for token in tokens:
        _notify(token, signals.SLOT_CANCELLED, starts_at=_local_time(slot),
                key=token_key(token, signals.SLOT_CANCELLED))


def reminder(token: Token, kind: str) -> None:
    """Remind the patient of `token` of its slot (`kind`: core.signals.REMINDER_EVENING or REMINDER_SOON); written
    at most once per token and kind."""
    _notify(token, kind, starts_at=_local_time(token.slot), key=token_key(token, kind))


def token_key(token: Token, kind: str, *variant) -> str:
    """The notice key of `token`'s message of `kind` (core.signals.notice_key): `token:<id>:<kind>[:<variant>]`."""
    return signals.notice_key("token", token.pk, kind, *variant)


def _notify(token: Token, kind: str, *, key: str = "", **extra) -> None:
    signals.notify_patient(
        sender=Token, patient=token.patient, kind=kind, number=str(token.token_number), room=str(token.doctor),
        extra=extra, key=key,
    )


def _local_time(slot: Slot) -> str:
    """When the slot now starts (its delay included), as the clock in the hospital shows it: `10:30`."""
    return f"{timezone.localtime(slot.start_time + datetime.timedelta(minutes=slot.delay_minutes)):%H:%M}"
