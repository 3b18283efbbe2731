"""How people may write an MRN, and what we tell them when they get it wrong (seed 000, issue #5).

The patterns themselves live in idseq.formats (one definition); this module holds the patient-facing rules:
strict fields refuse the old `xx-xx-xxx` numbers, naming the converted number, while search is lenient and accepts
old numbers, digits without dashes and prefixes.
"""

import re

from django.core.exceptions import ValidationError

from idseq.formats import GROUPED_PATTERN, LEGACY_PATTERN, convert_legacy, is_legacy

GROUPED_EXAMPLE = "001-23-456"
# Messages, also sent to the browser (client_formats) so both say the same.
LEGACY_MESSAGE = "{number} uses the old format xx-xx-xxx; this patient's number is {converted}"
INVALID_MESSAGE = "Enter the MRN as xxx-xx-xxx, e.g. {example}."
GROUPED_DIGITS = 8
_GROUPED_RE = re.compile(GROUPED_PATTERN, re.ASCII)  # ASCII: \d is 0-9 only, as in idseq.formats
# What may start a grouped number as typed so far: `0`, `001-2`, `00123`; and an old number: `01-2`.
_GROUPED_PREFIX_RE = re.compile(r"^\d{3}-(\d{2}-\d{0,3}|\d{0,2})$|^\d{1,8}$", re.ASCII)
_LEGACY_PREFIX_RE = re.compile(r"^\d{2}-(\d{2}-\d{0,3}|\d{0,2})$", re.ASCII)


def legacy_message(text: str) -> str:
    """The message that refuses an old-format number and names what it became (issue #5's wording)."""
    return LEGACY_MESSAGE.format(number=text, converted=convert_legacy(text))


def validate_mrn(value: str) -> None:
    """Accept only an MRN in the current format `xxx-xx-xxx`.

    Raises:
        ValidationError: for an old `xx-xx-xxx` number (the message names the converted number) or anything else.
    """
    if is_legacy(value):
        raise ValidationError(legacy_message(value), code="legacy_mrn")
    if not _GROUPED_RE.fullmatch(value):
        raise ValidationError(INVALID_MESSAGE.format(example=GROUPED_EXAMPLE), code="invalid_mrn")


def group_digits(digits: str) -> str:
    """Insert the dashes of `xxx-xx-xxx` into up to 8 digits: `00123456` -> `001-23-456`, `0012` -> `001-2`."""
    parts = [digits[:3], digits[3:5], digits[5:8]]
    return "-".join(part for part in parts if part)


def lenient_mrn(text: str) -> str | None:
    """The stored MRN a searcher means by `text`, or None when `text` is no whole MRN.

    Accepts `001-23-456`, `00123456`, the old `01-23-456` (converted) and numbers of the other schemes as stored:
    `PAT-20241103-0001` (seed 001, compared upper-cased) and six-digit terminal offline numbers such as `710000` (seed 001).
    """
    text = text.strip().upper()
    if _GROUPED_RE.fullmatch(text):
        return text
    if re.fullmatch(r"\d{8}", text, re.ASCII):
        return group_digits(text)
    if is_legacy(text):
        return convert_legacy(text)
    if re.fullmatch(r"PAT-\d{8}-\d{4,}|\d{6}", text, re.ASCII):
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
    """The MRN rules the browser checks (static/js/mrn.js), from the same definitions the server uses."""
    return {
        "pattern": GROUPED_PATTERN,
        "legacy": LEGACY_PATTERN,
        "digits": GROUPED_DIGITS,
        "example": GROUPED_EXAMPLE,
        "legacy_message": LEGACY_MESSAGE,
        "invalid_message": INVALID_MESSAGE.format(example=GROUPED_EXAMPLE),
    }
