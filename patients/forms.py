import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import construct_instance
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from patients.dob import parse_dob
from patients.models import FIELD_LABELS, Patient
from patients.mrn import validate_mrn
from patients.selectors import possible_duplicates
from patients.services import DEMOGRAPHIC_FIELDS
from patients.validators import normalise_cnic, normalise_phone


class MRNInput(forms.TextInput):
    """A text box that static/js/mrn.js checks as the user types (`data-mrn-field`)."""

    def __init__(self, attrs=None):
        defaults = {"data-mrn-field": "strict", "placeholder": "001-23-456", "autocomplete": "off"}
        super().__init__({**defaults, **(attrs or {})})


SEX_LABELS = {"M": _("Male"), "F": _("Female"), "O": _("Other")}  # the model's choices, in the page's language


class DateOfBirthField(forms.Field):
    """Date of birth typed as `dd/mm/yyyy` or an age (`35`, `35y`, `8m`): cleans to a patients.dob.DateOfBirth
    (date, estimated) or None. A text box, not the browser's date picker (mm/dd/yyyy in an en-US browser)."""

    def __init__(self, **kwargs):
        attrs = {"placeholder": _("dd/mm/yyyy or age: 35, 8m"), "autocomplete": "off", "maxlength": 20}
        super().__init__(widget=forms.TextInput(attrs=attrs), **kwargs)

    def to_python(self, value):
        return parse_dob(str(value or ""), timezone.localdate())

    def prepare_value(self, value):
        return value.strftime("%d/%m/%Y") if isinstance(value, datetime.date) else value

    def has_changed(self, initial, data):
        return (self.prepare_value(initial) or "") != (data or "").strip()


class DemographicsForm(forms.ModelForm):
    """A patient's demographics (services.DEMOGRAPHIC_FIELDS), as registration and correction both edit them.

    The service that saves checks them again; the MRN is never a field of this form. The date of birth may be
    typed as an age, which sets `dob_estimated`.
    """

    dob = DateOfBirthField(label=_("Date of birth or age"), required=False)

    class Meta:
        model = Patient
        fields = list(DEMOGRAPHIC_FIELDS)
        labels = FIELD_LABELS
        widgets = {
            "full_name": forms.TextInput(attrs={"autofocus": True}),
            "address": forms.Textarea(attrs={"rows": 2}),
            "cnic": forms.TextInput(attrs={"placeholder": "12345-1234567-1", "inputmode": "numeric"}),
            "phone": forms.TextInput(attrs={"placeholder": "0300-1234567", "inputmode": "tel"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sex"].choices = [("", "—"), *((code, SEX_LABELS[code]) for code in Patient.Sex.values)]
        self.fields["notify_language"].required = False  # a post without it keeps the patient's (new: Urdu)

    def clean_cnic(self):
        """13 digits with or without dashes or spaces, kept as printed on the card (12345-1234567-1)."""
        return normalise_cnic(self.cleaned_data["cnic"])

    def clean_phone(self):
        """Brackets, dots, spaces and dashes as anyone types them; kept one way (0300-1234567)."""
        return normalise_phone(self.cleaned_data["phone"])

    def clean_notify_language(self):
        return self.cleaned_data["notify_language"] or self.instance.notify_language

    def clean(self):
        data = super().clean()
        if "dob" in data:
            dob = data["dob"]
            data["dob"] = dob.date if dob else None
            data["dob_estimated"] = bool(dob) and (dob.estimated or bool(data.get("dob_estimated")))
        return data

    def _post_clean(self):
        # The model's field rules, but not its constraints: a duplicate CNIC is refused by the database when the
        # service saves, which names the patient who has it (services._unique_violations_as_domain_errors) and holds under concurrency.
        try:
            self.instance = construct_instance(self, self.instance, self._meta.fields)
            self.instance.full_clean(
                exclude=self._get_validation_exclusions(), validate_unique=False, validate_constraints=False
            )
        except ValidationError as exc:
            self._update_errors(exc)


class CorrectionForm(DemographicsForm):
    """Reception's correction of a registered patient (bound to it as `instance`); `changes()` is what to save."""

    def changes(self) -> dict:
        """The fields the clerk changed, with their new values, as `services.update_patient` takes them."""
        # A select the post left out (an older form without the notification language) keeps its value.
        changed = {name for name in self.changed_data if name != "notify_language" or name in self.data}
        if "dob" in changed:  # a new date or age decides the flag too
            changed.add("dob_estimated")
        return {name: self.cleaned_data[name] for name in sorted(changed)}


class PatientForm(DemographicsForm):
    """Reception's registration form: the demographics; the MRN is issued on save.

    With `carry_over=True` (users allowed to) an optional `mrn` field keeps a number issued before Tokenline.
    Without a CNIC, a patient with the same name, father's name and date of birth must be confirmed first
    (`confirm_duplicate`); `self.duplicates` lists them.
    """

    mrn = forms.CharField(
        label=_("Existing MRN"), required=False, validators=[validate_mrn], widget=MRNInput(),
        help_text=_("Only for a patient who already has a number from an earlier card; leave blank for a new one."),
    )
    confirm_duplicate = forms.BooleanField(
        required=False, label=_("This is a different person with the same name, father's name and date of birth")
    )

    def __init__(self, *args, carry_over: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.duplicates = Patient.objects.none()
        if not carry_over:
            del self.fields["mrn"]

    def clean(self):
        data = super().clean()
        if not data.get("cnic") and not data.get("confirm_duplicate") and "full_name" in data:
            self.duplicates = possible_duplicates(
                full_name=data["full_name"], father_name=data.get("father_name", ""), dob=data.get("dob")
            )
            if self.duplicates:
                self.add_error("confirm_duplicate", _(
                    "A patient with this name, father's name and date of birth is already registered. Check the "
                    "list; tick the box if this is someone else."
                ))
        return data

    def registration(self) -> dict:
        """The cleaned data as `services.register_patient` takes it."""
        return {key: value for key, value in self.cleaned_data.items() if key != "confirm_duplicate"}


class PatientSearchForm(forms.Form):
    """The patient list's search box: MRN, CNIC, phone or name. static/js/mrn.js inserts dashes into 8 digits."""

    q = forms.CharField(
        required=False, label=_("Search"), max_length=100,
        widget=forms.TextInput(attrs={"data-mrn-field": "search", "type": "search", "autocomplete": "off", "autofocus": True,
                                      "placeholder": _("MRN, name, phone or CNIC")}),
    )


class ImportForm(forms.Form):
    """The import page: a patient CSV (columns as `manage.py import_patients`) and whether to skip invalid rows."""

    file = forms.FileField(label=_("CSV file"), widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))
    skip_invalid = forms.BooleanField(label=_("Import the valid rows when some are invalid"), required=False)


class MergeForm(forms.Form):
    """The worklist's decision on a pair: merge (which record keeps its MRN, why) or "not the same". The versions
    are the records' as the page showed them (patients.merge.version_of), so a change made meanwhile is caught."""

    decision = forms.ChoiceField(choices=[("merge", _("Same patient")), ("not_same", _("Not the same"))])
    survivor = forms.ChoiceField(label=_("Keep the MRN of"), required=False, widget=forms.RadioSelect)
    reason = forms.CharField(label=_("Why"), required=False, max_length=500,
                             widget=forms.TextInput(attrs={"autocomplete": "off"}))
    cnic_override = forms.BooleanField(label=_("Merge although the CNICs differ"), required=False)
    low_version = forms.IntegerField(widget=forms.HiddenInput)
    high_version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, pair, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["survivor"].choices = [(str(p.pk), p.mrn) for p in (pair.low, pair.high)]

    def clean(self):
        data = super().clean()
        if data.get("decision") == "merge":
            if not data.get("survivor"):
                self.add_error("survivor", _("Choose the record that keeps its MRN."))
            if not (data.get("reason") or "").strip():
                self.add_error("reason", _("Say why the two records are one patient."))
        return data
