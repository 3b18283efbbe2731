from django import forms
from django.utils.translation import gettext_lazy as _

from queues.models import Queue, Visit


class IssueTokenForm(forms.Form):
    """Reception's one-click token: the queue comes from the button pressed, priority from the select."""

    queue = forms.ModelChoiceField(queryset=Queue.objects.filter(is_active=True))
    priority = forms.ChoiceField(choices=Visit.Priority.choices, initial=Visit.Priority.MEDIUM)


class TransferForm(forms.Form):
    """The desk's transfer: the queue to send the patient to."""

    queue = forms.ModelChoiceField(
        queryset=Queue.objects.filter(is_active=True), label=_("Transfer to"), empty_label=_("Transfer to…")
    )
