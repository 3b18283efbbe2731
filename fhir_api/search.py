"""FHIR Patient search parameters, turned into patients.selectors calls (one home for each kind of search).

Parameters combine with AND; a repeated parameter narrows further. Anything but the parameters below (and the
result parameters `_count`, `page`, `_format`) is refused with 400, rather than ignored: a mistyped parameter must not
return every patient.
"""

import calendar
import re
from datetime import date

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, QuerySet, Subquery

from patients import selectors
from patients.models import Patient

RESULT_PARAMS = {"_count", "page", "_format"}
DEFAULT_COUNT = 20
MAX_COUNT = 100
_BIRTHDATE_RE = re.compile(r"(?:eq)?(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", re.ASCII)


class InvalidSearch(ValueError):
    """A search parameter FHIR clients get a 400 OperationOutcome for; `str()` says what is wrong."""


def patients(user) -> QuerySet:
    """The patients `user` may read (patients.selectors.visible_to: a lab terminal's key only its own), annotated
    `last_updated`: the time of its latest history row (registration or a correction), for meta.lastUpdated; one
    subquery on the history's patient index, not a query per patient. Also `replaces`: the ids of the records merged
    into it (Patient.link), from the index of `merged_into`."""
    history = Patient.history.model.objects.filter(id=OuterRef("pk")).order_by("-history_date")
    merged_in = Patient.objects.filter(merged_into=OuterRef("pk")).order_by("pk").values("pk")
    return selectors.visible_to(user).annotate(last_updated=Subquery(history.values("history_date")[:1]),
                                               replaces=ArraySubquery(merged_in))


def search(params, user) -> QuerySet:
    """Patients matching the FHIR search `params` (a QueryDict) among those `user` may read, ordered as
    patients.selectors orders them.

    - identifier: `<FHIR_MRN_SYSTEM>|001-23-456` (dashes optional; offline `710042`; old `01-23-456`),
      `<FHIR_CNIC_SYSTEM>|12345-1234567-1` (dashes optional), or a value alone (MRN or CNIC). Another system
      matches nothing.
    - name: part of the name. birthdate: `YYYY-MM-DD` (or `eqYYYY-MM-DD`), `YYYY-MM`, `YYYY`. phone: any formatting.
    Raises:
        InvalidSearch: an unknown parameter, or a value that cannot mean anything of its kind (e.g. a phone of
            three digits, a date that is no date).
    """
    unknown = set(params) - set(SEARCHES) - RESULT_PARAMS
    if unknown:
        raise InvalidSearch(f"Unknown search parameter: {', '.join(sorted(unknown))}. "
                            f"Patient supports {', '.join(SEARCHES)}.")
    found = patients(user)
    try:
        for name, narrow in SEARCHES.items():
            for value in params.getlist(name):
                found = narrow(found, value)
    except selectors.Unparsable as exc:
        raise InvalidSearch(str(exc)) from None
    return selectors.ordered(found)


def page_params(params) -> tuple[int, int]:
    """(`_count`, `page`) of a search: 1 to 100 results per page (default 20), pages from 1.

    Raises:
        InvalidSearch: when either is not a positive whole number.
    """
    try:
        count = int(params.get("_count", DEFAULT_COUNT))
        page = int(params.get("page", 1))
    except ValueError:
        raise InvalidSearch("_count and page are whole numbers.") from None
    if count < 1 or page < 1:
        raise InvalidSearch("_count and page start at 1.")
    return min(count, MAX_COUNT), page


def _by_identifier(found: QuerySet, token: str) -> QuerySet:
    system, bar, value = token.rpartition("|")
    if not bar:  # a value alone: any system
        return found.filter(pk__in=_mrn_or_cnic(value))
    if system == settings.FHIR_MRN_SYSTEM:
        return selectors.by_mrn(found, value)
    if system == settings.FHIR_CNIC_SYSTEM:
        return selectors.by_cnic(found, value)
    return found.none()  # every identifier we keep has one of our systems


def _mrn_or_cnic(value: str) -> QuerySet:
    """Ids of patients whose MRN or CNIC is `value` (whichever it can be)."""
    matches = Patient.objects.none()
    for selector in (selectors.by_mrn, selectors.by_cnic):
        try:
            matches = matches | selector(Patient.objects.all(), value)
        except selectors.Unparsable:
            continue
    return matches.values("pk")


def _by_birthdate(found: QuerySet, value: str) -> QuerySet:
    match = _BIRTHDATE_RE.fullmatch(value.strip())
    if not match:
        raise InvalidSearch(f"birthdate {value!r}: write YYYY-MM-DD, YYYY-MM or YYYY (prefix eq only).")
    year, month, day = (int(part) if part else None for part in match.groups())
    try:
        first = date(year, month or 1, day or 1)
        last = date(year, month or 12, day or calendar.monthrange(year, month or 12)[1])
    except ValueError:
        raise InvalidSearch(f"birthdate {value!r} is no date.") from None
    return found.filter(dob__range=(first, last))


SEARCHES = {
    "identifier": _by_identifier,
    "name": selectors.by_name,
    "birthdate": _by_birthdate,
    "phone": selectors.by_phone,
}
