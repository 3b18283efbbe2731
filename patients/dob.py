"""Date of birth as a desk types it: `dd/mm/yyyy`, or an age when the patient does not know the date.

An age (`35`, `35y`, `8m`, `3w`, `10d`) becomes the date that many years, months, weeks or days before today (the
hospital's day), stored with `dob_estimated=True` so slips and reports know it is approximate. One parser for the
form field (patients.forms.DateOfBirthField); the API takes ISO dates and the flag as sent.
"""

import datetime
import re
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

MESSAGE = gettext_lazy(
    "Enter the date of birth as dd/mm/yyyy, or the age: 35, 35y, 8m (months), 3w (weeks) or 10d (days)."
)
MAX_AGE_YEARS = 130
_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_AGE = re.compile(r"^(\d{1,4})\s*(y|yr|yrs|year|years|m|mo|month|months|w|wk|week|weeks|d|day|days)?$", re.I)


class DateOfBirth(NamedTuple):
    """A parsed date of birth: the date, and whether it was worked out from an age."""

    date: datetime.date
    estimated: bool


def _refusal(sentence: str, text: str) -> str:
    """What is wrong with `text` (one translated sentence with %(text)s), then how to type it (MESSAGE)."""
    return f"{sentence % {'text': text}} {MESSAGE}"


def parse_dob(text: str, today: datetime.date) -> DateOfBirth | None:
    """`text` as typed at the desk -> DateOfBirth, or None when blank.

    Args:
        text: `15/06/1991` (also `15-06-1991`, `15.6.1991`, ISO `1991-06-15`), or an age: a number of years
            (`35`, `35y`), months (`8m`), weeks (`3w`) or days (`10d`).
        today: the hospital's day (timezone.localdate()) the age counts back from.
    Raises:
        ValidationError: text that is neither, an impossible date, an age above 130 years.
    """
    text = text.strip()
    if not text:
        return None
    if match := _DATE.match(text) or _ISO.match(text):
        parts = [int(part) for part in match.groups()]
        day, month, year = parts if match.re is _DATE else parts[::-1]
        try:
            return DateOfBirth(datetime.date(year, month, day), False)
        except ValueError:
            raise ValidationError(_refusal(_("%(text)s is not a date."), text), code="invalid") from None
    if match := _AGE.match(text):
        number, unit = int(match.group(1)), (match.group(2) or "y")[0].lower()
        months = {"y": number * 12, "m": number}.get(unit)
        if months is not None:
            if months > MAX_AGE_YEARS * 12:
                raise ValidationError(_refusal(_("An age of %(text)s is not possible."), text), code="invalid")
            return DateOfBirth(_months_before(today, months), True)
        days = number * 7 if unit == "w" else number
        if days > MAX_AGE_YEARS * 366:
            raise ValidationError(_refusal(_("An age of %(text)s is not possible."), text), code="invalid")
        return DateOfBirth(today - datetime.timedelta(days=days), True)
    raise ValidationError(MESSAGE, code="invalid")


def _months_before(today: datetime.date, months: int) -> datetime.date:
    """The same day of the month `months` earlier; the month's last day when it is shorter (31 Mar - 1m = 28 Feb)."""
    index = today.year * 12 + today.month - 1 - months
    year, month = divmod(index, 12)
    for day in range(today.day, 27, -1):
        try:
            return datetime.date(year, month + 1, day)
        except ValueError:
            continue
    return datetime.date(year, month + 1, min(today.day, 28))
