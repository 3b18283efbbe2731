"""Forms of the OPD reception pages."""

from django import forms
from django.utils import timezone

from core.dates import validate_query_day
from tokens.models import Category, Doctor, Slot


class SlotPickForm(forms.Form):
    """Which day's slots to show, of one doctor or all (GET)."""

    day = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), validators=[validate_query_day]
    )
    doctor = forms.ModelChoiceField(Doctor.objects.all(), required=False, empty_label="All doctors")

    def choice(self) -> tuple:
        """(day, doctor or None): today and all doctors unless the form says otherwise."""
        data = self.cleaned_data if self.is_valid() else {}
        return data.get("day") or timezone.localdate(), data.get("doctor")


class BookingForm(forms.Form):
    """Book a patient (by MRN) into one of `slots` in a category (POST)."""

    slot = forms.ModelChoiceField(Slot.objects.none(), widget=forms.RadioSelect, empty_label=None,
                                  error_messages={"required": "Choose a slot."})
    mrn = forms.CharField(label="MRN", max_length=20)
    category = forms.ChoiceField(choices=Category.choices, initial=Category.WALKIN)

    def __init__(self, *args, slots, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slot"].queryset = slots


class ReportForm(forms.Form):
    """The daily report's day and doctor (GET)."""

    date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), validators=[validate_query_day]
    )
    doctor = forms.ModelChoiceField(Doctor.objects.all(), required=False, empty_label="All doctors")
