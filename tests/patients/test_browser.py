"""In a real browser (Debian's chromium through Playwright): the search box inserts the MRN's dashes as you type,
results update (htmx), the form refuses an old number before submitting, and the slip's barcode reads as the MRN."""

import contextlib
import shutil

import pytest
from django.test import Client
from playwright.sync_api import expect, sync_playwright

from patients.services import register_patient
from tests.patients.code128 import decode_svg

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian chromium is not installed")


@pytest.fixture
def open_page(live_server, carrier):
    """`open_page(path)`: a browser page logged in as a receptionist who may carry numbers over (session cookie
    from the test client).

    Call it after the test's own database work: Playwright's sync API runs an event loop in this thread, and ORM
    calls made while it runs would get a connection of their own that outlives the test.
    """
    client = Client()
    client.force_login(carrier)
    session = client.cookies["sessionid"].value
    with contextlib.ExitStack() as stack:

        def open_page(path: str):
            playwright = stack.enter_context(sync_playwright())
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            stack.callback(browser.close)
            context = browser.new_context(base_url=live_server.url)
            context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
            page = context.new_page()
            page.set_default_timeout(10_000)
            page.goto(path)
            return page

        yield open_page


@pytest.mark.django_db(transaction=True)
def test_typing_8_digits_in_the_search_box_inserts_the_dashes_and_finds_the_patient(open_page):
    register_patient(full_name="Other Patient")
    patient = register_patient(full_name="Ayesha Khan", mrn="001-23-456")
    page = open_page("/patients/")
    search = page.locator("#id_q")
    search.press_sequentially("00123456")
    assert search.input_value() == "001-23-456"
    expect(page.locator("#results tbody tr")).to_have_count(1)  # htmx replaced the list of both patients
    expect(page.locator("#results tbody tr")).to_contain_text(patient.full_name)
    search.fill("")
    search.press_sequentially("12-3")
    assert "12-3 is not an MRN" in page.locator(".mrn-error").text_content()


@pytest.mark.django_db(transaction=True)
def test_the_form_refuses_an_old_number_before_submitting(open_page):
    page = open_page("/patients/register/")
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.fill("#id_full_name", "Kashif Ali")
    page.locator("#id_mrn").press_sequentially("01-23-456")
    page.get_by_role("button", name="Register", exact=True).click()
    assert posts == []
    assert "this patient's number is 001-23-456" in page.locator(".mrn-error").text_content()


@pytest.mark.django_db(transaction=True)
def test_the_slip_opens_with_a_barcode_that_encodes_the_mrn(open_page):
    patient = register_patient(full_name="Ayesha Khan", father_name="Imran Khan", sex="F")
    page = open_page(f"/patients/{patient.pk}/registered/")
    with page.context.expect_page() as opened:
        page.click("[data-testid=print-slip]")
    slip = opened.value
    # The slip opens in a new tab and asks to print; headless chromium's print dialog returns at once.
    slip.wait_for_load_state()
    barcode = slip.locator("[data-testid=barcode] svg")
    assert barcode.is_visible()
    assert decode_svg(barcode.evaluate("svg => svg.outerHTML")) == patient.mrn
    assert slip.locator("[data-testid=slip-mrn]").text_content() == patient.mrn
