"""Bounds on days typed into queries and forms. Past them Python's dates overflow (9999-12-31 + 1 day) before the
database is even asked, so every day a client sends is checked against these first (400, not 500)."""

import datetime

from django.core.exceptions import ValidationError

FIRST_DAY = datetime.date(1900, 1, 1)
LAST_DAY = datetime.date(2999, 12, 31)


def validate_query_day(value: datetime.date) -> None:
    """Refuse a day outside FIRST_DAY..LAST_DAY (a search or report day; the hospital has no records beyond).

    Raises:
        django.core.exceptions.ValidationError: naming the range. DRF fields, forms and django-filter take it alike.
    """
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValidationError(f"Give a day from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}.")
