"""In a real browser, each slip prints on an 80 mm receipt page with its MRN and token on one line.

Each slip is printed to PDF the way chromium prints it (the page's own @page size) and read back with pypdf.
"""

import io

import pytest
from pypdf import PdfReader

from patients.services import register_patient
from queues.models import Queue
from queues.services import issue_visit
from tests.conftest import CHROMIUM, browser_context, make_user
from tests.tokens.conftest import at, make_slot
from tokens import services as opd

pytestmark = [
    pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM), reason="Debian chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]
EIGHTY_MM_IN_POINTS = 80 / 25.4 * 72  # 226.77 pt


def printed(page, path: str) -> tuple[float, float, list[str]]:
    """(width pt, height pt, text lines) of the first page of `path` printed to PDF with the page's CSS size."""
    page.goto(path)
    reader = PdfReader(io.BytesIO(page.pdf(prefer_css_page_size=True, print_background=True)))
    first = reader.pages[0]
    lines = [line.strip() for line in first.extract_text().splitlines()]
    return float(first.mediabox.width), float(first.mediabox.height), lines


def test_each_slip_prints_80_mm_wide_with_mrn_and_token_on_one_line(live_server):
    user = make_user("printer", "reception")
    patient = register_patient(full_name="Muhammad Abdullah Siddiqui", father_name="Abdul Rehman", sex="M")
    visit = issue_visit(patient=patient, queue=Queue.objects.create(name="General OPD", code="GEN"))
    slot = make_slot(opd.create_doctor(name="Dr. Sana Mirza", specialization="Medicine"), at(10))
    token = opd.book_token(slot_id=slot.pk, patient=patient, category="WALKIN")
    with browser_context(live_server, user) as context:
        page = context.new_page()
        slips = {
            "registration": printed(page, f"/patients/{patient.pk}/slip/"),
            "visit token": printed(page, f"/queues/visits/{visit.pk}/slip/"),
            "OPD token": printed(page, f"/opd/tokens/{token.pk}/"),
        }
        card = printed(page, f"/patients/{patient.pk}/slip/?paper=a5")
        assert not context.blocked
    for name, (width, height, lines) in slips.items():
        assert width == pytest.approx(EIGHTY_MM_IN_POINTS, abs=0.5), name
        assert height < 600, name  # one receipt, not a Letter page
        assert any(patient.mrn in line for line in lines), (name, lines)
    assert any("GEN-001" in line for line in slips["visit token"][2])
    assert "s/o Abdul Rehman" in slips["registration"][2]
    assert card[:2] == pytest.approx((148 / 25.4 * 72, 210 / 25.4 * 72), abs=0.5)
