"""How counter values are shown as ids, and read back. Pure functions, no database.

One function pair per kind, each the exact inverse of the other (`parse_x(format_x(n)) == n` for every value the
kind can show, and `format_x(parse_x(text)) == text` for every text `parse_x` accepts):

- grouped (seed 000, MRNs): 8 digits grouped 3-2-3, value 100001 is `001-00-001`.
- letter_number (seed 004): `AAA0001 ... AAA9999, AAB0001 ... ZZZ9999, AAAA0001 ...` up to five letters.
- dated (seed 001): the scope period then the number, `20241103-0001` (daily) or `2024-0001` (yearly).
- plain: the number zero-padded, `000123`.
- scoped (a plain sequence counted per caller's scope, e.g. one counter per queue and day): the scope then the
  number, `GEN-20261202-0017`; the number is what follows the last `-`, so any scope reads back unchanged.

`IdFormat` puts a kind together with a sequence's prefix (`INV-AAA0001`, `PAT-20241103-0001`) and optional Luhn
mod-10 check digit, and is what the services use.
"""

import datetime
import re
import string
from dataclasses import dataclass

from idseq.exceptions import InvalidId, SequenceExhausted

GROUPED_FIRST = 100_001  # 001-00-001, the first MRN of seed 000
GROUPED_LAST = 99_999_999  # 999-99-999, the last number the format can show
GROUPED_PATTERN = r"^\d{3}-\d{2}-\d{3}$"
_GROUPED_RE = re.compile(GROUPED_PATTERN, re.ASCII)  # ASCII: \d must not match other scripts' digits

PREFIX_PATTERN = r"^[A-Z][A-Z0-9]{0,9}$"  # seed 004: 1-10 characters, a capital letter first
PREFIX_RE = re.compile(PREFIX_PATTERN.replace("$", r"\Z"))  # `$` would let a trailing newline through
LETTER_COUNTS = (3, 4, 5)  # AAA..ZZZ, then AAAA..ZZZZ, then AAAAA..ZZZZZ (seed 004)


class Kind:
    """The kinds of id a sequence can issue (see the module docstring)."""

    GROUPED = "grouped"
    LETTER_NUMBER = "letter_number"
    DATED = "dated"
    PLAIN = "plain"


# A caller's scope (`GEN-20261202`, a slot's UUID): shown inside the id, so letters, digits and `_ . -` only, starting
# and ending with a letter or digit; 50 characters at most, so that a prefixed id fits the ledger's 64.
SCOPE_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,48}[A-Za-z0-9])?$"
_SCOPE_RE = re.compile(SCOPE_PATTERN.replace("$", r"\Z"), re.ASCII)  # `$` would let a trailing newline through


class Period:
    """When a sequence starts again at its start value: never, each day or each year (hospital's TIME_ZONE), or in
    every scope its caller names (`scoped`: one counter per queue and day, per slot, ...)."""

    NEVER = "never"
    DAILY = "daily"
    YEARLY = "yearly"
    SCOPED = "scoped"


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
    if not _GROUPED_RE.fullmatch(text):
        raise ValueError(f"{text!r} is not a number in the format xxx-xx-xxx")
    return int(text.replace("-", ""))


# The format before seed 000's migration: 7 digits grouped 2-2-3. Its numbers became grouped ones by prepending a zero.
LEGACY_PATTERN = r"^\d{2}-\d{2}-\d{3}$"
_LEGACY_RE = re.compile(LEGACY_PATTERN, re.ASCII)


def is_legacy(text: str) -> bool:
    """Whether `text` is a number in the old `xx-xx-xxx` format (e.g. `01-23-456`)."""
    return bool(_LEGACY_RE.fullmatch(text))  # fullmatch: no trailing newline


def convert_legacy(text: str) -> str:
    """Return the grouped number an old `xx-xx-xxx` number became: `01-00-001` -> `001-00-001` (seed 000).

    Raises:
        ValueError: when `text` is not in the `xx-xx-xxx` format.
    """
    if not is_legacy(text):
        raise ValueError(f"{text!r} is not a number in the old format xx-xx-xxx")
    return "0" + text


def letter_number_last(digits: int = 4) -> int:
    """The last value the letter-number format can show: `ZZZZZ9999` with 4 digits (123,547,023,072 values)."""
    return sum(26**letters for letters in LETTER_COUNTS) * (10**digits - 1)


def format_letter_number(n: int, digits: int = 4) -> str:
    """Return value `n` (1 is the first) as letters and a number: 1 -> `AAA0001`, 9999 -> `AAA9999`,
    10000 -> `AAB0001`, ... then `ZZZ9999` -> `AAAA0001` and `ZZZZ9999` -> `AAAAA0001` (seed 004).

    Args:
        n: the counter value, at least 1.
        digits: width of the number part; each letter block holds 1 .. 10**digits - 1.
    Raises:
        SequenceExhausted: past `ZZZZZ` followed by the last number.
        ValueError: when `n < 1`.
    """
    if n < 1:
        raise ValueError(f"Letter-number values start at 1 (got {n})")
    per_block = 10**digits - 1
    index = n - 1
    for letters in LETTER_COUNTS:
        size = 26**letters * per_block
        if index < size:
            block, number = divmod(index, per_block)
            return _letters(block, letters) + f"{number + 1:0{digits}d}"
        index -= size
    raise SequenceExhausted(f"Value {n} is past the last letter-number id {'Z' * LETTER_COUNTS[-1]}{per_block}.")


def parse_letter_number(text: str, digits: int = 4) -> int:
    """Return the value of `AAB0001`-style text, the inverse of `format_letter_number`.

    Raises:
        ValueError: when `text` is not 3-5 capital letters followed by exactly `digits` digits, not all zero.
    """
    match = re.fullmatch(rf"([A-Z]{{{LETTER_COUNTS[0]},{LETTER_COUNTS[-1]}}})(\d{{{digits}}})", text, re.ASCII)
    if not match or int(match[2]) == 0:
        raise ValueError(f"{text!r} is not {LETTER_COUNTS[0]}-{LETTER_COUNTS[-1]} letters and {digits} digits")
    letters, number = match[1], int(match[2])
    per_block = 10**digits - 1
    offset = sum(26**count * per_block for count in LETTER_COUNTS if count < len(letters))
    block = 0
    for letter in letters:
        block = block * 26 + string.ascii_uppercase.index(letter)
    return offset + block * per_block + number


def _letters(index: int, count: int) -> str:
    """`index` written in base 26 with A=0, padded to `count` letters (0 -> AAA, 27 -> ABB)."""
    out = []
    for _ in range(count):
        index, rest = divmod(index, 26)
        out.append(string.ascii_uppercase[rest])
    return "".join(reversed(out))


def format_plain(n: int, digits: int) -> str:
    """Return value `n` zero-padded to `digits` digits (7, 4 -> `0007`).

    Raises:
        SequenceExhausted: when `n` needs more than `digits` digits.
        ValueError: when `n` is negative.
    """
    if n < 0:
        raise ValueError(f"Plain numbers are not negative (got {n})")
    if n >= 10**digits:
        raise SequenceExhausted(f"Value {n} does not fit in {digits} digits.")
    return f"{n:0{digits}d}"


def parse_plain(text: str, digits: int) -> int:
    """Return the value of exactly `digits` digits, the inverse of `format_plain`.

    Raises:
        ValueError: for anything else.
    """
    if not re.fullmatch(rf"\d{{{digits}}}", text, re.ASCII):
        raise ValueError(f"{text!r} is not exactly {digits} digits")
    return int(text)


def format_dated(n: int, scope: str, digits: int = 4) -> str:
    """Return value `n` of the period `scope` as `YYYYMMDD-NNNN` (daily scope `2024-11-03`) or `YYYY-NNNN` (yearly
    scope `2024`): seed 001's `PAT-20241103-0001` without its prefix.

    Raises:
        SequenceExhausted: when `n` needs more than `digits` digits (the 10,000th number of a day with 4 digits),
            naming the period.
        ValueError: when `scope` is not a daily or yearly scope, or `n` is negative.
    """
    if not re.fullmatch(r"\d{4}(-\d{2}-\d{2})?", scope, re.ASCII):
        raise ValueError(f"{scope!r} is not a daily (YYYY-MM-DD) or yearly (YYYY) scope")
    if n >= 10**digits:
        raise SequenceExhausted(f"No {digits}-digit number is left for {scope} (value {n}).")
    return f"{scope.replace('-', '')}-{format_plain(n, digits)}"


def parse_dated(text: str, digits: int = 4) -> tuple[int, str]:
    """Return `(value, scope)` of `YYYYMMDD-NNNN` or `YYYY-NNNN` text, the inverse of `format_dated`.

    Raises:
        ValueError: when the text does not have that shape or the date does not exist (`20240230`).
    """
    match = re.fullmatch(rf"(\d{{8}}|\d{{4}})-(\d{{{digits}}})", text, re.ASCII)
    if not match:
        raise ValueError(f"{text!r} is not YYYYMMDD-{'N' * digits} or YYYY-{'N' * digits}")
    period = match[1]
    if len(period) == 8:
        try:
            period = datetime.datetime.strptime(period, "%Y%m%d").date().isoformat()
        except ValueError:
            raise ValueError(f"{match[1]!r} is not a date") from None
    return int(match[2]), period


def check_scope(scope: str) -> str:
    """Return `scope` when it can be a caller's scope (SCOPE_PATTERN), e.g. `GEN-20261202`.

    Raises:
        ValueError: for anything else (empty, too long, other characters, a `-` at either end).
    """
    if not isinstance(scope, str) or not _SCOPE_RE.fullmatch(scope):
        raise ValueError(f"{scope!r} is not a scope matching {SCOPE_PATTERN}")
    return scope


def format_scoped(n: int, scope: str, digits: int = 4) -> str:
    """Return value `n` of the caller's scope `scope` as `<scope>-<N...>`: 17, `GEN-20261202` ->
    `GEN-20261202-0017`.

    Raises:
        SequenceExhausted: when `n` needs more than `digits` digits, naming the scope.
        ValueError: when `scope` does not match SCOPE_PATTERN, or `n` is negative.
    """
    check_scope(scope)
    if n >= 10**digits:
        raise SequenceExhausted(f"No {digits}-digit number is left in {scope} (value {n}).")
    return f"{scope}-{format_plain(n, digits)}"


def parse_scoped(text: str, digits: int = 4) -> tuple[int, str]:
    """Return `(value, scope)` of `<scope>-<N...>` text, the inverse of `format_scoped`: the number is the part after
    the last `-`, the scope everything before it.

    Raises:
        ValueError: when the text does not have that shape.
    """
    scope, _, number = text.rpartition("-")
    return parse_plain(number, digits), check_scope(scope)


def scope_of(period: str, day: datetime.date) -> str:
    """The counter scope holding numbers issued on `day` (a day in the hospital's time zone):
    `""` for never, `"2024-11-03"` for daily, `"2024"` for yearly.

    Raises:
        ValueError: for `scoped`, whose scope only its caller knows.
    """
    if period == Period.SCOPED:
        raise ValueError("A scoped sequence's scope is named by its caller, not by the day.")
    return {Period.NEVER: "", Period.DAILY: day.isoformat(), Period.YEARLY: str(day.year)}[period]


def luhn_digit(text: str) -> str:
    """The Luhn mod-10 check digit of `text`'s letters and digits (other characters are skipped).

    Letters count as two digits, A=10 ... Z=35 (as `Character.getNumericValue`, used by OpenMRS idgen), so
    `INV-AAA0001` is checked over 1023181010100001.
    """
    digits = "".join(str(int(char, 36)) for char in text if char.isalnum())
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str(-total % 10)


@dataclass(frozen=True)
class IdFormat:
    """The id format of one sequence: its kind, prefix, number width, reset period and optional check digit.

    An id is `[PREFIX-]BODY[CHECK]`, BODY being the kind's format of the value; e.g. `INV-AAA0001`,
    `PAT-20241103-0001`, `001-00-001`, `INV-AAA00014` (with a Luhn check digit).
    """

    kind: str
    prefix: str = ""
    digits: int = 4
    period: str = Period.NEVER
    check_digit: bool = False

    @property
    def last_value(self) -> int:
        """The largest value this format can show (per scope period)."""
        if self.kind == Kind.GROUPED:
            return GROUPED_LAST
        if self.kind == Kind.LETTER_NUMBER:
            return letter_number_last(self.digits)
        return 10**self.digits - 1

    @property
    def pattern(self) -> str:
        """What an id looks like, for error messages: e.g. `INV-AAA0001 (INV-, 3-5 letters, 4 digits)`."""
        head = f"{self.prefix}-" if self.prefix else ""
        tail = " and a check digit" if self.check_digit else ""
        number = "N" * self.digits
        shapes = {
            Kind.GROUPED: f"{head}NNN-NN-NNN (3-2-3 digits{tail})",
            Kind.LETTER_NUMBER: f"{head}AAA{number} (3-5 capital letters and {self.digits} digits{tail})",
            Kind.DATED: f"{head}{'YYYYMMDD' if self.period == Period.DAILY else 'YYYY'}-{number} "
            f"({self.digits} digits{tail})",
            Kind.PLAIN: f"{head}{'SCOPE-' if self.period == Period.SCOPED else ''}{number} "
            f"({self.digits} digits{tail})",
        }
        return shapes[self.kind]

    @property
    def regex(self) -> str:
        """A regular expression of this format's ids, the same in Python and JavaScript (for browsers checking
        input as it is typed): e.g. `^PAT-\\d{8}-\\d{4}$`; GROUPED_PATTERN for a grouped format without prefix."""
        number = rf"\d{{{self.digits}}}"
        bodies = {
            Kind.GROUPED: GROUPED_PATTERN[1:-1],
            Kind.LETTER_NUMBER: rf"[A-Z]{{{LETTER_COUNTS[0]},{LETTER_COUNTS[-1]}}}{number}",
            Kind.DATED: (r"\d{8}-" if self.period == Period.DAILY else r"\d{4}-") + number,
            Kind.PLAIN: (SCOPE_PATTERN[1:-1] + "-" if self.period == Period.SCOPED else "") + number,
        }
        head = f"{self.prefix}-" if self.prefix else ""  # prefixes are capital letters and digits: nothing to escape
        check = r"\d" if self.check_digit else ""
        return f"^{head}{bodies[self.kind]}{check}$"

    def render(self, value: int, scope: str = "") -> str:
        """Return the id of `value` in the period `scope` (see `scope_of`; a scoped format's caller's scope).

        Raises:
            SequenceExhausted: when the value is past what the format can show.
            ValueError: a scoped format's `scope` is not a valid scope (SCOPE_PATTERN).
        """
        if self.kind == Kind.GROUPED:
            body = format_grouped(value)
        elif self.kind == Kind.LETTER_NUMBER:
            body = format_letter_number(value, self.digits)
        elif self.kind == Kind.DATED:
            body = format_dated(value, scope, self.digits)
        elif self.period == Period.SCOPED:
            body = format_scoped(value, scope, self.digits)
        else:
            body = format_plain(value, self.digits)
        text = f"{self.prefix}-{body}" if self.prefix else body
        return text + luhn_digit(text) if self.check_digit else text

    def parse(self, text: str) -> tuple[int, str]:
        """Return `(value, scope)` of an id in this format, the inverse of `render`.

        Raises:
            InvalidId: when `text` is not in this format (the message gives the expected pattern) or its check digit
                is wrong. Nothing is guessed or corrected.
        """
        try:
            return self._parse(text)
        except ValueError as exc:
            raise InvalidId(f"{text!r} is not an id of the form {self.pattern}: {exc}.") from None

    def _parse(self, text: str) -> tuple[int, str]:
        if self.check_digit:
            text, check = text[:-1], text[-1:]
            if check != luhn_digit(text):
                raise ValueError("the check digit is wrong")
        if self.prefix:
            head = f"{self.prefix}-"
            if not text.startswith(head):
                raise ValueError(f"it does not start with {head}")
            text = text[len(head):]
        if self.kind == Kind.GROUPED:
            return parse_grouped(text), ""
        if self.kind == Kind.LETTER_NUMBER:
            return parse_letter_number(text, self.digits), ""
        if self.kind == Kind.DATED:
            value, scope = parse_dated(text, self.digits)
            if (len(scope) == 4) != (self.period == Period.YEARLY):
                raise ValueError(f"the period does not match a {self.period} sequence")
            return value, scope
        if self.period == Period.SCOPED:
            return parse_scoped(text, self.digits)
        return parse_plain(text, self.digits), ""
