"""What people's names and free text may hold: one rule for every way text gets in (API, pages, offline sync, CSV
import, admin), applied by the model fields below, and one way of printing any stored text safely.

Text is stored in Unicode normalisation form NFC (the composed form: `é` is one code point however it was typed),
so the same name is always the same string for search, duplicates and uniqueness. Refused, because nobody can see
them or they make a printed or shown name differ from the stored one:
- control characters (category Cc: U+0000-U+001F, U+007F-U+009F; a BEL makes an SVG slip invalid XML);
- format characters (Cf: zero-width spaces and joiners U+200B-U+200D, direction marks and overrides U+061C,
  U+200E-F, U+202A-E, U+2066-9, the soft hyphen U+00AD, U+FEFF, the tag characters U+E0001-U+E007F) and the line and
  paragraph separators U+2028 and U+2029 (Zl, Zp);
- private-use characters (Co), surrogates (Cs) and code points Unicode has not assigned (Cn, by the Unicode
  version of Python's `unicodedata`), which no font shows the same way on every screen;
- the Hangul fillers U+115F, U+1160, U+3164, U+FFA0 and the blank Braille pattern U+2800: letters that draw
  nothing, so a name made of them looks blank.
Letters of every script (Urdu, Arabic and English included), their combining marks (Mn, Mc: Urdu's zer, zabar,
pesh...), digits, spaces and punctuation stay allowed. Multi-line text (an address) may also hold line breaks.
"""

import unicodedata

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.functional import cached_property
from django.utils.text import capfirst

# Letters that draw nothing (Lo, So), refused like the invisible characters.
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
LINE_BREAKS = frozenset("\n\r")
# Category -> how a message names it.
REFUSED_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "an invisible character",
    "Zl": "an invisible line separator",
    "Zp": "an invisible paragraph separator",
    "Co": "a private-use character",
    "Cs": "a lone surrogate",
    "Cn": "an unassigned character",
}
# Control characters as a PostgreSQL regular expression, for the database's CHECK constraints (the worst of the
# refused characters, and the only ones that can break a printed XML document): single-line and multi-line text.
CONTROL_CHARACTERS_SQL = r"[\x01-\x1f\x7f-\x9f]"
CONTROL_CHARACTERS_BUT_LINE_BREAKS_SQL = r"[\x01-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]"
REPLACEMENT = "\ufffd"


def normalize_text(value: str, *, multiline: bool = False) -> str:
    """`value` in NFC; in multi-line text, `\\r\\n` and `\\r` line breaks become `\\n`. Other types pass unchanged
    (None of a nullable field, for one)."""
    if not isinstance(value, str):
        return value
    value = unicodedata.normalize("NFC", value)
    if multiline and "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def refused_character(value: str, *, multiline: bool = False) -> tuple[str, str] | None:
    """The first character of `value` the rule above refuses, as (character, what it is: "a control character",
    ...), or None when there is none. Line breaks are allowed when `multiline`."""
    if value.isascii():  # the common case: only the ASCII controls can be wrong
        for char in value:
            if (char < " " or char == "\x7f") and not (multiline and char in LINE_BREAKS):
                return char, REFUSED_CATEGORIES["Cc"]
        return None
    for char in value:
        if char in BLANK_LETTERS:
            return char, "an invisible filler character"
        kind = REFUSED_CATEGORIES.get(unicodedata.category(char))
        if kind and not (multiline and char in LINE_BREAKS):
            return char, kind
    return None


def validate_text(value: str, *, label: str = "The text", multiline: bool = False) -> None:
    """Refuse text holding a character `refused_character` finds.

    Raises:
        ValidationError: (code `refused_character`) naming `label`, what the character is and its code point, e.g.
            "Full name contains an invisible character (U+061C); remove it."
    """
    found = refused_character(value, multiline=multiline)
    if found:
        char, kind = found
        raise ValidationError(
            "%(label)s contains %(kind)s (U+%(code)04X); remove it.",
            code="refused_character",
            params={"label": label, "kind": kind, "code": ord(char)},
        )


def printable(value: str) -> str:
    """`value` with every character the rule refuses replaced by U+FFFD (�), for slips and other printed or XML
    documents: text stored before the rule, or written around it, still prints as a well-formed document (XML 1.0
    allows no control characters but tab and line breaks, not even escaped), and the mark shows where something
    was wrong."""
    if not isinstance(value, str) or refused_character(value) is None:
        return value
    return "".join(REPLACEMENT if refused_character(char) else char for char in value)


class TextRule:
    """The model fields' validator: `validate_text` with the field's own name in the message (read when a value is
    checked, so the label is the field's final verbose name). Not written into migrations."""

    def __init__(self, field: models.Field, *, multiline: bool):
        self.field = field
        self.multiline = multiline

    def __call__(self, value: str) -> None:
        validate_text(value, label=capfirst(self.field.verbose_name or "The text"), multiline=self.multiline)


class CleanTextMixin:
    """A text model field whose values follow the rule above on every path: `full_clean` (forms, the admin,
    services) normalises them and refuses bad characters (TextRule); DRF's model serializers copy the validator;
    and every save normalises again (`pre_save`), so a path that skips validation still stores NFC."""

    multiline = False

    @cached_property
    def validators(self):
        return [*super().validators, TextRule(self, multiline=self.multiline)]

    def to_python(self, value):
        return normalize_text(super().to_python(value), multiline=self.multiline)

    def pre_save(self, model_instance, add):
        value = normalize_text(super().pre_save(model_instance, add), multiline=self.multiline)
        setattr(model_instance, self.attname, value)
        return value


class NameField(CleanTextMixin, models.CharField):
    """A one-line name or label (a patient's name, a doctor's, a queue's): no line breaks."""


class FreeTextField(CleanTextMixin, models.TextField):
    """Multi-line free text (an address): line breaks allowed, stored as `\\n`."""

    multiline = True
