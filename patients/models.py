from django.conf import settings
from django.db import models

from patients.validators import validate_cnic, validate_not_future, validate_phone


class Patient(models.Model):
    """A registered patient. `mrn` is the registration number: issued once by `services.register_patient`,
    unique, and never changed or freed afterwards (deactivating a patient keeps the number)."""

    class Sex(models.TextChoices):
        MALE = "M", "Male"
        FEMALE = "F", "Female"
        OTHER = "O", "Other"

    mrn = models.CharField("MRN", max_length=20, unique=True, editable=False)
    full_name = models.CharField(max_length=200)
    father_name = models.CharField("father's name", max_length=200, blank=True)
    dob = models.DateField("date of birth", null=True, blank=True, validators=[validate_not_future])
    sex = models.CharField(max_length=1, choices=Sex.choices, blank=True)
    phone = models.CharField(max_length=25, blank=True, validators=[validate_phone])
    cnic = models.CharField("CNIC", max_length=15, blank=True, validators=[validate_cnic])
    email = models.EmailField(blank=True)
    address = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Offline registration (seed 001, issue #6): set by terminals.services only.
    origin_terminal = models.ForeignKey(
        "terminals.LabTerminal", null=True, blank=True, on_delete=models.SET_NULL, related_name="patients",
        editable=False,
    )
    is_offline_entry = models.BooleanField(default=False, editable=False)
    synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    client_uuid = models.UUIDField(
        null=True, blank=True, editable=False,
        help_text="The terminal's id for this registration; makes sync idempotent.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A blank name would print an anonymous slip; forms check it too, the database has the last word.
            models.CheckConstraint(condition=~models.Q(full_name=""), name="patients_patient_full_name_not_blank"),
            # A terminal's replayed sync finds its record by client_uuid instead of creating a second patient.
            models.UniqueConstraint(
                fields=["client_uuid"],
                condition=models.Q(client_uuid__isnull=False),
                name="patients_patient_client_uuid_unique",
            ),
        ]

    def __str__(self):
        return f"{self.mrn} {self.full_name}"
