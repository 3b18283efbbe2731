"""QR codes for printed slips, drawn by segno as inline SVG (no image files, prints sharp at any dpi)."""

import segno


def svg(data: str, *, border: int = 4) -> str:
    """`data` as a standard QR code (never a Micro QR: phone cameras and common decoders do not read those), error
    correction M (15 % of the code may be smudged), as an inline `<svg>` element without a size (the page sets it).

    `border` is the quiet zone in modules: the QR standard asks for 4; 1 still scans where the slip's margin around
    the code is blank. Raises segno.DataOverflowError for data too long for any QR version (never for slips' data).
    """
    return segno.make_qr(data, error="m").svg_inline(omitsize=True, border=border)
