"""QR codes for token slips, drawn by segno as inline SVG (no image files, prints sharp)."""

import datetime

import segno


def svg(token: str, visit_date: datetime.date) -> str:
    """An inline `<svg>` QR code holding `"<token> <date>"`, e.g. `"GEN-001 2026-11-25"`, for scanning at a desk."""
    return segno.make(f"{token} {visit_date.isoformat()}", error="m").svg_inline(omitsize=True)
