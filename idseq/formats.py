"""How counter values are shown. Pure functions, no database.

Grouped digits (seed 000): value n is written as 8 zero-padded digits grouped 3-2-3, so 100001 is `001-00-001`.
"""

import re

from idseq.exceptions import SequenceExhausted

GROUPED_FIRST = 100_001  # 001-00-001, the first MRN of seed 000
GROUPED_LAST = 99_999_999  # 999-99-999, the last number the format can show
GROUPED_PATTERN = r"^\d{3}-\d{2}-\d{3}$"
_GROUPED_RE = re.compile(GROUPED_PATTERN)


def format_grouped(n: int) -> str:
    """Return value `n` as `xxx-xx-xxx` (e.g. 100001 -> `001-00-001`, 101000 -> `001-01-000`).

    Raises:
        SequenceExhausted: when `n` is past 99,999,999 (`999-99-999`).
        ValueError: when `n` is negative.
    """
    if n > GROUPED_LAST:
        raise SequenceExhausted(f"Value {n} is past the last grouped number 999-99-999; the sequence is exhausted.")
    if n < 0:
        raise ValueError(f"Grouped numbers are not negative (got {n})")
    digits = f"{n:08d}"
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"


def parse_grouped(text: str) -> int:
    """Return the value of a `xxx-xx-xxx` number, the inverse of `format_grouped`.

    Raises:
        ValueError: when `text` is not in the `xxx-xx-xxx` format.
    """
    if not _GROUPED_RE.match(text):
        raise ValueError(f"{text!r} is not a number in the format xxx-xx-xxx")
    return int(text.replace("-", ""))
