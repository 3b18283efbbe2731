"""Field rules for patient demographics. One home: the model uses them, so forms, the API and the admin agree."""

import datetime
import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.text import validate_text

# Pakistani CNIC as printed on the card: 5 digits, 7 digits, 1 digit.
validate_cnic = RegexValidator(r"^\d{5}-\d{7}-\d$", _("Enter the CNIC as 12345-1234567-1."))


def validate_phone(value: str) -> None:
    """Accept a phone number of 7 to 15 digits, optionally starting with `+`, with spaces or dashes between digits.

    Raises:
        ValidationError: for anything else (letters, too few or too many digits).
    """
    if not re.fullmatch(r"\+?[0-9][0-9 \-]*[0-9]", value) or not 7 <= len(re.sub(r"\D", "", value)) <= 15:
        raise ValidationError(_("Enter a phone number of 7 to 15 digits, e.g. 0300-1234567 or +92 300 1234567."))


def normalise_cnic(value: str) -> str:
    """A CNIC typed any common way as printed on the card: 13 digits with or without dashes, spaces or dots
    (`3520212345671`, `35202 1234567 1`) -> `35202-1234567-1`. Anything else is returned stripped, for
    `validate_cnic` to refuse with its message."""
    digits = re.sub(r"[\s.\-]", "", value)
    if re.fullmatch(r"\d{13}", digits):
        return f"{digits[:5]}-{digits[5:12]}-{digits[12]}"
    return value.strip()


def normalise_phone(value: str) -> str:
    """A phone typed any common way, written one way. A Pakistani mobile (03xx and 7 digits) becomes `0300-1234567`
    whatever the separators (`(0300) 123 4567`, `0300.1234567`, `03001234567`), or `+92 300 1234567` with the
    country code (`+923001234567`, `0092 300 1234567`); other numbers keep their digits and dashes, brackets and
    dots becoming spaces (`(042) 3576-1234` -> `042 3576-1234`). Text with letters is returned stripped, for
    `validate_phone` to refuse."""
    compact = re.sub(r"[\s().\-]", "", value)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if re.fullmatch(r"03\d{9}", compact):
        return f"{compact[:4]}-{compact[4:]}"
    if re.fullmatch(r"\+923\d{9}", compact):
        return f"+92 {compact[3:6]} {compact[6:]}"
    return " ".join(re.sub(r"[().]", " ", value).split())


EARLIEST_DOB = datetime.date(1900, 1, 1)



def validate_dob(value, *, not_after: datetime.date | None = None) -> None:
    """A date of birth from 1900-01-01 to today in the hospital's time zone, or to `not_after` when given (a lab
    terminal's registration day: the patient stood there then, not today).

    Raises:
        ValidationError: for an earlier day, or a day after today (after `not_after`).
    """
    if value < EARLIEST_DOB:
        raise ValidationError(_("Date of birth cannot be before %(earliest)s."), params={"earliest": EARLIEST_DOB.isoformat()})
    if not_after is None:
        validate_not_future(value)
    elif value > not_after:
        raise ValidationError(
            _("Date of birth cannot be after the registration date (%(day)s)."), params={"day": not_after.isoformat()}
        )


def validate_visible_text(value: str) -> None:
    """Names' character rule as migrations written before core.text name it (they refer to this function); the
    model fields now apply core.text's rule themselves."""
    validate_text(value, label="The name")


def validate_not_future(value) -> None:
    """Refuse a date after today in the hospital's time zone (a date of birth cannot be in the future)."""
    if value > timezone.localdate():
        raise ValidationError(_("Date of birth cannot be in the future."))
