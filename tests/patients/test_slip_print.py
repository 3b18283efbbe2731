"""In a real browser, each slip prints on an 80 mm receipt page with its MRN and token on one line.

Each slip is printed to PDF the way chromium prints it (the page's own @page size) and read back with pypdf.
"""

import io

import pytest
from pypdf import PdfReader

from patients.services import register_patient
from queues.models import Queue
from queues.services import issue_visit
from queues.views import my_token_link
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


def three_slips():
    """A reception user and a patient with a visit token and an OPD token: (user, patient, visit, token)."""
    user = make_user("printer", "reception")
    patient = register_patient(full_name="Muhammad Abdullah Siddiqui", father_name="Abdul Rehman", sex="M")
    visit = issue_visit(patient=patient, queue=Queue.objects.create(name="General OPD", code="GEN"))
    slot = make_slot(opd.create_doctor(name="Dr. Sana Mirza", specialization="Medicine"), at(10))
    return user, patient, visit, opd.book_token(slot_id=slot.pk, patient=patient, category="WALKIN")


def test_each_slip_prints_80_mm_wide_with_mrn_and_token_on_one_line(live_server):
    user, patient, visit, token = three_slips()
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


def test_token_slips_are_cut_to_their_content(live_server):
    user, patient, visit, token = three_slips()
    with browser_context(live_server, user) as context:
        page = context.new_page()
        for path in (f"/queues/visits/{visit.pk}/slip/", f"/opd/tokens/{token.pk}/"):
            page.goto(path)
            page.wait_for_function("document.body.dataset.pageHeightMm")
            reader = PdfReader(io.BytesIO(page.pdf(prefer_css_page_size=True, print_background=True)))
            height_mm = float(reader.pages[0].mediabox.height) / 72 * 25.4
            assert len(reader.pages) == 1, path  # the whole slip on one page: the page is not cut too short
            # Not the 150 mm the fixed page size used; the OPD slip's facts and its 25 mm QR take about 120 mm.
            assert 40 < height_mm < 125, (path, height_mm)
            assert patient.mrn in reader.pages[0].extract_text()


def decoded_at_203_dpi(page, path: str) -> list[tuple[str, str]]:
    """(format, text) of each barcode zxing-cpp reads in the slip at `path` as a 203 dpi thermal printer prints it:
    the print styles, 203/96 device pixels per CSS pixel, black and white only."""
    import zxingcpp
    from PIL import Image

    page.goto(path)
    page.wait_for_load_state("load")
    image = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("L").point(lambda v: 255 if v > 128 else 0)
    return [(str(b.format), b.text) for b in zxingcpp.read_barcodes(image)]


def test_slips_print_standard_qr_codes_that_a_decoder_reads_at_203_dpi(live_server):
    user = make_user("printer", "reception")
    patient = register_patient(full_name="Bibi Jan", sex="F")
    visit = issue_visit(patient=patient, queue=Queue.objects.create(name="General OPD", code="GEN"))
    with browser_context(live_server, user, device_scale_factor=203 / 96) as context:
        page = context.new_page()
        page.emulate_media(media="print")
        registration = decoded_at_203_dpi(page, f"/patients/{patient.pk}/slip/")
        token = decoded_at_203_dpi(page, f"/queues/visits/{visit.pk}/slip/")
    assert ("QR Code", patient.mrn) in registration, registration  # read into the patient search by desks
    assert ("QR Code", live_server.url + my_token_link(visit)) in token, token  # the patient's token page
