import random

import pytest

from idseq.exceptions import SequenceExhausted
from idseq.formats import GROUPED_FIRST, GROUPED_LAST, format_grouped, parse_grouped


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


@pytest.mark.parametrize("text", ["01-23-456", "0012-3456", "001-23-45a", "", "001-23-4567"])
def test_parse_rejects_what_is_not_xxx_xx_xxx(text):
    with pytest.raises(ValueError):
        parse_grouped(text)
