"""How people may write an MRN, which scheme issues new ones, and what we tell people who get it wrong.

The formats themselves live in idseq (one definition: idseq.formats and the `mrn`/`mrn-dated` sequences); this
module holds the patient-facing rules: strict fields refuse the old `xx-xx-xxx` numbers, naming the converted
number, while search is lenient and accepts old numbers, digits without dashes and prefixes.

Schemes (setting TOKENLINE_MRN_SCHEME): `grouped` issues `001-00-001` (seed 000, the default), `dated` issues
`PAT-20241103-0001` (seed 001). Numbers of both stay valid and findable whichever is active, and never collide:
one is digits and dashes, the other starts with `PAT-`.
"""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from idseq.exceptions import InvalidId
from idseq.formats import (
    GROUPED_PATTERN,
    LEGACY_PATTERN,
    IdFormat,
    convert_legacy,
    format_grouped,
    is_legacy,
    scope_of,
)
from idseq.models import Sequence

SCHEMES = {"grouped": "mrn", "dated": "mrn-dated"}  # scheme -> the idseq sequence that issues its MRNs
SHAPES = {"grouped": "xxx-xx-xxx", "dated": "PAT-YYYYMMDD-NNNN"}  # how the messages write each scheme
GROUPED_EXAMPLE = "001-23-456"
# Messages, also sent to the browser (client_formats) so both say the same.
LEGACY_MESSAGE = "{number} uses the old format xx-xx-xxx; this patient's number is {converted}"
INVALID_MESSAGE = "Enter the MRN as {shape}, e.g. {example}."
_GROUPED_RE = re.compile(GROUPED_PATTERN, re.ASCII)  # ASCII: \d is 0-9 only, as in idseq.formats
# What may start a grouped number as typed so far: `0`, `001-2`, `00123`; and an old number: `01-2`.
_GROUPED_PREFIX_RE = re.compile(r"^\d{3}-(\d{2}-\d{0,3}|\d{0,2})$|^\d{1,8}$", re.ASCII)
_LEGACY_PREFIX_RE = re.compile(r"^\d{2}-(\d{2}-\d{0,3}|\d{0,2})$", re.ASCII)


def legacy_message(text: str) -> str:
    """The message that refuses an old-format number and names what it became, so the desk can
    read the new number off the message."""
    return LEGACY_MESSAGE.format(number=text, converted=convert_legacy(text))


def active_scheme() -> str:
    """The scheme new MRNs are issued in (setting TOKENLINE_MRN_SCHEME; checked at startup, patients/checks.py)."""
    return settings.TOKENLINE_MRN_SCHEME


def scheme_formats() -> dict[str, IdFormat]:
    """Each scheme's id format, the active scheme first, read from its idseq sequence."""
    sequences = {s.key: s for s in Sequence.objects.filter(key__in=SCHEMES.values())}
    ordered = sorted(SCHEMES, key=lambda scheme: scheme != active_scheme())
    return {scheme: sequences[SCHEMES[scheme]].id_format for scheme in ordered}


def parse_mrn(mrn: str, formats: dict[str, IdFormat] | None = None) -> tuple[str, int, str] | None:
    """`(sequence key, value, scope)` of an MRN of either scheme (`001-00-042` -> `("mrn", 100042, "")`), or None
    for numbers no scheme issues (a terminal's `710000`). Pass `formats` (scheme_formats()) when parsing many."""
    for scheme, id_format in (formats or scheme_formats()).items():
        try:
            value, scope = id_format.parse(mrn)
        except InvalidId:
            continue
        return SCHEMES[scheme], value, scope
    return None


def mrn_value(mrn: str) -> int | None:
    """The value of `mrn` in the `mrn` sequence's number space: `007-10-042` and a terminal's plain
    `710042` are both 710042; None for a dated `PAT-...` number, which lives in its own sequence."""
    if _GROUPED_RE.fullmatch(mrn):
        return int(mrn.replace("-", ""))
    if re.fullmatch(r"\d{1,8}", mrn, re.ASCII):
        return int(mrn)
    return None


def written_mrn(value: int) -> str:
    """How an MRN value of the `mrn` sequence is written for a patient: grouped like every other MRN
    (`007-10-000`) in the grouped scheme; plain digits (`710000`), as seed 001 prints offline numbers, in the dated
    scheme."""
    return format_grouped(value) if active_scheme() == "grouped" else str(value)


def validate_mrn(value: str) -> None:
    """Accept an MRN in the format of either scheme (`001-23-456`, `PAT-20241103-0001`).

    Raises:
        ValidationError: for an old `xx-xx-xxx` number (the message names the converted number) or anything else
            (the message shows the active scheme's format).
    """
    if is_legacy(value):
        raise ValidationError(legacy_message(value), code="legacy_mrn")
    if not any(re.fullmatch(f.regex, value, re.ASCII) for f in scheme_formats().values()):
        raise ValidationError(_invalid_message(scheme_formats()), code="invalid_mrn")


def _example(id_format: IdFormat) -> str:
    """An MRN of `id_format` as the messages show it: `001-23-456`, or today's first dated number."""
    if id_format.regex == GROUPED_PATTERN:
        return GROUPED_EXAMPLE
    return id_format.render(1, scope_of(id_format.period, timezone.localdate()))


def _invalid_message(formats: dict[str, IdFormat]) -> str:
    scheme, id_format = next(iter(formats.items()))
    return INVALID_MESSAGE.format(shape=SHAPES[scheme], example=_example(id_format))


def group_digits(digits: str) -> str:
    """Insert the dashes of `xxx-xx-xxx` into up to 8 digits: `00123456` -> `001-23-456`, `0012` -> `001-2`."""
    parts = [digits[:3], digits[3:5], digits[5:8]]
    return "-".join(part for part in parts if part)


def lenient_mrn(text: str) -> str | None:
    """The stored MRN a searcher means by `text`, or None when `text` is no whole MRN.

    Accepts `001-23-456`, `00123456`, the old `01-23-456` (converted) and numbers of the other schemes as stored:
    `PAT-20241103-0001` (seed 001, compared upper-cased) and six-digit terminal offline numbers such as `710000`
    (seed 001), as the active scheme writes them (`007-10-000` when grouped).
    """
    text = text.strip().upper()
    if _GROUPED_RE.fullmatch(text):
        return text
    if re.fullmatch(r"\d{8}", text, re.ASCII):
        return group_digits(text)
    if is_legacy(text):
        return convert_legacy(text)
    if re.fullmatch(r"\d{6}", text, re.ASCII):
        return written_mrn(int(text))
    if re.fullmatch(r"PAT-\d{8}-\d{4,}", text, re.ASCII):
        return text
    return None


def mrn_prefix(text: str) -> str | None:
    """The start of a grouped MRN that `text` types (dashes optional: `0012` -> `001-2`; old `01-2` -> `001-2`),
    or None."""
    text = text.strip()
    if _LEGACY_PREFIX_RE.fullmatch(text):
        text = "0" + text
    if not _GROUPED_PREFIX_RE.fullmatch(text):
        return None
    return group_digits(text.replace("-", ""))


def client_formats() -> dict:
    """The MRN rules the browser checks (static/js/mrn.js), from the same definitions the server uses: the
    schemes' patterns and an example of each (the active scheme first), the old format, the messages."""
    formats = scheme_formats()
    return {
        "patterns": [id_format.regex for id_format in formats.values()],
        "examples": [_example(id_format) for id_format in formats.values()],
        "legacy": LEGACY_PATTERN,
        "legacy_message": LEGACY_MESSAGE,
        "invalid_message": _invalid_message(formats),
    }
