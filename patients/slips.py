"""The registration slip: the MRN as a Code 128 barcode and a QR code, with the patient's particulars.

One `Slip` of data, three renderings: HTML for the reception printer (templates/patients/slip.html, using
`barcode_svg` and `qr_svg`), a standalone SVG and a PDF for terminals (`GET /api/v1/patients/{id}/slip/`).
Each is laid out for 80 mm thermal paper, A4 or A5.
"""

import io
import re
from dataclasses import dataclass
from datetime import date

import barcode
from barcode.writer import SVGWriter
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import code128, qr
from reportlab.graphics.shapes import Drawing
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from core import qr as standard_qr
from core.text import printable
from patients.models import Patient

THERMAL, A4_PAPER, A5_PAPER = "80mm", "a4", "a5"
# paper -> (page width, page height) in millimetres; the thermal roll is cut after the slip. The HTML slip's
# `@page { size: <width>mm <height>mm }` comes from here too (`size: 80mm auto` is not valid CSS: it printed on Letter).
PAPERS = {THERMAL: (80, 110), A4_PAPER: (210, 297), A5_PAPER: (148, 210)}
# Module (narrowest bar) of 0.33 mm: wide enough for a thermal printer's 203 dpi and a handheld scanner.
# How the father's name is introduced on a slip, by the patient's sex (M/F); anything else gets both.
RELATION = {"M": "s/o", "F": "d/o"}
BARCODE_OPTIONS = {"module_width": 0.33, "module_height": 12, "quiet_zone": 3, "font_size": 0, "write_text": False}


@dataclass(frozen=True)
class Slip:
    """What a slip shows. `age_sex` like `34 y / F`; `registered_on` the day in the hospital's time zone."""

    hospital: str
    mrn: str
    full_name: str
    father_name: str
    age_sex: str
    registered_on: date
    sex: str = ""

    @property
    def father_line(self) -> str:
        """`s/o Imran Khan` for a man, `d/o ...` for a woman, `s/o, d/o ...` when the sex is not M or F; "" without
        a father's name."""
        if not self.father_name:
            return ""
        return f"{RELATION.get(self.sex, 's/o, d/o')} {self.father_name}"

    @classmethod
    def of(cls, patient: Patient) -> "Slip":
        """The slip of `patient`, with the hospital name from the HOSPITAL_NAME setting. Text passes through
        core.text.printable, so every rendering is well-formed (XML allows no control characters, not even escaped)
        whatever was stored: a refused character prints as U+FFFD."""
        age = age_label(patient.dob, timezone.localdate()) if patient.dob else ""
        if age and patient.dob_estimated:
            age = f"~{age}"  # worked out from an age the patient gave
        return cls(
            hospital=printable(settings.HOSPITAL_NAME),
            mrn=patient.mrn,
            full_name=printable(patient.full_name),
            father_name=printable(patient.father_name),
            age_sex=" / ".join(part for part in (age, patient.sex) if part),
            registered_on=timezone.localdate(patient.created_at),
            sex=patient.sex,
        )


def age_label(dob: date, today: date) -> str:
    """Age on `today` as printed on slips: whole years (`34 y`), or months below one year (`7 mo`)."""
    months = (today.year - dob.year) * 12 + today.month - dob.month - (today.day < dob.day)
    return f"{months // 12} y" if months >= 12 else f"{max(months, 0)} mo"


def barcode_svg(mrn: str) -> str:
    """The MRN as a Code 128 barcode: an `<svg>` element (sizes in mm) to put inside HTML or another SVG."""
    out = io.BytesIO()
    barcode.get("code128", mrn, writer=SVGWriter()).write(out, options=BARCODE_OPTIONS)
    return _element(out.getvalue().decode())


def qr_svg(mrn: str) -> str:
    """The MRN as a QR code: an `<svg>` element, 20 mm square."""
    svg = standard_qr.svg(mrn, border=1)  # the slip's blank margin completes the quiet zone
    return svg.replace("<svg ", '<svg width="20mm" height="20mm" ', 1)


def _element(document: str) -> str:
    """An SVG document without its XML declaration and doctype, ready to nest."""
    return document[document.index("<svg") :]


def render_svg(slip: Slip, paper: str) -> str:
    """A standalone SVG document of the slip on `paper` (a PAPERS key)."""
    width, height = PAPERS[paper]
    return render_to_string(
        "patients/slip.svg",
        {
            "slip": slip,
            "width": width,
            "height": height,
            "barcode": _in_user_units(barcode_svg(slip.mrn)),
            "qr": _in_user_units(qr_svg(slip.mrn)),
        },
    )


def _in_user_units(svg: str) -> str:
    """Drop `mm` from lengths: inside the slip's SVG one user unit already is a millimetre (its viewBox)."""
    return re.sub(r'="(-?[\d.]+)mm"', r'="\1"', svg)


def render_pdf(slip: Slip, paper: str) -> bytes:
    """A one-page PDF of the slip on `paper` (a PAPERS key), drawn with reportlab's own Code 128 and QR."""
    width, height = PAPERS[paper]
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=(width * mm, height * mm))
    page.setTitle(f"Registration slip {slip.mrn}")
    left, y = 5 * mm, height * mm - 10 * mm
    lines = [
        ("Helvetica-Bold", 11, slip.hospital),
        ("Courier-Bold", 20, slip.mrn),
        ("Helvetica-Bold", 12, slip.full_name),
        ("Helvetica", 10, slip.father_line),
        ("Helvetica", 10, slip.age_sex),
        ("Helvetica", 10, f"Registered {slip.registered_on:%d %b %Y}"),
    ]
    for font, size, text in lines:
        if text:
            page.setFont(font, size)
            page.drawString(left, y, text)
            y -= size * 1.5
    bars = code128.Code128(slip.mrn, barWidth=BARCODE_OPTIONS["module_width"] * mm, barHeight=12 * mm)
    y -= bars.height
    bars.drawOn(page, left, y)
    code = qr.QrCodeWidget(slip.mrn, barWidth=20 * mm, barHeight=20 * mm)
    drawing = Drawing(20 * mm, 20 * mm)
    drawing.add(code)
    renderPDF.draw(drawing, page, left, y - 23 * mm)
    page.showPage()
    page.save()
    return out.getvalue()
