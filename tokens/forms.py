"""Forms of the OPD reception pages and the doctor's room."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.dates import validate_query_day
from patients.selectors import search_patients, visible_to
from tokens.models import Category, Doctor, Slot


class SlotPickForm(forms.Form):
    """Which day's slots to show, of one doctor or all (GET)."""

    day = forms.DateField(label=_("Day"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
                          validators=[validate_query_day])
    doctor = forms.ModelChoiceField(Doctor.objects.all(), label=_("Doctor"), required=False,
                                    empty_label=_("All doctors"))

    def choice(self) -> tuple:
        """(day, doctor or None): today and all doctors unless the form says otherwise."""
        data = self.cleaned_data if self.is_valid() else {}
        return data.get("day") or timezone.localdate(), data.get("doctor")


MAX_CANDIDATES = 8  # patients offered to choose from when a search finds several


class BookingForm(forms.Form):
    """Book a patient into one of `slots` in a category (POST).

    The patient is found the way the patients list finds them (patients.selectors.search_patients): an MRN written
    any way (`00100001`, `001-00-001`, old `01-00-001`), a name or a phone. One match is taken; several are listed
    in `candidates` to choose from (`patient_id`). `waitlist` is the clerk's yes to a full slot's waiting list.
    After `is_valid()`, `cleaned_data["found"]` is the Patient.
    """

    slot = forms.ModelChoiceField(Slot.objects.none(), label=_("Slot"), widget=forms.RadioSelect, empty_label=None,
                                  error_messages={"required": _("Choose a slot.")})
    patient = forms.CharField(
        label=_("Patient"), max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("MRN, name or phone"), "autocomplete": "off", "autofocus": True,
                                      "type": "search"}),
    )
    patient_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices, initial=Category.WALKIN)
    waitlist = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, slots, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slot"].queryset = slots
        self.user = user  # patients are found among those this user may read (patients.selectors.visible_to)
        self.candidates = []

    def clean_slot(self):
        """A slot that is over (its end and delay passed) is refused here, as the page greys it out, before the
        patient search; the service refuses it again under the slot's lock."""
        slot = self.cleaned_data["slot"]
        if slot.is_over(timezone.now()):
            raise forms.ValidationError(_("This slot is over: choose a later one."))
        return slot

    def clean(self):
        data = super().clean()
        active = visible_to(self.user).filter(is_active=True)
        if data.get("patient_id"):
            found = list(active.filter(pk=data["patient_id"]))
        elif data.get("patient"):
            search = search_patients(data["patient"], active)
            if search.hint:
                self.add_error("patient", search.hint)
                return data
            found = list(search.patients[: MAX_CANDIDATES + 1])
        else:
            return data
        if len(found) == 1:
            data["found"] = found[0]
        elif not found:
            self.add_error("patient", _("No patient found for “%(text)s”. Try the MRN, a name or a phone.")
                           % {"text": data.get("patient", "")})
        else:
            self.candidates = found[:MAX_CANDIDATES]
            self.add_error("patient", _("Several patients match: choose one below."))
        return data


class ReportForm(forms.Form):
    """The daily report's day and doctor (GET)."""

    date = forms.DateField(
        label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"}), validators=[validate_query_day]
    )
    doctor = forms.ModelChoiceField(
        Doctor.objects.all(), label=_("Doctor"), required=False, empty_label=_("All doctors")
    )


class RoomPickForm(forms.Form):
    """The doctor whose room page to open (GET)."""

    doctor = forms.ModelChoiceField(Doctor.objects.all(), label=_("Doctor"), empty_label=_("Choose a doctor"),
                                    widget=forms.Select(attrs={"autofocus": True}))
