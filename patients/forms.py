from django import forms

from patients.models import Patient
from patients.services import DEMOGRAPHIC_FIELDS


class PatientForm(forms.ModelForm):
    """Reception's registration form: the demographics only; the MRN is issued on save."""

    class Meta:
        model = Patient
        fields = list(DEMOGRAPHIC_FIELDS)
        widgets = {
            "dob": forms.DateInput(attrs={"type": "date"}),
            "address": forms.Textarea(attrs={"rows": 2}),
            "cnic": forms.TextInput(attrs={"placeholder": "12345-1234567-1"}),
            "phone": forms.TextInput(attrs={"placeholder": "0300-1234567"}),
        }


class PatientSearchForm(forms.Form):
    """The patient list's search box: MRN, name or phone."""

    q = forms.CharField(required=False, label="Search", max_length=100)
