"""In a real browser: the QR decoded from a printed OPD token slip opens the patient's token page, which the
entrance's QR opens again on that phone, and whose "I am here" checks the token in; after the slot and the grace the automatic no-show ends the token that never came (its page
says so by itself), promotes the waiting list, and the doctor's room shows both."""

import datetime
import os

import pytest
import time_machine

from tests.conftest import CHROMIUM, browser_context, make_user
from tests.queues.test_token_page_browser import PAGE_BUDGET, in_thread, slip_links
from tests.tokens.conftest import at, make_patients, make_slot
from tokens import services
from tokens.models import Category, Token, WaitingListEntry
from tokens.views import my_token_link

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]


def test_check_in_by_qr_then_the_automatic_no_show_promotes_the_waiting_list(live_server, settings):
    settings.OPD_CHECK_IN_GRACE_MINUTES = 15
    desk = make_user("desk", "reception")
    with time_machine.travel(at(9, 50, days=0), tick=True):  # today 09:50 in the hospital; the clock runs on
        doctor = services.create_doctor(name="Dr. Sana Mirza", specialization="Medicine")
        slot = make_slot(doctor, at(10, days=0), capacity=2)
        arrives, stays_away, waits = make_patients(3)
        here, away = (services.book_token(slot_id=slot.pk, patient=p, category=Category.WALKIN)
                      for p in (arrives, stays_away))
        assert isinstance(services.book_token(slot_id=slot.pk, patient=waits, category=Category.WALKIN),
                          WaitingListEntry)
        (link,) = slip_links(live_server, desk, f"/opd/tokens/{here.pk}/")
        assert link == live_server.url + my_token_link(here)

        with browser_context(live_server) as phone:  # the patient's phone: no login
            page = phone.new_page()
            finished = []
            page.on("requestfinished", lambda request: finished.append(request))
            page.goto(link)
            page.wait_for_load_state("load")
            assert sum(r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"] for r in finished) < PAGE_BUDGET
            assert page.inner_text("[data-testid=token-number]") == "1"
            page.goto("/opd/here/")  # later, the QR at the entrance: back to this phone's token page
            assert page.url == link
            page.click("[data-testid=here]")
            page.wait_for_selector("[data-testid=checked-in]")
            page.goto(my_token_link(away))
            assert page.is_visible("[data-testid=here]")  # never pressed: this patient does not come
            in_thread(lambda: services.no_show_absent(now=slot.end_time + datetime.timedelta(minutes=15)))
            page.wait_for_selector("[data-testid=missed]", timeout=12_000)  # the page follows by itself
            assert not phone.blocked

        with browser_context(live_server, desk) as reception:
            room = reception.new_page()
            room.goto(f"/opd/room/{doctor.pk}/?slot={slot.pk}")
            rows = room.locator("[data-testid=room-queue] tbody tr").all_inner_texts()
    assert Token.objects.get(pk=here.pk).checked_in_at is not None
    assert Token.objects.get(pk=here.pk).status == Token.Status.CONFIRMED
    assert Token.objects.get(pk=away.pk).status == Token.Status.NO_SHOW
    promoted = Token.objects.get(slot=slot, patient=waits)
    assert promoted.token_number == 3 and not WaitingListEntry.objects.exists()
    assert any(stays_away.full_name in row and "No-show" in row for row in rows), rows
    assert any(waits.full_name in row and "Not arrived" in row for row in rows), rows
    assert any(arrives.full_name in row and "Here" in row for row in rows), rows
