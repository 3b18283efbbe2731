"""Database expressions that patient search and its indexes share, so a query and its index always match.

The indexes (patients/models.py) are built on these exact expressions (the names through the stored columns
`full_name_folded` and `father_name_folded`, which are `Fold(...)`); PostgreSQL uses an expression index only when the
query repeats the expression, so selectors must build their conditions from here too.
"""

from django.db.models import BigIntegerField, Case, CharField, F, Func, TextField, Value, When
from django.db.models.functions import Cast, NullIf, Reverse, Right

# `patients_fold(text)`: lower case without accents (`Zoë` -> `zoe`): decomposed (Unicode NFD) and stripped of the
# combining marks. Built from PostgreSQL's own IMMUTABLE normalize(), so an index can use it, and needing no
# extension: the unaccent extension is missing from the embedded server a fresh checkout uses.
# Created by migration 0004.
FOLD_FUNCTION_SQL = r"""
CREATE OR REPLACE FUNCTION patients_fold(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$ SELECT lower(regexp_replace(normalize($1, NFD), '[\u0300-\u036f]', '', 'g')) $$;
"""
DROP_FOLD_FUNCTION_SQL = "DROP FUNCTION IF EXISTS patients_fold(text);"

PHONE_KEY_DIGITS = 10  # 0300-1234567 and +92 300 1234567 share their last ten digits


class Fold(Func):
    """`patients_fold(expression)`: text folded for case- and accent-insensitive comparison."""

    function = "patients_fold"
    output_field = TextField()


def mrn_value_of(field: str) -> Case:
    """The value of an MRN column in the `mrn` sequence's number space: grouped `007-10-042` and plain `710042`
    are 710042, anything else (dated `PAT-...`) NULL. patients.mrn.mrn_value is the same rule in Python.

    The digits are cast only after removing everything else (never an error, even where PostgreSQL folds the
    expression for constants before looking at the condition, as model validation's query makes it do)."""
    digits = Func(F(field), Value("[^0-9]"), Value(""), Value("g"), function="regexp_replace", output_field=TextField())
    return Case(
        When(**{f"{field}__regex": r"^([0-9]{3}-[0-9]{2}-[0-9]{3}|[0-9]{1,8})$"},
             then=Cast(NullIf(digits, Value("")), BigIntegerField())),
        default=None,
        output_field=BigIntegerField(),
    )


def fold_text(text: str):
    """The folded form of a search term, folded by the database exactly like the indexed column."""
    return Fold(Value(text))


def phone_key(field: str) -> Reverse:
    """The last PHONE_KEY_DIGITS digits of a phone column, whatever its spaces, dashes or `+92`, reversed.

    Reversed so that "ends with these digits" becomes a prefix (`LIKE '7654321%'`), which a btree can serve:
    one index answers the whole number and its last seven digits alike.
    """
    digits = Func(F(field), Value(r"\D"), Value(""), Value("g"), function="regexp_replace", output_field=CharField())
    return Reverse(Right(digits, PHONE_KEY_DIGITS))
