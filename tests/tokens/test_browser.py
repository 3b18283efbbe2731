"""In a real browser: reception books a token and prints its slip; the report draws its three charts."""

import contextlib
import os

import pytest

from tests.conftest import make_user
from tests.tokens.conftest import at, make_patients, make_slot
from tokens import services
from tokens.models import Category

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]


@contextlib.contextmanager
def reception_page(live_server):
    """A browser page logged in as a reception user. Open it after the test's database work: while Playwright's
    event loop runs, Django would give the test thread a second connection that outlives the test."""
    from playwright.sync_api import sync_playwright

    make_user("desk7", "reception")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync"],
        )
        page = browser.new_page()
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "desk7")
        page.fill("input[name=password]", "pw-desk7")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        yield page
        browser.close()


def test_reception_books_a_token_and_sees_its_slip(live_server):
    make_slot(services.create_doctor(name="Dr. Browser", specialization="ENT"), at(10), capacity=4)
    (patient,) = make_patients(1)
    with reception_page(live_server) as page:
        page.goto(f"{live_server.url}/opd/book/?day={at(10).date()}")
        page.check("input[name=slot]")
        page.fill("input[name=patient]", patient.mrn)
        page.select_option("select[name=category]", "FOLLOWUP")
        page.click("text=Book token")
        assert page.text_content("[data-testid=token-number]").strip() == "1"
        assert page.text_content("[data-testid=estimated-time]").strip() == "10:00"


def test_the_report_draws_its_charts(live_server):
    slot = make_slot(services.create_doctor(name="Dr. Chart"), at(9))
    for patient, category in zip(make_patients(3), [Category.ONLINE, Category.WALKIN, Category.EMERGENCY]):
        services.book_token(slot_id=slot.pk, patient=patient, category=category)
    with reception_page(live_server) as page:
        page.goto(f"{live_server.url}/opd/report/?date={at(9).date()}")
        drawn = page.evaluate(
            "['chart-hours', 'chart-categories', 'chart-utilisation']"
            ".map(id => Chart.getChart(document.getElementById(id)).data.datasets[0].data)"
        )
    assert drawn == [[3], [1, 0, 0, 1, 1], [20]]
