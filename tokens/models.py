"""OPD slot tokens (seed 002): doctors, their time slots, tokens booked into slots, and each slot's waiting list.

Token numbers come from idseq (sequence `slot-token`, one scope per slot) and never change. Queue order, position
and estimated time are derived on read (`tokens.selectors`), so no stored row is rewritten when someone cancels or
time passes.
"""

import datetime
import uuid

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.db import models
from django.db.models import F, Q
from django.utils import dateformat, timezone
from django.utils.translation import gettext_lazy as _

from core.text import NameField


class TsTzRange(models.Func):
    """`tstzrange(start, end)`, half-open `[start, end)`: the time a slot occupies, for the overlap constraint."""

    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Category(models.TextChoices):
    """Booking categories of seed 002, best first. Each has a base priority (`BASE_PRIORITY`)."""

    EMERGENCY = "EMERGENCY", _("Emergency")
    PRIORITY_PAID = "PRIORITY_PAID", _("Priority (paid)")
    FOLLOWUP = "FOLLOWUP", _("Follow-up")
    ONLINE = "ONLINE", _("Online")
    WALKIN = "WALKIN", _("Walk-in")


# Seed 002's table: lower is seen first.
BASE_PRIORITY = {
    Category.EMERGENCY: 1,
    Category.PRIORITY_PAID: 2,
    Category.FOLLOWUP: 3,
    Category.ONLINE: 4,
    Category.WALKIN: 5,
}


class Doctor(models.Model):
    """A doctor who holds OPD slots."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = NameField(max_length=200)  # printed on token slips: core/text.py's character rule
    specialization = NameField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # A nameless doctor would print an anonymous token slip.
            models.CheckConstraint(condition=~Q(name=""), name="tokens_doctor_name_not_blank"),
        ]

    def __str__(self):
        return self.name


class Slot(models.Model):
    """One consultation period of a doctor, e.g. 09:00-10:00 for 15 patients.

    `current_capacity` counts the tokens holding a place (confirmed or completed); `emergency_overflow` counts the
    emergencies seated beyond `max_capacity`. Both change only under this row's lock (`tokens.services`).
    `delay_minutes` is how late the slot runs; `start_time` and `end_time` stay as scheduled.
    """

    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", _("Active")
        DELAYED = "DELAYED", _("Delayed")
        CANCELLED = "CANCELLED", _("Cancelled")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    doctor = models.ForeignKey(Doctor, on_delete=models.PROTECT, related_name="slots")
    start_time = models.DateTimeField()
    end_time = models.DateTimeField()
    max_capacity = models.PositiveIntegerField()
    current_capacity = models.PositiveIntegerField(default=0, editable=False)
    emergency_overflow = models.PositiveIntegerField(default=0, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    delay_minutes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start_time", "doctor__name"]
        constraints = [
            # A slot with no length has no time to give anyone; estimated times divide by its length.
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")),
                name="tokens_slot_ends_after_start",
                violation_error_message="The slot must end after it starts.",
            ),
            # A slot must seat someone; estimated times divide by the capacity.
            models.CheckConstraint(condition=Q(max_capacity__gte=1), name="tokens_slot_capacity_at_least_1"),
            # Hard capacity: only emergencies (counted in their own column) may seat beyond max_capacity.
            models.CheckConstraint(
                condition=Q(current_capacity__lte=F("max_capacity") + F("emergency_overflow")),
                name="tokens_slot_within_capacity",
            ),
            # The overflow is part of the places taken, never more.
            models.CheckConstraint(
                condition=Q(emergency_overflow__lte=F("current_capacity")), name="tokens_slot_overflow_within_taken"
            ),
            # Seed 002 caps a delay at 12 hours.
            models.CheckConstraint(condition=Q(delay_minutes__lte=720), name="tokens_slot_delay_at_most_720"),
            # A doctor is in one place at a time: live slots of the same doctor never overlap (half-open ranges, so
            # 09:00-10:00 and 10:00-11:00 touch without overlapping). Cancelled slots free their time.
            ExclusionConstraint(
                name="tokens_slot_no_overlap_per_doctor",
                expressions=[
                    (TsTzRange("start_time", "end_time"), RangeOperators.OVERLAPS),
                    ("doctor", RangeOperators.EQUAL),
                ],
                condition=~Q(status="CANCELLED"),
                violation_error_message="This slot overlaps another slot of the same doctor.",
            ),
        ]
        indexes = [models.Index(fields=["doctor", "start_time"])]

    def __str__(self):
        """In plain words, as messages to the desk name it: `Dr. Sana Mirza, 2 Dec 2026 09:00–10:00` (the month in
        the active language: دسمبر on an Urdu page)."""
        start = dateformat.format(timezone.localtime(self.start_time), "j M Y H:i")
        return f"{self.doctor}, {start}–{timezone.localtime(self.end_time):%H:%M}"

    @property
    def day(self):
        """The slot's day in the hospital's time zone (the day double booking is judged by)."""
        return timezone.localdate(self.start_time)

    def is_over(self, now: datetime.datetime) -> bool:
        """True once the slot, its delay included, has ended at `now` (an aware datetime): it takes no bookings."""
        return self.end_time + datetime.timedelta(minutes=self.delay_minutes) <= now

    @property
    def free_places(self) -> int:
        """Places left for non-emergency bookings (0 when full)."""
        return max(self.max_capacity - (self.current_capacity - self.emergency_overflow), 0)


class Token(models.Model):
    """A patient's place in a slot. `token_number` is issued once (1, 2, 3 ... per slot) and never changes; a
    cancelled or no-show token keeps its number, which is never reissued.

    `doctor` and `day` copy the slot's, so the database can refuse double bookings (see constraints).
    `created_at` is the booking time the priority ages from; a token promoted from the waiting list keeps the
    time the patient asked.
    """

    class Status(models.TextChoices):
        CONFIRMED = "CONFIRMED", _("Confirmed")
        CANCELLED = "CANCELLED", _("Cancelled")
        NO_SHOW = "NO_SHOW", _("No-show")
        COMPLETED = "COMPLETED", _("Completed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="tokens")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="opd_tokens")
    doctor = models.ForeignKey(Doctor, on_delete=models.PROTECT, related_name="+", editable=False)
    day = models.DateField(editable=False)
    token_number = models.PositiveIntegerField(editable=False)
    category = models.CharField(max_length=15, choices=Category.choices)
    priority = models.PositiveSmallIntegerField(help_text="Base priority of the category (1 best, 5 last).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CONFIRMED)
    actual_time = models.DateTimeField(null=True, blank=True, help_text="When the consultation took place.")
    # The doctor's room: called to the room, consultation started. The token stays CONFIRMED meanwhile,
    # so its place, number and double-booking guard are untouched; complete or no-show ends it.
    called_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The board's latest announcement of this token: the call, or a later "call again" (called_at keeps the first).
    announced_at = models.DateTimeField(null=True, blank=True, editable=False)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The patient arrived: checked in at the desk or by "I am here" on their token page (tokens.services.check_in).
    # Past the grace (OPD_CHECK_IN_GRACE_MINUTES) Call next skips tokens without it, and `opd_no_shows` ends them.
    checked_in_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    # Audit, written in the transaction of the change: who booked (for a promoted token, who put the
    # patient on the waiting list), who cancelled or marked the no-show and when, and whose cancel or no-show
    # promoted this token from the waiting list, and when.
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    ended_at = models.DateTimeField(null=True, blank=True, editable=False, help_text="Cancelled or marked no-show.")
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    promoted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["slot__start_time", "token_number"]
        constraints = [
            # A printed token number is never issued twice in a slot.
            models.UniqueConstraint(fields=["slot", "token_number"], name="tokens_token_number_unique_per_slot"),
            # One confirmed token per patient per doctor per day (the seed's "no double booking").
            models.UniqueConstraint(
                fields=["patient", "doctor", "day"],
                condition=Q(status="CONFIRMED"),
                name="tokens_token_one_confirmed_per_patient_doctor_day",
            ),
            # Numbers start at 1.
            models.CheckConstraint(condition=Q(token_number__gte=1), name="tokens_token_number_at_least_1"),
            # A consultation starts only after its token was called to the room.
            models.CheckConstraint(
                condition=Q(started_at__isnull=True) | Q(called_at__isnull=False),
                name="tokens_token_started_after_called",
            ),
            # A completed consultation has a time.
            models.CheckConstraint(
                condition=~Q(status="COMPLETED") | Q(actual_time__isnull=False),
                name="tokens_token_completed_has_actual_time",
            ),
        ]
        indexes = [models.Index(fields=["day", "doctor"]), models.Index(fields=["slot", "status"])]

    def __str__(self):
        return f"Token {self.token_number} ({self.slot})"


class WaitingListEntry(models.Model):
    """A patient waiting for a place in a full slot. Promoted into a token (and deleted) when a place frees up."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slot = models.ForeignKey(Slot, on_delete=models.CASCADE, related_name="waiting_entries")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="opd_waiting_entries")
    category = models.CharField(max_length=15, choices=Category.choices)
    priority = models.PositiveSmallIntegerField(help_text="Base priority of the category (1 best, 5 last).")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    class Meta:
        ordering = ["slot__start_time", "created_at"]
        verbose_name_plural = "waiting list entries"
        constraints = [
            # A patient waits at most once for the same slot.
            models.UniqueConstraint(fields=["slot", "patient"], name="tokens_waiting_once_per_slot"),
        ]

    def __str__(self):
        return f"Waiting: {self.patient} for {self.slot}"
