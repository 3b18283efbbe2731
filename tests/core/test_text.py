"""core/text.py's character rule on its own: what is refused, what is kept, and how any text prints safely."""

import pytest
from django.core.exceptions import ValidationError

from core.text import normalize_text, printable, refused_character, validate_text


@pytest.mark.parametrize("text", ["Ali Khan", "علی خان", "مُحَمَّد", "Zoë-Ann O'Neil, Jr. (2)", "Ayesha\u00a0Bibi", ""])
def test_letters_of_any_script_their_marks_digits_spaces_and_punctuation_pass(text):
    assert refused_character(text) is None


@pytest.mark.parametrize(
    ("text", "char"),
    [("a\tb", "\t"), ("a\x7f", "\x7f"), ("é\x00", "\x00"), ("é\u0085", "\u0085"), ("é\ud800", "\ud800"),
     ("é\U000e0020", "\U000e0020"), ("é\U000e0080", "\U000e0080"), ("é\uffff", "\uffff"), ("é\U0010fffd", "\U0010fffd"),
     ("é\u2800", "\u2800")],
)
def test_controls_surrogates_tags_noncharacters_private_use_and_blank_letters_are_found(text, char):
    assert refused_character(text)[0] == char


def test_line_breaks_are_allowed_only_in_multi_line_text():
    assert refused_character("a\r\nb", multiline=True) is None
    assert refused_character("a\r\nb") == ("\r", "a control character")
    assert normalize_text("a\r\nb\rc", multiline=True) == "a\nb\nc"
    assert normalize_text("a\r\nb") == "a\r\nb"  # a name keeps it, for its validator to refuse


def test_the_message_names_the_field_the_kind_and_the_code_point():
    with pytest.raises(ValidationError) as caught:
        validate_text("Ali\u061c", label="Full name")
    assert caught.value.messages == ["Full name contains an invisible character (U+061C); remove it."]


def test_text_is_normalised_to_nfc():
    assert normalize_text("e\u0301") == "\u00e9" and normalize_text(None) is None


def test_printable_replaces_only_the_refused_characters():
    assert printable("Ali\x07 <Khan>\u202e") == "Ali\ufffd <Khan>\ufffd"
    assert printable("علی خان") == "علی خان"
