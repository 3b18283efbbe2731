"""Reads on patients: search by every kind the reception desk and terminals use.

Each condition is built from patients/search.py, the same expressions the indexes in patients/models.py are built
on, so each kind of search is an index lookup at a million patients. Results: relevance first (name searches), then
newest first.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.postgres.search import TrigramSimilarity
from django.db.models import Case, F, FloatField, Q, QuerySet, Value, When
from django.db.models.lookups import Contains
from django.db.models.sql.where import AND
from django.utils import timezone
from django.utils.translation import gettext as _

from core.roles import sees_own_patients_only
from patients.models import NameWord, Patient
from patients.mrn import GROUPED_EXAMPLE, lenient_mrn, mrn_prefix, mrn_value
from patients.pagination import COUNT_CAP
from patients.search import PHONE_KEY_DIGITS, fold_text, phone_key

NEWEST_FIRST = ("-created_at", "-id")
MIN_PHONE_DIGITS = 7  # the subscriber number without the area or mobile code


class Unparsable(ValueError):
    """A search term that cannot mean anything of its kind; `str()` is the hint shown instead of results."""


@dataclass
class Search:
    """A search's outcome: the matching patients (a lazy queryset), a hint when the input was unusable, and the
    kind of search the text was taken for (`mrn`, `mrn_prefix`, `mrn_prefix_or_phone`, `cnic`, `phone`, `name`;
    `all` for no text), which access records keep instead of the text."""

    patients: QuerySet
    hint: str = ""
    kind: str = "all"


def by_mrn(patients: QuerySet, text: str) -> QuerySet:
    """Patients whose MRN is `text`, written with or without dashes, in the old `xx-xx-xxx` format, or as plain
    digits the way offline slips print it (`710000` finds `007-10-000`: the `mrn_value` alias).
    A merged-away record's MRN finds that record and its survivor (patients/merge.py), so a slip printed before
    the merge still leads to the patient: one more indexed query, for the survivors.

    Raises:
        Unparsable: when `text` is no MRN of any scheme.
    """
    mrn = lenient_mrn(text)
    if mrn is None:
        raise Unparsable(_("%(text)s is not an MRN; write it as xxx-xx-xxx, e.g. %(example)s.") % {
            "text": text.strip(), "example": GROUPED_EXAMPLE})
    value = mrn_value(mrn)
    condition = Q(mrn=mrn) | Q(mrn_value=value) if value is not None else Q(mrn=mrn)
    survivors = _survivors(Patient.objects.filter(condition))
    return patients.filter(condition | Q(pk__in=survivors)) if survivors else patients.filter(condition)


def _survivors(found: QuerySet) -> list[int]:
    """Primary keys of the records that the merged-away records among `found` were merged into, followed through
    later merges (A into B, then B into C: both)."""
    survivors: list[int] = []
    step = list(found.filter(merged_into__isnull=False).values_list("merged_into", flat=True))
    while step and len(survivors) < 50:
        survivors += step
        step = list(Patient.objects.filter(pk__in=step, merged_into__isnull=False).values_list("merged_into", flat=True))
    return survivors


def by_mrn_prefix(patients: QuerySet, text: str) -> QuerySet:
    """Patients whose MRN starts with `text` (`001-2`, `0012`, `PAT-2024`).

    Raises:
        Unparsable: when `text` is empty.
    """
    return _exact_first(patients.filter(_mrn_prefix_condition(text)), text)


def _exact_first(patients: QuerySet, text: str) -> QuerySet:
    """Annotate `relevance`: 1 for the MRN typed in full (a terminal's `710000` among `7100001`...), else 0.

    Also keeps the planner honest: MRNs grow with registration dates, which PostgreSQL does not know, so for
    the newest numbers it would rather walk the whole `created_at` index backwards than sort a thousand rows.
    """
    return patients.annotate(
        relevance=Case(When(mrn=text.strip().upper(), then=Value(1.0)), default=Value(0.0), output_field=FloatField())
    )


def _mrn_prefix_condition(text: str) -> Q:
    text = text.strip().upper()
    if not text:
        raise Unparsable(_("Type the first digits of an MRN."))
    grouped = mrn_prefix(text)
    condition = Q(mrn__startswith=text)
    if grouped and grouped != text:  # `0012` may start `001-23-456` or a number stored without dashes
        condition |= Q(mrn__startswith=grouped)
    if text.isdigit() and len(text) <= 8:  # a slip's plain `710000` is the patient now written `007-10-000`
        condition |= Q(mrn_value=int(text))
    return condition


class NameContains(Contains):
    """`<field>_folded LIKE '%<folded text>%'`: the condition of a name search, marked so that `ordered` finds it
    among a search's conditions. `word`: the text when it is one word of the full name (no space), else None."""

    def __init__(self, field: str, text: str):
        super().__init__(F(f"{field}_folded"), fold_text(text))
        self.word = text if field == "full_name" and text and " " not in text else None


def by_name(patients: QuerySet, text: str, field: str = "full_name") -> QuerySet:
    """Patients whose `field` (full_name or father_name) contains `text`, ignoring case and accents.

    Annotates `relevance` (trigram similarity, 0..1) so the closest names come first.
    """
    text = text.strip()
    column = f"{field}_folded"  # stored by PostgreSQL (Patient.full_name_folded), trigram-indexed
    return patients.filter(NameContains(field, text)).annotate(relevance=TrigramSimilarity(column, fold_text(text)))


def by_phone(patients: QuerySet, text: str) -> QuerySet:
    """Patients whose phone is `text` in any formatting (`0300-1234567`, `+92 300 1234567`, `03001234567`), or
    ends with it (7 digits or more: `1234567`).

    Raises:
        Unparsable: with fewer than 7 digits.
    """
    return patients.alias(phone_key=phone_key("phone")).filter(_phone_condition(text))


def _phone_condition(text: str) -> Q:
    """Condition on the alias `phone_key` (see patients.search.phone_key: the last digits, reversed)."""
    digits = re.sub(r"\D", "", text)
    if len(digits) < MIN_PHONE_DIGITS:
        raise Unparsable(_("A phone number has at least %(digits)s digits.") % {"digits": MIN_PHONE_DIGITS})
    return Q(phone_key__startswith=digits[-PHONE_KEY_DIGITS:][::-1])


def by_cnic(patients: QuerySet, text: str) -> QuerySet:
    """Patients with the CNIC `text`, with or without dashes (`12345-1234567-1`, `1234512345671`).

    Raises:
        Unparsable: unless `text` has exactly 13 digits.
    """
    digits = re.sub(r"[\s-]", "", text)
    if not re.fullmatch(r"\d{13}", digits):
        raise Unparsable(_("A CNIC has 13 digits, e.g. 12345-1234567-1."))
    return patients.filter(cnic=f"{digits[:5]}-{digits[5:12]}-{digits[12]}")


def visible_to(user) -> QuerySet:
    """The patients `user` may read: the one rule of visibility for every path that shows patient data (pages,
    search, slips, the REST API, FHIR, the admin, and rows of other models naming a patient, see `of_visible`).

    By role (core/roles.py): reception, ops, fhir_reader and admin hold `patients.view_register` and see every
    patient; a lab terminal's key (core.roles.sees_own_patients_only) sees the patients it registered, online or
    offline, and those of its terminal; a user of no role sees none of them either way, as every path also checks
    `patients.view_patient`. Answered from the permissions loaded with the user: no query of its own.
    Returns:
        a lazy Patient queryset, unordered.
    """
    if not sees_own_patients_only(user):
        return Patient.objects.all()
    # origin_terminal__user: the terminal this key belongs to (terminals.LabTerminal.user), named by the relation.
    return Patient.objects.filter(Q(created_by=user) | Q(origin_terminal__user=user))


def of_visible(rows: QuerySet, user, *, via: str = "patient") -> QuerySet:
    """`rows` (visits, tokens, waiting-list entries: any queryset with a foreign key `via` to Patient; `via="pk"`
    for patients themselves, e.g. the admin's) narrowed to those whose patient `user` may read (`visible_to`);
    unchanged, with no added condition, for a user who sees the whole register."""
    if not sees_own_patients_only(user):
        return rows
    return rows.filter(**{f"{via}__in": visible_to(user)})


def registered_between(patients: QuerySet, *, first_day: date | None = None, last_day: date | None = None):
    """Patients registered from `first_day` to `last_day` inclusive, days in the hospital's time zone.

    Compares `created_at` with the days' bounding instants, so the `created_at` index serves the range.
    """
    if first_day:
        patients = patients.filter(created_at__gte=_start_of(first_day))
    if last_day:
        patients = patients.filter(created_at__lt=_start_of(last_day + timedelta(days=1)))
    return patients


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def ordered(patients: QuerySet) -> QuerySet:
    """Relevance first when a search annotated it, then newest first. Apply it last, after every filter.

    A name search ranks at most COUNT_CAP candidates, taken after every other filter: one common word
    of a name (a frequent surname) matches thousands of patients at a million, and scoring every match reads each
    of their rows (74-230 ms). Below COUNT_CAP matches nothing changes; above it the count says `count_capped` and
    the desk types more of the name. See `_candidates` for which matches are ranked.
    """
    relevance = patients.query.annotations.get("relevance")
    if relevance is None:
        return patients.order_by(*NEWEST_FIRST)
    if isinstance(relevance, TrigramSimilarity):
        others = _without_name_conditions(patients)
        patients = others.filter(pk__in=_candidates(patients, others))
    return patients.order_by("-relevance", *NEWEST_FIRST)


def _candidates(patients: QuerySet, others: QuerySet) -> QuerySet:
    """The primary keys of at most COUNT_CAP matches of the name search `patients`.

    One whole word of the full name (`khan`): the patients with that word, closest first, read in that order from
    patients_nameword's index (patients/name_words.py), then, when they are fewer than COUNT_CAP, the other matches
    (`khan` inside a longer word: `khanum`). Anything else (several words, part of a word, a father's name): the
    first COUNT_CAP matches the trigram index yields.

    `others` is `patients` without the name's `LIKE`: a whole word implies it, and left in, PostgreSQL (which
    cannot estimate `LIKE '%word%'`) would rather read every match than walk the word's index.
    """
    names = _name_conditions(patients)
    word = names[0].word if len(names) == 1 else None
    if word is None:
        return patients.order_by().values("pk")[:COUNT_CAP]
    folded = fold_text(word)
    if others.query.where:  # other conditions: each patient checked, in the index's order
        whole = others.filter(name_words__word=folded).order_by("-name_words__closeness", "-pk").values("pk")
    else:  # none: the index alone
        whole = NameWord.objects.filter(word=folded).order_by("-closeness", "-patient").values("patient")
    within = patients.exclude(name_words__word=folded).order_by().values("pk")
    return whole[:COUNT_CAP].union(within[:COUNT_CAP], all=True)[:COUNT_CAP]


def _name_conditions(patients: QuerySet) -> list[NameContains]:
    """The NameContains conditions that `patients` must meet (those ANDed at the top of its WHERE)."""
    where = patients.query.where
    if where.connector != AND or where.negated:
        return []
    return [condition for condition in where.children if isinstance(condition, NameContains)]


def _without_name_conditions(patients: QuerySet) -> QuerySet:
    """`patients` without the conditions `_name_conditions` finds (a copy; its other conditions and annotations
    kept)."""
    names = _name_conditions(patients)
    others = patients.all()
    others.query.where.children = [condition for condition in others.query.where.children if condition not in names]
    return others


def search_patients(query: str, patients: QuerySet | None = None, *, order: bool = True) -> Search:
    """Patients matching the free text of a search box, by the shape of `query`.

    - an MRN (`001-23-456`, `00123456`, old `01-23-456`, `PAT-20241103-0001`): that patient
    - the start of a grouped MRN (`001-2`, `0012`): MRN prefix; 7 digits: MRN prefix or the end of a phone
    - 13 digits or `12345-1234567-1`: CNIC; 9 to 15 digits: phone in any formatting
    - anything else: name, partial, case- and accent-insensitive
    Args:
        query: the text typed; blank returns every patient.
        patients: the queryset to narrow (default every patient).
        order: False to leave ordering (and the ranking cap, see `ordered`) to a caller that filters further.
    Returns:
        a Search, ordered by relevance then newest; digits and dashes that fit no kind give no patient and a hint.
    """
    patients = Patient.objects.all() if patients is None else patients
    query = query.strip()
    arrange = ordered if order else (lambda found: found)
    if not query:
        return Search(arrange(patients))
    kind = _kind_of(query)
    try:
        return Search(arrange(_by_shape(patients, query, kind)), kind=kind)
    except Unparsable as exc:
        return Search(patients.none(), str(exc), kind=kind)


def _kind_of(query: str) -> str:
    """Which kind of search the non-blank text `query` is (see `search_patients`)."""
    digits = re.sub(r"\D", "", query)
    if query.isdigit() and len(digits) <= MIN_PHONE_DIGITS:
        # Up to seven digits: the start of an MRN (grouped or a terminal's `710000`); seven: or a phone's end.
        return "mrn_prefix" if len(digits) < MIN_PHONE_DIGITS else "mrn_prefix_or_phone"
    if lenient_mrn(query):
        return "mrn"
    if re.fullmatch(r"\d{5}-?\d{7}-?\d", query):
        return "cnic"
    if mrn_prefix(query) or query.upper().startswith("PAT-"):
        return "mrn_prefix"
    if re.fullmatch(r"\+?[\d\s-]+", query):
        return "phone"
    return "name"


def _by_shape(patients: QuerySet, query: str, kind: str) -> QuerySet:
    if kind == "mrn_prefix_or_phone":
        patients = patients.alias(phone_key=phone_key("phone"))
        return _exact_first(patients.filter(_mrn_prefix_condition(query) | _phone_condition(query)), query)
    if kind == "phone":
        digits = re.sub(r"\D", "", query)
        if MIN_PHONE_DIGITS <= len(digits) <= 15:
            return by_phone(patients, query)
        raise Unparsable(
            _("%(text)s is neither an MRN (xxx-xx-xxx, e.g. %(example)s), a CNIC (13 digits) nor a phone number.")
            % {"text": query, "example": GROUPED_EXAMPLE}
        )
    return KINDS[kind](patients, query)


# The selector of each kind of search `_kind_of` names (the two that need more are in `_by_shape`).
KINDS = {"mrn": by_mrn, "mrn_prefix": by_mrn_prefix, "cnic": by_cnic, "name": by_name}


def possible_duplicates(*, full_name: str, father_name: str, dob: date | None) -> QuerySet:
    """Active patients with the same name, father's name and date of birth (case and accents ignored).

    Registering one more such patient without a CNIC is allowed, after the desk confirms.
    """
    if not dob:
        return Patient.objects.none()
    return Patient.objects.filter(
        is_active=True,
        dob=dob,
        full_name_folded=fold_text(full_name.strip()),
        father_name_folded=fold_text(father_name.strip()),
    )
