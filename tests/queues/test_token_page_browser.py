"""In a real browser: the QR decoded from a printed visit slip opens the patient's token page with no login, which
follows the visit from waiting to called by itself, switches to Urdu, loads nothing from outside and stays under
50 KB transferred."""

import os
import threading

import pytest
from django.db import connection

from queues import services
from queues.models import Visit
from tests.conftest import CHROMIUM, browser_context
from tests.patients.test_slip_print import decoded_at_203_dpi
from tests.queues.conftest import make_desk, make_patients

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]
PAGE_BUDGET = 50 * 1024  # bytes transferred (headers and bodies) to open the page: a cheap phone on a slow line


def in_thread(work) -> None:
    """Run `work` (a desk's action) in its own thread and connection, as another user's request would, while the
    browser runs in this one."""
    def run():
        try:
            work()
        finally:
            connection.close()
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def slip_links(live_server, user, path: str) -> list[str]:
    """The links in the QR codes zxing-cpp reads on the slip at `path`, printed at 203 dpi."""
    with browser_context(live_server, user, device_scale_factor=203 / 96) as context:
        page = context.new_page()
        page.emulate_media(media="print")
        codes = decoded_at_203_dpi(page, path)
    return [text for kind, text in codes if kind == "QR Code" and text.startswith("http")]


def test_the_slip_qr_opens_a_small_token_page_that_follows_the_visit_until_called(live_server, general, asst):
    desk = make_desk("Room 2", general)
    first, second = (services.issue_visit(patient=p, queue=general) for p in make_patients(2))
    (link,) = slip_links(live_server, asst, f"/queues/visits/{second.pk}/slip/")
    assert link.startswith(f"{live_server.url}/t/")

    with browser_context(live_server) as context:  # the patient's phone: no login
        page = context.new_page()
        finished = []
        page.on("requestfinished", lambda request: finished.append(request))
        statuses = []  # chromium reports a fetch's 304 as a failed request, so its answers are listed here
        page.on("response", lambda response: statuses.append((response.url, response.status)))
        page.goto(link)
        page.wait_for_load_state("load")
        loaded = sum(r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"] for r in finished)
        assert loaded < PAGE_BUDGET, [(r.url, r.sizes()) for r in finished]
        assert page.inner_text("[data-testid=token]") == "GEN-002"
        assert page.inner_text("[data-testid=position]") == "2"
        assert second.patient.full_name not in page.content()

        page.wait_for_timeout(5500)  # one poll: nothing changed, so a 304 with no body (the page knew the ETag)
        assert (f"{link}panel/", 304) in statuses, statuses
        in_thread(lambda: services.call_next(desk=desk))  # GEN-001: GEN-002 is next
        page.wait_for_selector("[data-testid=position]:text-is('1')", timeout=12_000)
        in_thread(lambda: services.mark_no_show(visit=Visit.objects.get(pk=first.pk)))  # GEN-001 never came
        in_thread(lambda: services.call_next(desk=desk))  # GEN-002 called to Room 2
        page.wait_for_selector("[data-testid=called]:has-text('Called: go to Room 2')", timeout=12_000)

        page.click("[data-testid=language]")
        page.wait_for_selector("html[lang=ur][dir=rtl] [data-testid=called]:has-text('کمرہ 2')")
        assert not context.blocked
