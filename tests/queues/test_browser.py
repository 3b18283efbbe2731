"""In a real browser (Debian chromium through Playwright): a desk calls next and an open board shows it in 2 s."""

import time

import pytest
from django.test import Client
from playwright.sync_api import sync_playwright

from queues import services
from queues.views import board_key
from tests.queues.conftest import make_desk, make_patients

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
]


@pytest.mark.django_db(transaction=True)
def test_a_desk_calls_next_and_the_open_board_shows_the_token_within_2_seconds(live_server, general, asst):
    desk = make_desk("Room 1", general)
    for patient in make_patients(2):
        services.issue_visit(patient=patient, queue=general)
    client = Client()
    client.force_login(asst)
    session = client.cookies["sessionid"].value
    board_url = f"{live_server.url}/board/?queues=GEN&key={board_key()}"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
            board = context.new_page()
            board.goto(board_url)
            assert board.locator("[data-testid=called-token]").count() == 0
            # The board polls: an unchanged board answers 304 and keeps what it shows.
            with board.expect_response(lambda r: "/board/panel/" in r.url and r.status == 304, timeout=5000):
                pass
            assert board.locator(".next li.token").all_inner_texts() == ["GEN-001", "GEN-002"]

            desk_page = context.new_page()
            desk_page.goto(f"{live_server.url}/queues/desks/{desk.pk}/")
            with desk_page.expect_navigation():  # the call is a form POST, answered with the desk page again
                desk_page.click("[data-testid=call-next]")
            assert desk_page.locator("[data-testid=current-token]").inner_text(timeout=10_000).strip() == "GEN-001", (
                desk_page.content()[-3000:]
            )
            called_at = time.monotonic()
            board.wait_for_selector("[data-testid=called-token]:has-text('GEN-001')", timeout=2000)
            assert time.monotonic() - called_at < 2
            assert board.locator(".next li.token").all_inner_texts() == ["GEN-002"]
            assert board.evaluate("document.body.dataset.chimes") == "1"
        finally:
            browser.close()
