"""Calls that other apps put on the waiting-room board (the doctor's room feeds the board).

The board belongs to queues, which may not import the apps beside it (tokens). An app whose calls belong on the
board registers a source here from its `AppConfig.ready()`; the board asks every source named in its URL.

A source has a name (`"opd"`), `calls(day) -> list[dict]`: its latest calls of `day` (hospital time zone), each
`{"token": str, "desk": str, "announced_at": aware datetime, "left": bool (optional: True for a call that left the
board, e.g. a no-show; it is not listed but keeps an older call from showing as "now calling")}`, newest first; and `version(day) -> str`, which
changes whenever those calls do (the board's ETag includes it).
"""

import datetime
from collections.abc import Callable

_sources: dict[str, tuple[Callable, Callable]] = {}


def register(name: str, *, calls: Callable[[datetime.date], list[dict]], version: Callable[[datetime.date], str]):
    """Add (or replace) the board source `name`."""
    _sources[name] = (calls, version)


def names() -> list[str]:
    """The registered sources' names, sorted."""
    return sorted(_sources)


def calls(sources: list[str], day: datetime.date) -> list[dict]:
    """The calls of the named sources on `day` (unknown names are ignored), in no particular order."""
    return [call for name in sources if name in _sources for call in _sources[name][0](day)]


def version(sources: list[str], day: datetime.date) -> str:
    """The named sources' versions on `day`, joined: part of the board's ETag."""
    return "|".join(_sources[name][1](day) for name in sources if name in _sources)


# Words of desk names read in Urdu on the board and the patient's token page ("Room 2" -> "کمرہ 2").
URDU_DESK_WORDS = {"room": "کمرہ", "counter": "کاؤنٹر", "dr.": "ڈاکٹر"}


def urdu_place(desk: str) -> str:
    """A desk's or doctor's name as the Urdu pages read it: known words translated, the rest (numbers, names) kept,
    e.g. `Room 2` -> `کمرہ 2`, `Dr. Sana Mirza` -> `ڈاکٹر Sana Mirza`."""
    return " ".join(URDU_DESK_WORDS.get(word.lower(), word) for word in desk.split())


def place_in_language(desk: str, language: str) -> str:
    """`desk` as a page in `language` (a language code: "ur", "en", ...) names it: `urdu_place` for Urdu."""
    return urdu_place(desk) if language == "ur" else desk
