"""Query parameters of `GET /api/v1/patients/` (django-filter). Each calls one selector; see patients/selectors.py."""

import django_filters

from core.dates import validate_query_day
from patients import selectors
from patients.models import Patient


class PatientFilter(django_filters.FilterSet):
    """Search patients by any combination of the parameters below (all must match).

    An unusable value (an MRN of no known shape, a phone with too few digits) gives an empty page and a `hint`
    instead of an error, so a search box can show it as the user types. Collected hints: `self.hints`.
    """

    q = django_filters.CharFilter(method="filter_q", help_text="Free text: MRN, MRN prefix, CNIC, phone or name.")
    mrn = django_filters.CharFilter(method="filter_by", help_text="Exact MRN, dashes optional; old xx-xx-xxx too.")
    mrn_prefix = django_filters.CharFilter(method="filter_by", help_text="Start of an MRN (001-2 or 0012).")
    name = django_filters.CharFilter(method="filter_by", help_text="Part of the name; case and accents ignored.")
    father_name = django_filters.CharFilter(method="filter_by", help_text="Part of the father's name.")
    phone = django_filters.CharFilter(method="filter_by", help_text="Phone in any formatting.")
    cnic = django_filters.CharFilter(method="filter_by", help_text="CNIC with or without dashes.")
    dob = django_filters.DateFilter(
        field_name="dob", help_text="Date of birth, YYYY-MM-DD.", validators=[validate_query_day]
    )
    registered_from = django_filters.DateFilter(
        validators=[validate_query_day],
        method="filter_registered", help_text="Registered on or after this day (hospital's time zone)."
    )
    registered_to = django_filters.DateFilter(
        validators=[validate_query_day],
        method="filter_registered", help_text="Registered on or before this day (hospital's time zone)."
    )
    is_active = django_filters.BooleanFilter(field_name="is_active")

    SELECTORS = {
        "mrn": selectors.by_mrn,
        "mrn_prefix": selectors.by_mrn_prefix,
        "name": selectors.by_name,
        "father_name": lambda patients, text: selectors.by_name(patients, text, "father_name"),
        "phone": selectors.by_phone,
        "cnic": selectors.by_cnic,
    }

    class Meta:
        model = Patient
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.hints: list[str] = []
        self.q_kind = ""

    @property
    def kind(self) -> str:
        """The search's kind for its access record: the parameters given, sorted and joined with `+`, `q` named by
        the kind its text was taken for (`q:name+dob`); `all` for none. Never the values. Call after `qs`."""
        given = sorted(name for name, value in self.form.cleaned_data.items() if value not in (None, ""))
        return "+".join(f"q:{self.q_kind}" if name == "q" else name for name in given) or "all"

    def filter_by(self, patients, name, value):
        try:
            return self.SELECTORS[name](patients, value)
        except selectors.Unparsable as exc:
            self.hints.append(str(exc))
            return patients.none()

    def filter_registered(self, patients, name, value):
        if name == "registered_from":
            return selectors.registered_between(patients, first_day=value)
        return selectors.registered_between(patients, last_day=value)

    def filter_q(self, patients, name, value):
        search = selectors.search_patients(value, patients, order=False)  # ordered once, in `qs`
        self.q_kind = search.kind
        if search.hint:
            self.hints.append(search.hint)
        return search.patients

    @property
    def qs(self):
        return selectors.ordered(super().qs)
