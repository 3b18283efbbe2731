"""The digits numbers are written in on Urdu slips and boards: Latin (0123456789) or Extended Arabic-Indic
(۰۱۲۳۴۵۶۷۸۹, the Urdu forms), as the hospital chooses with the setting `URDU_DIGITS` ("latin" or "eastern").

Only what people read changes: QR codes, barcodes, URLs and every stored or typed number keep Latin digits, so a
scanner or a search finds the same MRN whatever the setting.
"""

from django.conf import settings
from django.utils import translation

_EASTERN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def urdu_digits(text) -> str:
    """`text` as a string, its digits 0-9 written in the hospital's Urdu digits (unchanged for "latin").

    For text that is Urdu whatever the page's language (the board's Urdu line). E.g. "GEN-025" -> "GEN-۰۲۵".
    """
    text = str(text)
    return text.translate(_EASTERN) if settings.URDU_DIGITS == "eastern" else text


def page_digits(text) -> str:
    """`text` with the hospital's Urdu digits on an Urdu page (the active language is Urdu), unchanged otherwise."""
    return urdu_digits(text) if translation.get_language() == "ur" else str(text)
