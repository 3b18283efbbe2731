"""QR codes for token slips (core.qr: standard QR, inline SVG)."""

import datetime

from core import qr


def svg(token: str, visit_date: datetime.date) -> str:
    """An inline `<svg>` QR code holding `"<token> <date>"`, e.g. `"GEN-001 2026-11-25"`, for scanning at a desk."""
    return qr.svg(f"{token} {visit_date.isoformat()}")
