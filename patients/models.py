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

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A blank name would print an anonymous slip; forms check it too, the database has the last word.
            models.CheckConstraint(condition=~models.Q(full_name=""), name="patients_patient_full_name_not_blank"),
        ]

    def __str__(self):
        return f"{self.mrn} {self.full_name}"
