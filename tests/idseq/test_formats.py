"""Pure id formats: grouped (MRN), letter-number (seed 004), dated (seed 001), plain, Luhn check digits."""

import datetime
import random
import re
import string

import pytest

from idseq.exceptions import InvalidId, SequenceExhausted
from idseq.formats import (
    GROUPED_FIRST,
    GROUPED_LAST,
    IdFormat,
    Kind,
    Period,
    convert_legacy,
    format_dated,
    format_grouped,
    format_letter_number,
    format_plain,
    format_scoped,
    is_legacy,
    letter_number_last,
    luhn_digit,
    parse_dated,
    parse_grouped,
    parse_letter_number,
    parse_plain,
    parse_scoped,
    scope_of,
)


def test_the_first_grouped_number_is_001_00_001():
    assert format_grouped(GROUPED_FIRST) == "001-00-001"


def test_001_00_999_is_followed_by_001_01_000():
    assert format_grouped(parse_grouped("001-00-999") + 1) == "001-01-000"


def test_the_last_grouped_number_is_999_99_999_and_the_next_is_exhausted():
    assert format_grouped(GROUPED_LAST) == "999-99-999"
    with pytest.raises(SequenceExhausted, match="999-99-999"):
        format_grouped(GROUPED_LAST + 1)


def test_format_and_parse_are_inverses():
    for value in random.Random(3).sample(range(GROUPED_FIRST, GROUPED_LAST + 1), 2000):
        assert parse_grouped(format_grouped(value)) == value


@pytest.mark.parametrize("text", ["01-23-456", "0012-3456", "001-23-45a", "", "001-23-4567", "\u0661" * 3 + "-00-001"])
def test_parse_rejects_what_is_not_xxx_xx_xxx(text):
    with pytest.raises(ValueError):
        parse_grouped(text)



def following(text: str) -> str:
    return format_letter_number(parse_letter_number(text) + 1)


def test_the_first_letter_number_is_aaa0001():
    assert format_letter_number(1) == "AAA0001"


@pytest.mark.parametrize(
    "last, first",
    [
        ("AAA0001", "AAA0002"),
        ("AAA9999", "AAB0001"),
        ("AAZ9999", "ABA0001"),
        ("AZZ9999", "BAA0001"),
        ("ZZZ9999", "AAAA0001"),
        ("ZZZZ9999", "AAAAA0001"),
    ],
)
def test_letter_number_rolls_over_as_seed_004_says(last, first):
    assert following(last) == first


def test_the_last_letter_number_is_zzzzz9999_and_the_next_is_exhausted():
    assert format_letter_number(letter_number_last()) == "ZZZZZ9999"
    with pytest.raises(SequenceExhausted):
        format_letter_number(letter_number_last() + 1)


def test_a_wider_letter_number_holds_more_per_letter_block():
    assert format_letter_number(99_999, digits=5) == "AAA99999"
    assert format_letter_number(100_000, digits=5) == "AAB00001"


@pytest.mark.parametrize(
    "text", ["AA0001", "AAA001", "AAA00001", "AAA0000", "aaa0001", "AAAAAA0001", "AAA-0001", "AAA\u0660\u0660\u0660\u0661"]
)
def test_parse_letter_number_rejects_other_shapes(text):
    with pytest.raises(ValueError):
        parse_letter_number(text)


def test_letter_number_format_and_parse_are_inverses_over_random_values():
    rng = random.Random(4)
    for value in [rng.randint(1, letter_number_last()) for _ in range(3000)]:
        text = format_letter_number(value)
        assert parse_letter_number(text) == value
        assert format_letter_number(parse_letter_number(text)) == text


def test_plain_and_dated_format_and_parse_are_inverses():
    rng = random.Random(5)
    for value in [rng.randint(0, 999_999) for _ in range(500)]:
        assert parse_plain(format_plain(value, 6), 6) == value
    for scope in ["2024-11-03", "2024"]:
        for value in [rng.randint(1, 9999) for _ in range(200)]:
            assert parse_dated(format_dated(value, scope)) == (value, scope)


def test_the_dated_format_is_seed_001s():
    assert format_dated(1, "2024-11-03") == "20241103-0001"
    with pytest.raises(SequenceExhausted, match="2024-11-03"):
        format_dated(10_000, "2024-11-03")
    with pytest.raises(ValueError):
        parse_dated("20240230-0001")


def test_scopes_are_days_and_years():
    day = datetime.date(2026, 11, 25)
    assert [scope_of(p, day) for p in (Period.NEVER, Period.DAILY, Period.YEARLY)] == ["", "2026-11-25", "2026"]


def test_luhn_digit_matches_the_textbook_examples():
    assert luhn_digit("7992739871") == "3"
    assert luhn_digit("4539 1488 0343 646") == "7"  # a valid test card number ends in 7


def test_a_check_digit_is_verified_and_catches_a_typo():
    fmt = IdFormat(kind=Kind.LETTER_NUMBER, prefix="INV", check_digit=True)
    text = fmt.render(12345)
    assert fmt.parse(text) == (12345, "")
    wrong = text[:-1] + str((int(text[-1]) + 1) % 10)
    with pytest.raises(InvalidId, match="check digit"):
        fmt.parse(wrong)
    swapped = text[:-3] + text[-2] + text[-3] + text[-1]
    if swapped != text:
        with pytest.raises(InvalidId):
            fmt.parse(swapped)


@pytest.mark.parametrize(
    "fmt, value, scope, text",
    [
        (IdFormat(kind=Kind.LETTER_NUMBER, prefix="INV"), 1, "", "INV-AAA0001"),
        (IdFormat(kind=Kind.DATED, prefix="PAT", period=Period.DAILY), 1, "2024-11-03", "PAT-20241103-0001"),
        (IdFormat(kind=Kind.DATED, prefix="INV", period=Period.YEARLY), 42, "2026", "INV-2026-0042"),
        (IdFormat(kind=Kind.GROUPED), GROUPED_FIRST, "", "001-00-001"),
        (IdFormat(kind=Kind.PLAIN, prefix="R", digits=6), 7, "", "R-000007"),
        (IdFormat(kind=Kind.PLAIN, prefix="VT", period=Period.SCOPED), 17, "GEN-20261202", "VT-GEN-20261202-0017"),
        (IdFormat(kind=Kind.PLAIN, prefix="SLOT", period=Period.SCOPED), 3, "0b7e6f5c-1a2b-4c3d-9e8f-0123456789ab",
         "SLOT-0b7e6f5c-1a2b-4c3d-9e8f-0123456789ab-0003"),
        (IdFormat(kind=Kind.PLAIN, period=Period.SCOPED, digits=3), 999, "7", "7-999"),
    ],
)
def test_id_formats_render_and_parse_each_kind(fmt, value, scope, text):
    assert fmt.render(value, scope) == text
    assert fmt.parse(text) == (value, scope)


@pytest.mark.parametrize("text", ["INV-AAA001", "INX-AAA0001", "INV-AAA0001 ", "INV-aaa0001", "AAA0001"])
def test_an_id_in_another_shape_is_refused_with_the_expected_pattern(text):
    with pytest.raises(InvalidId, match=r"INV-AAANNNN \(3-5 capital letters and 4 digits\)"):
        IdFormat(kind=Kind.LETTER_NUMBER, prefix="INV").parse(text)


def test_a_daily_id_does_not_parse_as_yearly():
    with pytest.raises(InvalidId):
        IdFormat(kind=Kind.DATED, prefix="PAT", period=Period.YEARLY).parse("PAT-20241103-0001")


@pytest.mark.parametrize(
    ("old", "new"), [("01-00-001", "001-00-001"), ("01-23-456", "001-23-456"), ("99-99-999", "099-99-999")]
)
def test_old_numbers_become_grouped_by_prepending_a_zero(old, new):
    assert is_legacy(old) and not is_legacy(new)
    assert convert_legacy(old) == new


@pytest.mark.parametrize("text", ["001-23-456", "0123456", "1-23-456", ""])
def test_convert_legacy_refuses_what_is_not_xx_xx_xxx(text):
    with pytest.raises(ValueError):
        convert_legacy(text)


def test_scoped_format_and_parse_are_inverses_over_random_values_and_scopes():
    fmt = IdFormat(kind=Kind.PLAIN, prefix="VT", period=Period.SCOPED, check_digit=True)
    rng = random.Random(12)
    alphabet = string.ascii_letters + string.digits + "_.-"
    for _ in range(2000):
        scope = rng.choice(string.ascii_letters + string.digits)
        scope += "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40))) + rng.choice(string.digits)
        value = rng.randrange(0, 10_000)
        assert fmt.parse(fmt.render(value, scope)) == (value, scope)
        assert fmt.render(*fmt.parse(fmt.render(value, scope))) == fmt.render(value, scope)
        assert re.fullmatch(fmt.regex, fmt.render(value, scope))


@pytest.mark.parametrize("scope", ["", "-GEN", "GEN-", "GEN:20261202", "GÉN", "A" * 51, "GEN\n"])
def test_a_scope_that_would_not_read_back_is_refused(scope):
    with pytest.raises(ValueError, match="not a scope"):
        format_scoped(1, scope)


@pytest.mark.parametrize("text", ["VT-0017", "VT-GEN-20261202-017", "VT--0017", "VT-GEN-20261202-0017-", "GEN-1-0001"])
def test_a_scoped_id_in_another_shape_is_refused_with_the_pattern(text):
    with pytest.raises(InvalidId, match=r"VT-SCOPE-NNNN \(4 digits\)"):
        IdFormat(kind=Kind.PLAIN, prefix="VT", period=Period.SCOPED).parse(text)


def test_a_scoped_sequences_scope_comes_from_its_caller_not_the_day():
    with pytest.raises(ValueError, match="named by its caller"):
        scope_of(Period.SCOPED, datetime.date(2026, 12, 2))
    with pytest.raises(SequenceExhausted, match="GEN-20261202"):
        format_scoped(10_000, "GEN-20261202")
    assert parse_scoped("GEN-20261202-0017") == (17, "GEN-20261202")
