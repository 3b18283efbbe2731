"""Device-bound leases and what a terminal reports on each contact.

A terminal's client keeps a device identity outside its outbox file, tied to the machine (terminals/client.py). The
server records it on every lease; a lease with a device may be synced from that device only, so an outbox copied to
another PC cannot bring its numbers back as if they were its own. Each lease and sync reply carries the server's
high-water mark per lease (the highest number synced from it): a client whose own counter is behind it runs from a
restored backup and stops numbering from that lease before it reprints a slip.

Every request of a terminal may carry headers describing its state, recorded by `record_contact`:
`X-Tokenline-Device` (its identity), `X-Tokenline-Clock` (its clock, ISO 8601 with offset) and `X-Tokenline-Next`
(`start:next,...`, the next number it would print from each lease: how many it has printed). What ops see of a
machine's outbox comes from the server's own state, never from counts a client says: the registrations refused and
not stored since (`RefusedRegistration`, `record_refusals`) and, per lease, the numbers reported printed that no
stored registration carries yet (`lease_state`'s `unsynced`).
"""

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, IntegerField, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from core.errors import DomainError
from patients.models import Patient
from terminals.models import LabTerminal, RefusedRegistration, TerminalDevice, TerminalLease

logger = logging.getLogger("tokenline.terminals")

SKEW_LIMIT = timedelta(minutes=10)  # a terminal clock off by more is flagged (its records are accepted)
DEVICE_ID_MAX = 64
# How the offline registration page names its browser (static/js/offline.js): "browser-" and 32 hex digits.
BROWSER_PREFIX = "browser-"


def device_kind(device_id: str) -> str:
    """"browser" for an offline registration page's identity, "client" for the command-line client's."""
    return "browser" if device_id.startswith(BROWSER_PREFIX) else "client"


@dataclass(frozen=True)
class Contact:
    """What a terminal said about itself in one request (all optional; absent means "not reported").

    device_id: its device identity ("" when not sent); clock: its time; next_numbers: {lease start: the next
    number it would print from that lease}.
    """

    device_id: str = ""
    epoch: str | None = None  # None: the client sent no X-Tokenline-Epoch (an older client: not checked)
    clock: datetime | None = None
    next_numbers: dict[int, int] = field(default_factory=dict)


class WrongDevice(DomainError):
    """409: a number of a lease bound to another machine (a copied outbox). `field` names the refused field;
    `incident` the offline incident holding the registration, when one was opened (it had a client_uuid)."""

    def __init__(self, terminal: LabTerminal, number: str, incident=None):
        extra = {"incident": incident.pk} if incident is not None else {}
        super().__init__(
            f"MRN {number} belongs to a lease of another machine of {terminal.code}: this outbox was copied. "
            "Do not use its slips here; lease a new block.", field="mrn", **extra
        )


def parse_contact(headers) -> Contact:
    """A Contact from request headers (see the module docstring). Malformed values raise DomainError (400)."""
    device = headers.get("X-Tokenline-Device", "").strip()
    if len(device) > DEVICE_ID_MAX:
        raise DomainError(f"X-Tokenline-Device is longer than {DEVICE_ID_MAX} characters.", status_code=400)
    try:
        clock_text = headers.get("X-Tokenline-Clock")
        clock = datetime.fromisoformat(clock_text) if clock_text else None
        if clock is not None and clock.tzinfo is None:
            raise ValueError("the clock needs its UTC offset")
        next_numbers = {}
        for pair in filter(None, headers.get("X-Tokenline-Next", "").split(",")):
            start, _, number = pair.partition(":")
            next_numbers[int(start)] = int(number)
    except ValueError as exc:
        raise DomainError(f"Malformed X-Tokenline header: {exc}", status_code=400) from None
    epoch = headers.get("X-Tokenline-Epoch")
    if epoch is not None and len(epoch) > 40:
        raise DomainError("X-Tokenline-Epoch is longer than 40 characters.", status_code=400)
    return Contact(device_id=device, epoch=None if epoch is None else epoch.strip(), clock=clock,
                   next_numbers=next_numbers)


def record_contact(*, terminal: LabTerminal, contact: Contact, synced: bool = False) -> None:
    """Record that `terminal`'s machine `contact.device_id` was in touch now; `synced` when it sent registrations.

    The terminal's and the machine's (TerminalDevice) last contact and clock skew are overwritten by the latest
    contact; a lease's reported next number only moves up (a restored backup reporting an older counter does not
    hide how far the terminal had printed), and its `reported_at` is now. A skew above SKEW_LIMIT is logged as a
    WARNING.
    """
    now = timezone.now()
    changes = {"last_contact_at": now}
    if synced:
        changes["last_sync_at"] = now
    if contact.clock is not None:
        skew = round((contact.clock - now).total_seconds())
        changes["clock_skew_seconds"] = skew
        if abs(skew) > SKEW_LIMIT.total_seconds():
            logger.warning("Terminal %s clock is %+d s off the server's", terminal.code, skew)
    LabTerminal.objects.filter(pk=terminal.pk).update(**changes)
    TerminalDevice.objects.update_or_create(terminal=terminal, device_id=contact.device_id, defaults=changes)
    for start, number in sorted(contact.next_numbers.items()):
        TerminalLease.objects.filter(Q(device_id=contact.device_id) | Q(device_id=""), terminal=terminal,
                                     start=start, end__gte=number - 1).update(
            reported_next=Greatest(Coalesce("reported_next", number), number), reported_at=now,
        )


def check_epoch(*, terminal: LabTerminal, contact: Contact) -> str:
    """Check the epoch the machine presented and issue its next one (returned, for the `X-Tokenline-Epoch` reply
    header; "" when the client sent none, as older clients do: nothing is checked then).

    The server rotates each machine's epoch on every contact and accepts the one it issued last or, while that one
    was never presented (its reply may have been lost), the one before. Two machines with one identity (a cloned
    disk) soon present an epoch that is neither: every lease of that identity is then put on hold, and so on at
    every divergence while both run.
    """
    if contact.epoch is None:
        return ""
    with transaction.atomic():
        device, _ = TerminalDevice.objects.select_for_update().get_or_create(terminal=terminal,
                                                                            device_id=contact.device_id)
        if contact.epoch == device.epoch or not device.epoch:
            device.previous_epoch = device.epoch
        elif contact.epoch != device.previous_epoch:
            device.previous_epoch = ""
            leases = TerminalLease.objects.filter(terminal=terminal, device_id=contact.device_id,
                                                  on_hold_at__isnull=True)
            for lease in leases:
                put_on_hold(lease, why=f"machine {contact.device_id[:12]} presented epoch {contact.epoch!r}, not "
                                       f"{device.epoch!r}: two machines share its identity (a cloned disk?)")
        seq = int(device.epoch.partition(".")[0] or 0) if device.epoch.partition(".")[0].isdigit() else 0
        device.epoch = f"{seq + 1}.{secrets.token_hex(8)}"
        device.save(update_fields=["epoch", "previous_epoch"])
    return device.epoch


def put_on_hold(lease: TerminalLease, *, printed: int | None = None, why: str) -> None:
    """Put `lease` on hold unless it already is: numbers above the highest known printed now (stored, reported by
    its machine, or `printed`) are refused from then on, and clients stop printing from it at their next contact.
    Logged as an ERROR with `why`."""
    stored = Patient.objects.filter(origin_terminal_id=lease.terminal_id, is_offline_entry=True,
                                    mrn_value__range=(lease.start, lease.end)).aggregate(m=Max("mrn_value"))["m"]
    mark = max(n for n in (printed, stored, lease.reported_next and lease.reported_next - 1, lease.start - 1) if n)
    if TerminalLease.objects.filter(pk=lease.pk, on_hold_at__isnull=True).update(on_hold_at=timezone.now(),
                                                                                 hold_mark=mark):
        logger.error("Lease %s put on hold (%s); numbers above %s are refused", lease, why, mark)


def record_refusals(*, terminal: LabTerminal, device_id: str, refused: list[tuple], stored: list) -> None:
    """Keep the server's record of refused registrations: `refused` [(client_uuid, mrn, status, errors), ...]
    (4xx answers) are recorded or updated; the client_uuids in `stored` (stored or found stored now) are forgotten.
    """
    now = timezone.now()
    if stored:
        RefusedRegistration.objects.filter(client_uuid__in=stored).delete()
    for client_uuid, mrn, status, errors in refused:
        RefusedRegistration.objects.update_or_create(
            client_uuid=client_uuid, defaults={"terminal": terminal, "device_id": device_id, "mrn": mrn or "",
                                               "status": status, "errors": errors, "refused_at": now})


def may_use(lease: TerminalLease, device_id: str) -> bool:
    """Whether the device `device_id` may sync numbers of `lease`: the device it is bound to, or any device when
    the lease has none (taken by a client that sends no identity)."""
    return not lease.device_id or lease.device_id == device_id


def skewed(seconds: int | None) -> bool:
    """Whether a recorded clock skew (seconds) is over the 10-minute limit."""
    return seconds is not None and abs(seconds) > SKEW_LIMIT.total_seconds()


def with_marks(leases):
    """`leases` (a TerminalLease queryset) annotated with `synced` (registrations stored from each lease) and
    `high_water` (the highest number stored from it, or None), by value (plain or grouped MRNs alike)."""
    stored = Patient.objects.filter(origin_terminal=OuterRef("terminal"), is_offline_entry=True).annotate(
        number=F("mrn_value")  # the number however it is written (Patient.mrn_value)
    ).filter(number__gte=OuterRef("start"), number__lte=OuterRef("end")).order_by()
    return leases.annotate(
        synced=Coalesce(Subquery(stored.values("origin_terminal").annotate(n=Count("pk")).values("n")), 0,
                        output_field=IntegerField()),
        high_water=Subquery(stored.values("origin_terminal").annotate(m=Max("number")).values("m")),
    )


def leases_with_marks(terminal: LabTerminal, *, device_id: str | None = None):
    """The terminal's leases (only those of `device_id` when given, with unbound ones) `with_marks`, oldest first."""
    leases = TerminalLease.objects.filter(terminal=terminal)
    if device_id is not None:
        leases = leases.filter(Q(device_id=device_id) | Q(device_id=""))
    return with_marks(leases).order_by("start")


def lease_state(lease) -> dict:
    """One lease as the API and the ops view show it (`lease` from `leases_with_marks`).

    Returns {"id", "start", "end", "count", "device_id", "created_at", "synced", "high_water" (None: nothing
    synced), "reported_next" (None: never reported), "printed" (numbers its machine reported printed; None: never
    reported), "unsynced" (of those, none stored yet: printed minus synced, at least 0; None: never reported),
    "last_contact_at" (when its machine last reported it), "stale" (unsynced numbers reported more than
    TOKENLINE_OFFLINE_STALE_HOURS ago), "on_hold" and "hold_mark" (after a collision on it), "used" (numbers the
    terminal has consumed, as far as the server knows: up to the high-water mark or the reported counter),
    "unused"}.
    """
    consumed = [lease.synced]
    if lease.high_water is not None:
        consumed.append(lease.high_water - lease.start + 1)
    if lease.reported_next is not None:
        consumed.append(lease.reported_next - lease.start)
    used = min(max(consumed), lease.total)
    printed = None if lease.reported_next is None else min(lease.reported_next - lease.start, lease.total)
    unsynced = None if printed is None else max(printed - lease.synced, 0)
    stale = bool(unsynced) and lease.reported_at is not None and (
        timezone.now() - lease.reported_at > timedelta(hours=settings.TOKENLINE_OFFLINE_STALE_HOURS))
    return {"id": lease.pk, "start": lease.start, "end": lease.end, "count": lease.total,
            "device_id": lease.device_id, "created_at": lease.created_at, "synced": lease.synced,
            "high_water": lease.high_water, "reported_next": lease.reported_next, "printed": printed,
            "unsynced": unsynced, "last_contact_at": lease.reported_at, "stale": stale,
            "on_hold": lease.on_hold_at is not None, "hold_mark": lease.hold_mark, "used": used,
            "unused": lease.total - used}


def lease_states(terminal: LabTerminal, *, device_id: str | None = None) -> list[dict]:
    """`lease_state` of each lease of `leases_with_marks`."""
    return [lease_state(lease) for lease in leases_with_marks(terminal, device_id=device_id)]
