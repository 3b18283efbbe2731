"""Lab terminals and their offline MRN ranges and leased blocks (seed 001).

Numbers of a terminal are handed out by `terminals.services` only, under a row lock on the LabTerminal row, from
its ranges' idseq reservations (the cursor lives there); the database keeps ranges and leases from ever
overlapping.
"""

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.db import models

from core.text import NameField
from idseq.models import Int8Range, closed_range  # noqa: F401  (Int8Range: named by migration 0001)


class LabTerminal(models.Model):
    """A workstation that may register patients while the network is down (seed 001's table).

    `user` is the terminal's identity on the API: a user in the `lab_terminal` group whose DRF token is the
    terminal's key; a terminal may lease from and register into its own ranges only.
    """

    code = models.CharField(max_length=50, unique=True)
    name = NameField(max_length=255)  # core/text.py's character rule
    is_active = models.BooleanField(default=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lab_terminal",
        help_text="The API identity of this terminal; its token is the terminal's key.",
    )
    # Staff who may run this terminal's offline registration page in their browser (terminals/views.py): the page
    # leases and syncs as this terminal, through the same API as the terminal's key, with a device of its own.
    browser_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="browser_terminals",
        help_text="Staff who may register offline in the browser as this terminal (its offline page).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The latest contact of any of its machines (terminals/devices.py; per machine: TerminalDevice).
    last_contact_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_sync_at = models.DateTimeField(null=True, blank=True, editable=False)
    clock_skew_seconds = models.IntegerField(
        null=True, blank=True, editable=False, help_text="Terminal clock minus server clock at the latest contact."
    )

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class NumberBlock(models.Model):
    """Consecutive numbers `start`..`end` (inclusive), recorded with who reserved them and when.

    No two blocks of one kind share a number, across all terminals (an exclusion constraint on `int8range`):
    otherwise two terminals could print the same MRN offline.
    """

    start = models.BigIntegerField()
    end = models.BigIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["start"]
        constraints = [
            # A block is a real, positive interval; the overlap constraint relies on it.
            models.CheckConstraint(
                condition=models.Q(start__gte=1, start__lte=models.F("end")),
                name="%(app_label)s_%(class)s_start_le_end",
            ),
            # No number in two blocks: two terminals would print the same MRN offline.
            ExclusionConstraint(
                name="%(app_label)s_%(class)s_no_overlap",
                expressions=[(closed_range("start", "end"), RangeOperators.OVERLAPS)],
                violation_error_message="These numbers overlap another block.",
            ),
        ]

    def __str__(self):
        return f"{self.start}-{self.end}"

    @property
    def total(self) -> int:
        """How many numbers the block holds."""
        return self.end - self.start + 1


class TerminalRange(NumberBlock):
    """A block of MRNs reserved for one terminal, `start`..`end` inclusive: values of the `mrn` sequence,
    written grouped (`007-10-000`) in the grouped scheme and as plain digits (`710000`, seed 001) in the dated one.

    Its numbers are handed out (registered or leased) from its idseq reservation, whose cursor `next_value` is the
    one record of how far the range is used (`terminals.services._take_numbers`); `current` shows it as seed 001
    does. A terminal keeps its old ranges: history is never deleted, a range is only deactivated.
    """

    terminal = models.ForeignKey(LabTerminal, on_delete=models.PROTECT, related_name="ranges")
    # The values of the `mrn` sequence this range holds: online numbering steps over them, nobody but
    # this terminal may issue them, each one synced is a ledger row (issued through idseq.reservations), and its
    # `next_value` is the range's cursor (idseq.reservations.take_reserved hands the numbers out).
    reservation = models.OneToOneField(
        "idseq.Reservation", null=True, blank=True, on_delete=models.PROTECT, related_name="terminal_range",
        editable=False,
    )
    is_active = models.BooleanField(default=True)
    from_pool = models.BooleanField(
        default=False, help_text="Added automatically from TOKENLINE_OFFLINE_POOL when the terminal passed 90 %."
    )
    # Who last turned the range on or off, and when (the audit; bounds never change once saved).
    switched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    switched_at = models.DateTimeField(null=True, blank=True, editable=False)

    @property
    def current(self) -> int:
        """The last number handed out (registered or leased), 0 while none is: seed 001's `offline_current`, read
        from the reservation's cursor (`next_value` - 1). Load ranges with `select_related("reservation")`."""
        reservation = self.reservation
        if reservation is None or reservation.next_value <= self.start:
            return 0
        return reservation.next_value - 1

    @property
    def used(self) -> int:
        """Numbers handed out so far (registered by the server or leased to the terminal)."""
        return self.current - self.start + 1 if self.current else 0

    @property
    def remaining(self) -> int:
        return self.total - self.used

    @property
    def percent_used(self) -> float:
        return 100 * self.used / self.total


class TerminalLease(NumberBlock):
    """A block `start`..`end` of a terminal's range, handed to the terminal while online so it can number
    registrations itself while offline; the server later accepts exactly those numbers."""

    terminal = models.ForeignKey(LabTerminal, on_delete=models.PROTECT, related_name="leases")
    range = models.ForeignKey(TerminalRange, on_delete=models.PROTECT, related_name="leases")
    # The machine that leased it (the client's device identity); only it may number from and sync the
    # lease. Blank for leases taken by clients that send no identity (any machine of the terminal may use them).
    device_id = models.CharField(max_length=64, blank=True, default="")
    # The client's id for the lease request: a resent request gets this same lease back, not a second block.
    request_id = models.UUIDField(null=True, blank=True)
    requested = models.IntegerField(null=True, blank=True, help_text="How many numbers the terminal asked for.")
    # The terminal's own counter as it last reported it (the next number it would print), or NULL; `reported_at`
    # when its machine last reported it (every contact does): printed = reported_next - start.
    reported_next = models.BigIntegerField(null=True, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)
    # Put on hold at the first collision on it (two machines printed its numbers: a cloned disk): numbers above
    # `hold_mark` (the highest known printed then) are refused, and every client stops printing from it at its
    # next contact and leases afresh.
    on_hold_at = models.DateTimeField(null=True, blank=True)
    hold_mark = models.BigIntegerField(null=True, blank=True)

    class Meta(NumberBlock.Meta):
        indexes = [
            # Sync looks up "the lease of this terminal containing MRN n" for every item.
            models.Index(fields=["terminal", "start", "end"], name="terminals_lease_lookup"),
        ]
        constraints = [
            *NumberBlock.Meta.constraints,
            # One lease per lease request: a resent request finds the lease instead of taking a second block.
            models.UniqueConstraint(
                fields=["terminal", "request_id"], condition=models.Q(request_id__isnull=False),
                name="terminals_lease_request_once",
            ),
        ]

    def __str__(self):
        return f"{self.terminal} {self.start}-{self.end}"


class OfflineIncident(models.Model):
    """An offline registration the server refused because its printed MRN cannot be trusted, stored here with its
    details so a person can give that patient a new number:
    - `collision`: two registrations claim one MRN; the one registered earlier keeps it (`kept`) and the other is
      held here; when the one already stored was the later, it was renumbered at once (`new_patient` set, resolved:
      `terminals.incidents.earlier_keeps`);
    - `wrong_device`: the MRN lies in a lease bound to another machine (a copied outbox printed it); `kept` is the
      record holding the number, if the lease's own machine synced it already;
    - `on_hold`: printed from a lease on hold (after a collision on it) above its hold mark.

    Opened by `terminals.incidents.record_collision`, resolved by `terminals.incidents.resolve_incident`.
    """

    class Kind(models.TextChoices):
        COLLISION = "collision", "MRN claimed twice"
        WRONG_DEVICE = "wrong_device", "number of another machine's lease"
        ON_HOLD = "on_hold", "printed from a lease on hold"

    terminal = models.ForeignKey(LabTerminal, on_delete=models.PROTECT, related_name="incidents")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.COLLISION)
    mrn = models.CharField("MRN claimed twice", max_length=20)
    kept = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The record that holds the MRN (none yet for a number of another machine's lease).",
    )
    kept_details = models.JSONField(null=True, blank=True,
                                    help_text="The kept patient's details when the collision was found.")
    refused_client_uuid = models.UUIDField()
    refused_details = models.JSONField(help_text="The refused registration as the terminal sent it.")
    registered_at = models.DateTimeField(null=True, blank=True, help_text="When the terminal registered it.")
    device_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    new_patient = models.OneToOneField(
        "patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The refused patient, registered under a new MRN when the incident was resolved.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A refused registration sent again finds its incident instead of opening a second one.
            models.UniqueConstraint(fields=["refused_client_uuid"], name="terminals_incident_once"),
        ]
        indexes = [
            # The open incidents (the admin's default view, /metrics): few rows among many resolved ones.
            models.Index(fields=["created_at"], condition=models.Q(resolved_at__isnull=True),
                         name="terminals_incident_open"),
        ]

    def __str__(self):
        return f"{self.terminal} MRN {self.mrn} claimed twice"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class SkewedRegistration(models.Model):
    """An offline registration whose `registered_at` (the terminal's clock) lay later than the server's time plus
    the allowed skew when it arrived: the patient was stored with the server's time instead, and this row keeps
    what the terminal claimed, so ops see which records and which clock to look at."""

    patient = models.OneToOneField("patients.Patient", on_delete=models.PROTECT, related_name="+")
    terminal = models.ForeignKey(LabTerminal, on_delete=models.PROTECT, related_name="skewed_registrations")
    claimed_registered_at = models.DateTimeField(help_text="The registration time the terminal sent.")
    device_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.terminal} patient {self.patient_id} claimed {self.claimed_registered_at:%Y-%m-%d %H:%M}"


class TerminalDevice(models.Model):
    """One machine of a terminal, by the device identity its client sends (`X-Tokenline-Device`; "" for clients
    sending none): when it was last in touch and how its clock stood. The ops view shows each machine with the
    server's own figures for it (its refused registrations, its leases' unsynced numbers)."""

    terminal = models.ForeignKey(LabTerminal, on_delete=models.PROTECT, related_name="devices")
    device_id = models.CharField(max_length=64, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_contact_at = models.DateTimeField(null=True, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    clock_skew_seconds = models.IntegerField(null=True, blank=True)
    # The epoch issued at its latest contact ("seq.token") and the one before, which a machine whose reply was lost
    # may still present (terminals.devices.check_epoch): a clone of the disk presents an older one and is caught.
    epoch = models.CharField(max_length=40, blank=True, default="")
    previous_epoch = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        ordering = ["terminal", "device_id"]
        constraints = [
            # One row per machine of a terminal: contacts update it.
            models.UniqueConstraint(fields=["terminal", "device_id"], name="terminals_device_once"),
        ]

    def __str__(self):
        return f"{self.terminal} device {self.device_id[:8] or '(none)'}"


class RefusedRegistration(models.Model):
    """An offline registration the server refused (4xx) and has not stored since: the server's own record of what
    a terminal holds for fixing, per machine. Written by every sync (batch or single); deleted when a later sync
    stores that registration."""

    terminal = models.ForeignKey(LabTerminal, on_delete=models.PROTECT, related_name="refusals")
    device_id = models.CharField(max_length=64, blank=True)
    client_uuid = models.UUIDField()
    mrn = models.CharField(max_length=20, blank=True)
    status = models.PositiveSmallIntegerField()
    errors = models.JSONField()
    refused_at = models.DateTimeField()

    class Meta:
        ordering = ["refused_at", "id"]
        constraints = [
            # One row per registration: refused again, it is updated.
            models.UniqueConstraint(fields=["client_uuid"], name="terminals_refusal_once"),
        ]

    def __str__(self):
        return f"{self.terminal} {self.mrn} refused ({self.status})"


class LeaseHandover(models.Model):
    """Ops moved a lease, with its printed-but-unsynced records, from one machine of its terminal to another (a
    dead PC's disk or outbox now in its replacement): who, when and why. Written by
    `terminals.services.hand_over_lease` only; never changed afterwards."""

    lease = models.ForeignKey(TerminalLease, on_delete=models.PROTECT, related_name="handovers")
    from_device = models.CharField(max_length=64, blank=True)
    to_device = models.CharField(max_length=64)
    reason = models.TextField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.lease} handed to {self.to_device[:12]}"
