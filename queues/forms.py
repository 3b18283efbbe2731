from django import forms
from django.utils.translation import gettext_lazy as _

from patients.forms import PatientForm
from queues.models import Queue, Visit


class IssueTokenForm(forms.Form):
    """Reception's one-click token: the queue comes from the button pressed, priority from the select."""

    queue = forms.ModelChoiceField(queryset=Queue.objects.filter(is_active=True))
    priority = forms.ChoiceField(choices=Visit.Priority.choices, initial=Visit.Priority.MEDIUM)


class RegisterAndIssueForm(PatientForm):
    """The desk's register-and-issue page: the registration form, then the queue and priority of the token."""

    queue = forms.ModelChoiceField(
        queryset=Queue.objects.filter(is_active=True), label=_("Token in queue"), empty_label=None
    )
    priority = forms.ChoiceField(label=_("Priority"), choices=Visit.Priority.choices, initial=Visit.Priority.MEDIUM)

    def registration(self) -> dict:
        """The demographics as `patients.services.register_patient` takes them (no queue or priority)."""
        return {key: value for key, value in super().registration().items() if key not in ("queue", "priority")}


class TransferForm(forms.Form):
    """The desk's transfer: the queue to send the patient to."""

    queue = forms.ModelChoiceField(
        queryset=Queue.objects.filter(is_active=True), label=_("Transfer to"), empty_label=_("Transfer to…")
    )
