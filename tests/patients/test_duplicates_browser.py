"""In real chromium: the desk's duplicate hint appears while typing, and ops merge a pair from the worklist, in
Urdu."""

import datetime
import shutil
import time

import pytest
from django.conf import settings
from playwright.sync_api import expect

from patients import worklist
from patients.services import register_patient
from tests.conftest import CHROMIUM, browser_context, make_user

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian chromium is not installed")


@pytest.mark.django_db(transaction=True)
def test_the_desk_hint_names_the_registered_patient_while_typing(live_server):
    known = register_patient(full_name="Muhammad Ali Khan", father_name="Muhammad Aslam",
                             dob=datetime.date(1980, 5, 1), sex="M")
    user = make_user("desk7", "reception")
    with browser_context(live_server, user) as context:
        page = context.new_page()
        page.goto("/patients/register/")
        page.fill("#id_full_name", "Mohd Ali Kahn")
        page.fill("#id_father_name", "Muhammad Aslam")
        started = time.monotonic()
        page.fill("#id_dob", "01/05/1980")
        hint = page.get_by_test_id("likely-duplicates")
        expect(hint).to_contain_text(known.mrn)
        expect(hint).to_contain_text("same date of birth")
        print(f"\nhint shown {time.monotonic() - started:.2f} s after the last key (150 ms of it the pause)")
        assert not context.blocked


@pytest.mark.django_db(transaction=True)
def test_ops_merge_a_pair_from_the_worklist_in_urdu(live_server):
    first = register_patient(full_name="Ayesha Bibi", father_name="Ghulam Hussain", phone="0345-1111111",
                             dob=datetime.date(1990, 3, 3))
    second = register_patient(full_name="Aisha Bibi", father_name="Ghulam Husain", phone="0345 1111111",
                              dob=datetime.date(1990, 3, 3))
    worklist.queue_pairs_for(second, source=worklist.SCAN)
    user = make_user("ops7", "ops")
    with browser_context(live_server, user) as context:
        context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "ur", "url": live_server.url}])
        page = context.new_page()
        page.goto("/patients/duplicates/")
        expect(page.locator("h1")).to_have_text("ممکنہ دہرے اندراج")
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        page.get_by_test_id("duplicates").locator("a").first.click()
        expect(page.get_by_test_id("side-by-side")).to_contain_text("Aisha Bibi")
        page.locator(f"input[name=survivor][value='{first.pk}']").check()
        page.fill("#id_reason", "same father, phone and date of birth")
        page.get_by_test_id("merge").click()
        expect(page.locator(".messages")).to_contain_text(f"{second.mrn} کو {first.mrn} میں ملا دیا گیا")  # in Urdu
        expect(page.get_by_test_id("duplicates")).not_to_contain_text(second.mrn)
        page.goto(f"/patients/?q={second.mrn}")
        expect(page.locator("table.list")).to_contain_text(first.mrn)
        assert not context.blocked
