"""The reception pages in Urdu, right to left, with a Nastaliq font served by this server."""

import os

import pytest
from django.conf import settings
from django.test import Client

from patients.services import register_patient
from tests.conftest import CHROMIUM, browser_context, make_user


def urdu(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ur"
    return client


def test_the_reception_pages_speak_urdu_right_to_left(desk):
    patient = register_patient(full_name="Bibi Jan", father_name="Gul Khan", sex="F")
    pages = {
        "/patients/register/": "مریض کا اندراج",
        f"/patients/{patient.pk}/": "تفصیلات درست کریں",
        "/opd/book/": "او پی ڈی ٹوکن بک کریں",
        f"/patients/{patient.pk}/slip/": "اندراج",
    }
    for path, text in pages.items():
        html = urdu(desk).get(path).content.decode()
        assert 'lang="ur" dir="rtl"' in html and text in html, path
        assert "urdu-font.css" in html
    english = Client()
    english.force_login(make_user("en", "reception"))
    assert 'lang="en" dir="ltr"' in english.get("/patients/register/").content.decode()


def test_the_form_labels_and_sex_choices_are_translated(desk):
    html = urdu(desk).get("/patients/register/").content.decode()
    assert "پورا نام" in html and ">عورت<" in html and "تاریخ پیدائش یا عمر" in html


def test_the_language_switch_remembers_the_choice(desk):
    response = desk.post("/i18n/setlang/", {"language": "ur", "next": "/patients/register/"})
    assert response.status_code == 302 and response.url == "/patients/register/"
    assert 'dir="rtl"' in desk.get("/patients/register/").content.decode()
    desk.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert 'dir="ltr"' in desk.get("/patients/register/").content.decode()


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")
@pytest.mark.django_db(transaction=True)
def test_switching_to_urdu_in_the_browser_lays_the_page_out_right_to_left_in_nastaliq(live_server):
    user = make_user("urdu", "reception")
    with browser_context(live_server, user) as context:
        page = context.new_page()
        fonts = []
        page.on("response", lambda r: fonts.append((r.url, r.status)) if r.url.endswith(".woff2") else None)
        page.goto("/patients/register/")
        page.click("[data-testid=language]")
        page.wait_for_selector("html[dir=rtl]")
        heading = page.text_content("h1")
        direction = page.evaluate("getComputedStyle(document.body).direction")
        fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # nothing pushed off
        page.wait_for_function("document.fonts.check('16px \"Noto Nastaliq Urdu\"', 'مریض')")
        loaded = page.evaluate("document.fonts.status")
        assert not context.blocked
    assert heading == "مریض کا اندراج" and direction == "rtl" and loaded == "loaded" and fits
    assert fonts and all(url.startswith(live_server.url + "/static/fonts/") and status == 200 for url, status in fonts)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")
@pytest.mark.django_db(transaction=True)
def test_the_urdu_slip_prints_age_and_sex_in_reading_order(live_server):
    user = make_user("urdu", "reception")
    patient = register_patient(full_name="Bibi Jan", sex="M", dob=None)
    patient.dob, patient.dob_estimated = patient.created_at.date().replace(year=patient.created_at.year - 35), True
    patient.save(update_fields=["dob", "dob_estimated"])
    with browser_context(live_server, user) as context:
        context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "ur", "url": live_server.url}])
        page = context.new_page()
        page.goto(f"/patients/{patient.pk}/slip/")
        assert page.evaluate("document.documentElement.dir") == "rtl"
        # Left to right inside the right-to-left slip: "~35 y / M", never "y / M 35~". The "~" is drawn left of "M".
        text = page.locator("[data-testid=age-sex] bdi")
        assert text.inner_text() == "~35 y / M"
        tilde_left_of_sex = page.evaluate("""(() => {
            const node = document.querySelector("[data-testid=age-sex] bdi").firstChild, range = document.createRange();
            const box = (i) => { range.setStart(node, i); range.setEnd(node, i + 1); return range.getBoundingClientRect().left; };
            return box(0) < box(node.length - 1);
        })()""")
        assert tilde_left_of_sex
