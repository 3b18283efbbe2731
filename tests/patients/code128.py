"""Read a Code 128 barcode back from the SVG bars python-barcode draws: tests check what a scanner would read."""

import re

from barcode.charsets.code128 import CODES, STOP

START_B, START_C, TO_C, TO_B = 104, 105, 99, 100  # start codes; switches to code set C / B


def decode_svg(svg: str) -> str:
    """The text encoded by the black `<rect>` bars of `svg` (code sets B and C; the checksum is verified)."""
    bars = [
        (float(x), float(width))
        for x, width in re.findall(r'<rect x="([\d.]+)(?:mm)?" y="[^"]*" width="([\d.]+)(?:mm)?"[^>]*fill:black', svg)
    ]
    module = min(width for _, width in bars)
    start = bars[0][0]
    length = round((bars[-1][0] + bars[-1][1] - start) / module)
    bits = ["0"] * length
    for x, width in bars:
        first = round((x - start) / module)
        for i in range(first, first + round(width / module)):
            bits[i] = "1"
    bits = "".join(bits)
    assert bits.endswith(STOP + "11"), "no stop pattern"
    values = [CODES.index(bits[i : i + 11]) for i in range(0, len(bits) - 13, 11)]
    *symbols, checksum = values
    assert checksum == (symbols[0] + sum(i * v for i, v in enumerate(symbols[1:], 1))) % 103, "bad checksum"
    code_set, text = symbols[0], []
    for value in symbols[1:]:
        if code_set == START_C and value < 100:
            text.append(f"{value:02d}")
        elif code_set == START_C and value == TO_B:
            code_set = START_B
        elif code_set == START_B and value == TO_C:
            code_set = START_C
        elif code_set == START_B and value < 95:
            text.append(chr(value + 32))
        else:
            raise AssertionError(f"symbol {value} is not used for MRNs (code set {code_set})")
    return "".join(text)
