"""Likely duplicate patients: a scorer over two records' demographics, and cheap candidate retrieval.

The scorer compares name, father's name, date of birth (or an age), sex, phone and CNIC, the way a reception lead
would: the names are allowed the spellings Pakistani names take in Latin script (Muhammad / Mohammad / Muhd / Mohd,
Ayesha / Aisha / Aysha, Khan / Kahn, Rehman / Rahman, dropped vowels, doubled letters), and a name stored in Urdu
script is compared in Urdu (diacritics and the Arabic forms of ی ک ہ folded). Words are compared with rapidfuzz's
Jaro-Winkler similarity (a maintained C++ library, good at short, transposed or shortened words) after a small
canonicalisation (VARIANTS), and with a consonant skeleton for vowels and doubled letters.

Each field adds or takes away evidence (weights below, Fellegi-Sunter style: agreement on a rare, stable field such
as CNIC or phone is strong; disagreement on a date of birth or sex is strong against), and the sum is mapped to a
score from 0 to 1. A pair at or above THRESHOLD is a likely duplicate. The weights were set on the labelled pairs of
tests/patients/pakistani_names.py (a generator of realistic names), where the test asserts precision and recall.

Candidates for a record come from the database's indexes (CNIC, the reversed phone key, the trigram indexes of
both folded names, with the common spellings of each word tried too), never from reading every patient: see
`candidates`.
"""

import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_noop  # reasons are stored in English, shown translated
from rapidfuzz.distance import JaroWinkler

THRESHOLD = 0.6  # a pair at or above this score is a likely duplicate (the worklist, the desk's hint)
CANDIDATE_LIMIT = 100  # rows read per lookup before scoring; scoring a row costs microseconds
MAX_SPELLINGS = 6  # spellings of a name tried against the trigram indexes (each is one index scan)

# Spellings of one name that Latin-script records of Pakistani patients use interchangeably, first the canonical
# one. A word found here is replaced by the canonical spelling before comparing; other words are compared as typed
# (and by skeleton), so the table only needs the variants that are too far apart for Jaro-Winkler (Muhd, Mohd).
VARIANTS = [
    ["muhammad", "mohammad", "muhammed", "mohammed", "muhamad", "mohamad", "mohamed", "muhammd", "mohd", "muhd",
     "md", "mhd", "mohmmad", "mohammd", "mhmd"],
    ["ayesha", "aisha", "aysha", "ayisha", "aishah", "ayeshah", "aesha"],
    ["khan", "kahn", "khaan"],
    ["ahmed", "ahmad", "ahamed", "ahmd"],
    ["rehman", "rahman", "rehmaan", "rahmaan", "rehmann"],
    ["abdul", "abdal", "abdel", "abd"],
    ["hussain", "husain", "hussein", "hosain", "hussian", "husein"],
    ["hassan", "hasan", "hasaan"],
    ["chaudhry", "chaudhary", "choudhry", "chaudri", "chaudhri", "choudhary", "ch"],
    ["siddiqui", "siddiqi", "sidiqui", "siddique", "sadiqi"],
    ["qureshi", "qureshy", "quraishi", "kureshi"],
    ["usman", "osman", "uthman", "othman"],
    ["zeeshan", "zishan", "zeshan"],
    ["fatima", "fatimah", "fatema", "fateema"],
    ["zainab", "zaynab", "zenab"],
    ["yousaf", "yousuf", "yusuf", "yousef", "yusaf"],
    ["iqbal", "ikbal"],
    ["shah", "shaah"],
    ["bibi", "bb"],
    ["syed", "sayed", "sayyed", "syyed", "saiyed", "s"],
]
CANONICAL = {spelling: group[0] for group in VARIANTS for spelling in group}
SPELLINGS = {group[0]: group for group in VARIANTS}

# Weights of the evidence (points; the score is their sum mapped to 0..1 by `_score`).
W_NAME = 3.0  # times the name similarity, once the names are alike at all (NAME_FLOOR)
W_FATHER_SAME, W_FATHER_DIFFERENT = 2.0, -2.5
W_DOB_SAME, W_DOB_NEAR, W_DOB_DIFFERENT = 3.0, 1.0, -4.0
W_SEX_SAME, W_SEX_DIFFERENT = 0.5, -3.0
W_PHONE_SAME, W_PHONE_DIFFERENT = 3.0, -1.0
W_CNIC_SAME, W_CNIC_DIFFERENT = 6.0, -6.0
WORD_FLOOR = 0.8  # Jaro-Winkler below this: two different words, not a misspelling
NAME_FLOOR = 0.75  # below this name similarity two records are never a pair, whatever else agrees
FATHER_SAME, FATHER_DIFFERENT = 0.85, 0.6  # father's name similarity above / below which it counts for / against
SCALE = 10.0  # points that make a score of 1.0
ESTIMATE_YEARS = 2  # an age given at the desk is right within this many years

_URDU = re.compile(r"[\u0600-\u06ff]")
_URDU_MARKS = re.compile(r"[\u064b-\u065f\u0670\u06d6-\u06ed]")  # harakat, shadda, superscript alef, Quranic marks
_URDU_FORMS = str.maketrans({"ي": "ی", "ى": "ی", "ئ": "ی", "ك": "ک", "ه": "ہ", "ة": "ہ", "ۀ": "ہ", "ۂ": "ہ",
                             "أ": "ا", "إ": "ا", "آ": "ا", "ؤ": "و", "ے": "ی"})


def fold(text: str) -> str:
    """Lower case, accents and punctuation removed, single spaces: `Zoë  Khan-Ali` -> `zoe khan ali`. Urdu script
    loses its diacritics and takes one form of the letters Arabic writes differently (ي/ی, ك/ک, ه/ہ)."""
    text = unicodedata.normalize("NFD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch) or _URDU.match(ch))
    text = _URDU_MARKS.sub("", text).translate(_URDU_FORMS).lower()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def is_urdu(text: str) -> bool:
    """True when `text` is written in Urdu (Arabic) script."""
    return bool(_URDU.search(text or ""))


def canonical_words(text: str) -> list[str]:
    """The words of a name, folded and each replaced by its canonical spelling: `Mohd. Aisha Kahn` ->
    `["muhammad", "ayesha", "khan"]`; a word with a doubled letter is looked up undoubled too (`mohhd`)."""
    words = fold(text).split()
    return [CANONICAL.get(word) or CANONICAL.get(re.sub(r"(.)\1+", r"\1", word), word) for word in words]


def skeleton(word: str) -> str:
    """A word without its inner vowels and doubled letters, `y` and `w` read as vowels: `bilaal`, `billal` and `bilal`
    -> `bll`; `zaynab` -> `znb`. Latin script only (Urdu writes few vowels anyway)."""
    if not word:
        return word
    rest = re.sub(r"[aeiouyw]", "", word[1:])
    return re.sub(r"(.)\1+", r"\1", word[0] + rest)


def word_similarity(a: str, b: str) -> float:
    """0..1: 1 for the same canonical word, 0.95 for the same skeleton (words longer than two letters), else
    Jaro-Winkler when at least WORD_FLOOR (a misspelling), else 0 (another word: `ayesha` and `fatima` share
    letters enough for 0.56, which must not count half). Words with digits are equal or different, never alike."""
    if a == b:
        return 1.0
    if any(ch.isdigit() for ch in a + b):  # `bed 12`, a test row's `patient 1`: numbers are equal or not
        return 0.0
    if not is_urdu(a) and len(a) > 2 and len(b) > 2 and skeleton(a) == skeleton(b):
        return 0.95
    similarity = JaroWinkler.normalized_similarity(a, b)
    return similarity if similarity >= WORD_FLOOR else 0.0


def name_similarity(a: str, b: str) -> float:
    """0..1: how alike two names are, word by word in any order (`Ali Muhammad` ~ `Muhammad Ali`).

    Each word of the shorter name is matched to its best unused word of the longer; the average is lowered a little
    per word the longer name has in excess (`Muhammad Ali Khan` vs `Ali Khan`: 0.9). Names in different scripts
    are not compared (0): a transliteration would be a guess.
    """
    words_a, words_b = canonical_words(a), canonical_words(b)
    if not words_a or not words_b or is_urdu(a) != is_urdu(b):
        return 0.0
    if len(words_a) > len(words_b):
        words_a, words_b = words_b, words_a
    unused = list(words_b)
    total = 0.0
    for word in words_a:
        best = max(unused, key=lambda other: word_similarity(word, other))
        total += word_similarity(word, best)
        unused.remove(best)
    return total / len(words_a) * (0.95 ** len(unused))


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


@dataclass(frozen=True)
class Record:
    """The demographics the scorer reads (a Patient or a form's data): names, date of birth with whether it was
    worked out from an age, sex (M/F/O or blank), phone and CNIC in any formatting."""

    full_name: str
    father_name: str = ""
    dob: date | None = None
    dob_estimated: bool = False
    sex: str = ""
    phone: str = ""
    cnic: str = ""

    @classmethod
    def of(cls, patient) -> "Record":
        """The Record of anything with Patient's attributes."""
        return cls(**{name: getattr(patient, name) for name in cls.__dataclass_fields__})


@dataclass
class Match:
    """A scored pair: `score` 0..1 and `reasons`, short phrases for the desk and the worklist (`same phone`)."""

    score: float
    reasons: list[str] = field(default_factory=list)

    @property
    def likely(self) -> bool:
        """At or above THRESHOLD."""
        return self.score >= THRESHOLD


def _dob_evidence(a: Record, b: Record) -> tuple[float, str | None]:
    if a.dob is None or b.dob is None:
        return 0.0, None
    if a.dob == b.dob:
        return W_DOB_SAME, gettext_noop("same date of birth")
    years = abs((a.dob - b.dob).days) / 365.25
    if (a.dob_estimated or b.dob_estimated) and years <= ESTIMATE_YEARS:
        return W_DOB_NEAR, gettext_noop("age agrees")
    swapped = a.dob.year == b.dob.year and (a.dob.day, a.dob.month) == (b.dob.month, b.dob.day)
    one_digit = sum(x != y for x, y in zip(a.dob.strftime("%Y%m%d"), b.dob.strftime("%Y%m%d"))) == 1
    if swapped or one_digit:
        return W_DOB_NEAR, gettext_noop("date of birth nearly the same")
    return W_DOB_DIFFERENT, None


def score(a: Record, b: Record) -> Match:
    """How likely two records are one patient.

    Returns:
        Match with `score` in 0..1 (THRESHOLD and above: likely the same) and the reasons, strongest first. Names
        less alike than NAME_FLOOR score 0 whatever else agrees: a shared phone (a family's) is no duplicate.
    """
    names = name_similarity(a.full_name, b.full_name)
    if names < NAME_FLOOR:
        return Match(0.0)
    points = W_NAME * names
    reasons = [gettext_noop("same name") if fold(a.full_name) == fold(b.full_name) else gettext_noop("similar name")]
    cnic_a, cnic_b = _digits(a.cnic), _digits(b.cnic)
    if cnic_a and cnic_b:
        points += W_CNIC_SAME if cnic_a == cnic_b else W_CNIC_DIFFERENT
        reasons.insert(0, gettext_noop("same CNIC") if cnic_a == cnic_b else gettext_noop("different CNIC"))
    phone_a, phone_b = _digits(a.phone)[-10:], _digits(b.phone)[-10:]
    if phone_a and phone_b:
        points += W_PHONE_SAME if phone_a == phone_b else W_PHONE_DIFFERENT
        if phone_a == phone_b:
            reasons.append(gettext_noop("same phone"))
    dob_points, dob_reason = _dob_evidence(a, b)
    points += dob_points
    if dob_reason:
        reasons.append(dob_reason)
    if a.father_name and b.father_name:
        fathers = name_similarity(a.father_name, b.father_name)
        if fathers >= FATHER_SAME:
            points += W_FATHER_SAME
            same = fold(a.father_name) == fold(b.father_name)
            reasons.append(gettext_noop("same father's name") if same else gettext_noop("similar father's name"))
        elif fathers < FATHER_DIFFERENT:
            points += W_FATHER_DIFFERENT
    if a.sex and b.sex:
        points += W_SEX_SAME if a.sex == b.sex else W_SEX_DIFFERENT
    return Match(round(max(0.0, min(1.0, points / SCALE)), 3), reasons)


def spellings(name: str) -> list[str]:
    """Folded spellings of `name` to look up in the trigram indexes: as typed, canonical, and with each word that
    has variants written the other common ways, at most MAX_SPELLINGS (`mohd ali` -> `mohd ali`, `muhammad ali`,
    `mohammad ali`, ...)."""
    words = fold(name).split()
    options = [[word, *[s for s in SPELLINGS.get(CANONICAL.get(word, ""), []) if s != word and len(s) > 2]]
               for word in words]
    found = []
    for combination in itertools.product(*options):
        text = " ".join(combination)
        if text and text not in found:
            found.append(text)
        if len(found) >= MAX_SPELLINGS:
            break
    return found


def _similar(column: str, texts: list[str]) -> Q:
    """`column % text` for any of `texts` (pg_trgm's similarity operator, served by the column's trigram index)."""
    condition = Q()
    for text in texts:
        condition |= Q(**{f"{column}__trigram_similar": text})
    return condition


def near_dates(dob: date) -> set[date]:
    """`dob` and the dates a desk types for it by mistake: day and month swapped, one digit of `YYYYMMDD` wrong."""
    dates = {dob}
    digits = dob.strftime("%Y%m%d")
    variants = [digits[6:8] + digits[4:6]] if dob.day <= 12 else []  # MMDD -> DDMM
    candidates = [digits[:4] + variant for variant in variants]
    candidates += [digits[:i] + d + digits[i + 1:] for i in range(8) for d in "0123456789" if d != digits[i]]
    for text in candidates:
        try:
            dates.add(date(int(text[:4]), int(text[4:6]), int(text[6:])))
        except ValueError:
            continue
    return dates


def candidate_rows(patients: QuerySet, record: Record) -> QuerySet:
    """Up to CANDIDATE_LIMIT patients of `patients` that could be `record` by the scorer's rules.

    The weights make a likely pair need one of: the same CNIC, the same phone, or a date of birth that agrees (the
    same, mistyped by a digit or swapped day and month, or within ESTIMATE_YEARS of an estimate) with a name alike;
    names alone never reach THRESHOLD (W_NAME + W_FATHER_SAME + W_SEX_SAME < THRESHOLD * SCALE). So the candidates
    are exactly those, each branch an index lookup: the CNIC index, the reversed phone key, the date of birth index
    (a few dozen patients share a birthday at a million) and the partial index of estimated ones, the names then
    compared with pg_trgm's `%` in any of their common spellings. Nothing typed but a name: no query, no candidate.
    """
    from patients.search import phone_key  # the same expression as the phone index

    names = spellings(record.full_name)
    if not names:
        return patients.none()
    condition = Q(pk__in=[])
    if record.dob:
        alike = _similar("full_name_folded", names)
        years = timedelta(days=ESTIMATE_YEARS * 366)
        near = Q(dob__in=sorted(near_dates(record.dob))) | Q(dob_estimated=True, dob__range=(record.dob - years,
                                                                                             record.dob + years))
        if record.dob_estimated:
            near |= Q(dob__range=(record.dob - years, record.dob + years))
        condition = near & alike
    cnic = _digits(record.cnic)
    if len(cnic) == 13:
        condition |= Q(cnic=f"{cnic[:5]}-{cnic[5:12]}-{cnic[12]}")
    phone = _digits(record.phone)
    if len(phone) >= 10:
        patients = patients.alias(phone_key=phone_key("phone"))
        condition |= Q(phone_key=phone[-10:][::-1])
    if not (record.dob or len(cnic) == 13 or len(phone) >= 10):
        return patients.none()
    return patients.filter(condition).order_by()[:CANDIDATE_LIMIT]


# Candidates of many saved patients at once (an import), by the rules of `candidate_rows`: the same CNIC, the same
# phone, the same date of birth (up to SAME_DAY of them, whatever their names: the scorer then knows the spellings,
# which pg_trgm alone would miss), or within ESTIMATE_YEARS where either date is an estimate with a name alike (a
# mistyped digit is not looked for here); at most CANDIDATES_PER_ROW per other branch, each an index scan inside one
# statement. The phone expression is patients.search.phone_key's, which the phone index is built on.
_PHONE_KEY_SQL = "reverse(right(regexp_replace({}.phone, '\\D', '', 'g'), 10))"
BULK_CANDIDATES_SQL = f"""
SELECT n.id, c.id FROM patients_patient n CROSS JOIN LATERAL (
    (SELECT p.id FROM patients_patient p WHERE p.dob = n.dob AND p.id <> n.id LIMIT %(same_day)s)
    UNION
    (SELECT p.id FROM patients_patient p
     WHERE p.dob_estimated AND p.id <> n.id
       AND p.dob BETWEEN n.dob - %(years)s AND n.dob + %(years)s AND p.full_name_folded %% n.full_name_folded
     LIMIT %(limit)s)
    UNION
    (SELECT p.id FROM patients_patient p
     WHERE n.dob_estimated AND p.id <> n.id
       AND p.dob BETWEEN n.dob - %(years)s AND n.dob + %(years)s AND p.full_name_folded %% n.full_name_folded
     LIMIT %(limit)s)
    UNION
    (SELECT p.id FROM patients_patient p WHERE n.cnic <> '' AND p.cnic = n.cnic AND p.id <> n.id LIMIT %(limit)s)
    UNION
    (SELECT p.id FROM patients_patient p
     WHERE {_PHONE_KEY_SQL.format('p')} = {_PHONE_KEY_SQL.format('n')} AND p.id <> n.id
       AND length(regexp_replace(n.phone, '\\D', '', 'g')) >= 10
     LIMIT %(limit)s)
) c
WHERE n.id = ANY(%(ids)s)
"""
CANDIDATES_PER_ROW = 10
SAME_DAY = 50  # about 35 patients share a birthday at a million


def likely_pairs_among(ids: list[int]) -> list[tuple[int, int, "Match"]]:
    """Likely duplicate pairs `(patient id, other id, Match)` of the saved patients `ids` (active, not merged away)
    against every active patient: one statement per 1,000 ids (BULK_CANDIDATES_SQL), scored here. Each pair once,
    smaller id first. For imports; a single record uses `likely_duplicates`, which also tries the common spellings.
    """
    from patients.models import Patient

    found: dict[tuple[int, int], Match] = {}
    for start in range(0, len(ids), 1000):
        with connection.cursor() as cursor:
            cursor.execute(BULK_CANDIDATES_SQL, {"limit": CANDIDATES_PER_ROW, "same_day": SAME_DAY, "ids": ids[start:start + 1000],
                                                 "years": ESTIMATE_YEARS * 366})
            links = cursor.fetchall()
        linked = Patient.objects.filter(pk__in={pk for link in links for pk in link}, is_active=True,
                                        merged_into__isnull=True)
        records = {p.pk: Record.of(p) for p in linked}
        for a, b in links:
            key = (min(a, b), max(a, b))
            if key not in found and a in records and b in records:
                match = score(records[a], records[b])
                if match.likely:
                    found[key] = match
    return [(low, high, match) for (low, high), match in found.items()]


def likely_duplicates(patients: QuerySet, record: Record, *, exclude_pk: int | None = None) -> list[tuple]:
    """`(patient, Match)` for each patient of `patients` that is likely `record`, best first (candidate_rows, then
    the scorer). `exclude_pk`: the record's own row, when it is saved already."""
    found = []
    for patient in candidate_rows(patients, record):
        if patient.pk == exclude_pk:
            continue
        match = score(record, Record.of(patient))
        if match.likely:
            found.append((patient, match))
    return sorted(found, key=lambda pair: (-pair[1].score, -pair[0].pk))
