"""The notification outbox: one row per message to send, written in the transaction of the call that
caused it, delivered after commit by the worker (notifications/delivery.py)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from core import signals


class Kind(models.TextChoices):
    """What happened: the kinds of core.signals' notices; their messages are in notifications/messages.py."""

    VISIT_CALLED = signals.VISIT_CALLED, "Visit called"
    VISIT_CALLED_AGAIN = signals.VISIT_CALLED_AGAIN, "Visit called again"
    TOKEN_CALLED = signals.TOKEN_CALLED, "OPD token called"
    TOKEN_PROMOTED = signals.TOKEN_PROMOTED, "OPD token from the waiting list"
    SLOT_DELAYED = signals.SLOT_DELAYED, "OPD slot delayed"
    SLOT_CANCELLED = signals.SLOT_CANCELLED, "OPD slot cancelled"
    REMINDER_EVENING = signals.REMINDER_EVENING, "OPD reminder, the evening before"
    REMINDER_SOON = signals.REMINDER_SOON, "OPD reminder, shortly before"
    VISIT_AHEAD = signals.VISIT_AHEAD, "Patients ahead of a visit"


class State(models.TextChoices):
    """Delivery state. pending -> sending (claimed, one attempt under way) -> delivered | pending (retry later) |
    failed. A row left `sending` by a worker that died is never sent again by itself (at most once): an operator
    may send it again from the admin. `skipped`: not sent, because the event it announced no longer held when its
    turn came (a reminder for a token cancelled since: core.signals.notice_still_wanted)."""

    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class Notification(models.Model):
    """One message for one adapter (`sms`, `webhook`) about one event of one patient."""

    Kind = Kind
    State = State

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    number = models.CharField(max_length=20, help_text="The token as printed: GEN-007, or an OPD token's number.")
    room = models.CharField(max_length=200, help_text="Where to go: the desk, or the doctor.")
    language = models.CharField(max_length=2, choices=[("ur", "Urdu"), ("en", "English")])
    extra = models.JSONField(default=dict, blank=True, help_text="More for the message, e.g. delay_minutes.")
    adapter = models.CharField(max_length=10, choices=[("sms", "SMS"), ("webhook", "Webhook")])
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When the latest attempt started.")
    delivered_at = models.DateTimeField(null=True, blank=True)
    key = models.CharField(
        max_length=100, blank=True, default="",
        help_text="The notice's identity (token:<id>:reminder_evening); blank for notices that may repeat.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=State.values), name="notifications_state_valid"),
            # A delivered row says when; nothing else does (the admin's and /metrics' counts rely on the state).
            models.CheckConstraint(
                condition=Q(state="delivered", delivered_at__isnull=False) | ~Q(state="delivered"),
                name="notifications_delivered_has_time",
            ),
            # Every attempt was claimed first: no row is sending without having been counted.
            models.CheckConstraint(
                condition=~Q(state="sending") | Q(attempts__gte=1, claimed_at__isnull=False),
                name="notifications_sending_is_claimed",
            ),
            # Idempotency: one message per notice and adapter, however many schedulers or retries write it.
            models.UniqueConstraint(fields=["key", "adapter"], condition=~Q(key=""), name="notifications_key_once"),
        ]
        indexes = [
            # The worker's claim: due pending rows, oldest due first, without reading delivered ones.
            models.Index(fields=["next_attempt_at"], condition=Q(state="pending"), name="notifications_due"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.number} to {self.get_adapter_display()} ({self.state})"
