"""MRNs compared by value (issue #14): a terminal's number may be written plain (`710000`) or grouped
(`007-10-000`); both mean 710,000. Every comparison of an offline MRN with a lease goes through here."""

import re

from django.db.models import BigIntegerField, Case, Value, When
from django.db.models.functions import Cast, Replace

# Digits, optionally in dash-separated groups ("710000", "007-10-000"), at most 18 characters so that the value
# fits a bigint. Anything else has no value. (PostgreSQL's regular expressions understand the lookahead too.)
NUMERIC_MRN = r"^(?=[0-9-]{1,18}$)[0-9]+(-[0-9]+)*$"


def mrn_value(mrn: str) -> int | None:
    """The number an MRN string writes ("007-10-000" -> 710000, "710000" -> 710000), or None for any other
    string ("PAT-20241103-0001", "", " 710000")."""
    if not isinstance(mrn, str) or not re.fullmatch(NUMERIC_MRN, mrn, flags=re.ASCII):
        return None
    return int(mrn.replace("-", ""))


def mrn_value_sql(field: str = "mrn"):
    """`mrn_value` as a database expression on `field` (NULL for MRNs that write no number)."""
    return Case(
        When(**{f"{field}__regex": NUMERIC_MRN},
             then=Cast(Replace(field, Value("-"), Value("")), BigIntegerField())),
        default=None,
        output_field=BigIntegerField(),
    )
