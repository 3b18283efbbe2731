"""In a real browser: the board announces only real calls (a no-show, transfer, cancel, start or recall never makes
an older call speak again) and fits landscape, portrait and phone-sized screens."""

import os

import pytest
from django.test import Client

from queues import services
from queues.views import board_key
from tests.conftest import CHROMIUM, browser_context, press_shortcut
from tests.queues.conftest import make_desk, make_patients

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")

ANNOUNCED = "window.tokenlineBoard.announcements.slice()"


def serve_one(desk):
    visit = services.call_next(desk=desk)
    services.start_visit(visit=visit)
    return services.complete_visit(visit=visit)


def settle(board, desk_page, selector: str) -> None:
    """Wait until the desk page shows the step's message and the board shows `selector` (the board polls every
    second, so two polls have passed when it appears after the change)."""
    desk_page.wait_for_selector(".messages")
    board.wait_for_selector(selector, timeout=3000)
    board.wait_for_timeout(1500)  # two more polls: any announcement would have happened by now


@pytest.mark.django_db(transaction=True)
def test_after_a_no_show_transfer_cancel_or_recall_the_board_announces_nothing(live_server, general, lab, asst):
    desk = make_desk("Room 1", general)
    for patient in make_patients(6):
        services.issue_visit(patient=patient, queue=general)
    serve_one(desk)  # GEN-001 completed before the board opens
    with browser_context(live_server, asst, viewport={"width": 1920, "height": 1080}) as context:
        board = context.new_page()
        board.goto(f"/board/?queues=GEN&key={board_key()}")
        board.wait_for_load_state("load")
        desk_page = context.new_page()
        desk_page.on("dialog", lambda dialog: dialog.accept())
        desk_page.goto(f"/queues/desks/{desk.pk}/")

        press_shortcut(desk_page, "n")  # GEN-002: a real call
        settle(board, desk_page, ".now [data-testid=called-token]:has-text('GEN-002')")
        press_shortcut(desk_page, "s")  # start: nothing new to say
        settle(board, desk_page, ".now [data-testid=called-token]:has-text('GEN-002')")
        press_shortcut(desk_page, "c")
        settle(board, desk_page, ".now [data-testid=called-token]:has-text('GEN-002')")
        assert board.evaluate(ANNOUNCED) == ["Token GEN 2, Room 1"]

        press_shortcut(desk_page, "n")  # GEN-003, then no-show: GEN-002 is not "now calling" again
        settle(board, desk_page, ".now [data-testid=called-token]:has-text('GEN-003')")
        desk_page.click("[data-testid=no-show-GEN-003]")
        settle(board, desk_page, ".now .quiet")
        assert board.locator("[data-testid=recent-calls] [data-testid=called-token]").all_inner_texts() == [
            "GEN-002", "GEN-001"]

        press_shortcut(desk_page, "n")  # GEN-004, then transferred to the lab
        settle(board, desk_page, ".now [data-testid=called-token]:has-text('GEN-004')")
        desk_page.select_option("select[name=queue]", str(lab.pk))
        desk_page.click("[data-testid=transfer]")
        settle(board, desk_page, ".now .quiet")

        press_shortcut(desk_page, "n")  # GEN-005, then cancelled
        settle(board, desk_page, ".now [data-testid=called-token]:has-text('GEN-005')")
        desk_page.click("[data-testid=cancel-GEN-005]")
        settle(board, desk_page, ".now .quiet")

        desk_page.click("[data-testid=recall-GEN-003]")  # the no-show comes back to the line
        settle(board, desk_page, ".now .quiet")
        assert board.evaluate(ANNOUNCED) == ["Token GEN 2, Room 1", "Token GEN 3, Room 1", "Token GEN 4, Room 1",
                                             "Token GEN 5, Room 1"]
        assert board.evaluate("document.body.dataset.chimes") == "4"
        assert not context.blocked


def fill_the_board(general, lab):
    """Six calls with long desk names and 10+ waiting tokens in each of two queues: the fullest board."""
    desk = make_desk("Counter 12 Registration", general, lab)
    for patient in make_patients(30):
        services.issue_visit(patient=patient, queue=general)
        services.issue_visit(patient=patient, queue=lab)
    for _ in range(5):
        serve_one(desk)
    services.call_next(desk=desk)


LAYOUT = """() => {
  const box = (s) => document.querySelector(s).getBoundingClientRect();
  const recent = document.querySelectorAll("[data-testid=recent-calls] li");
  return {
    scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth, height: window.innerHeight,
    nowBottom: box(".now").bottom, nextTop: box(".next").top, nowRight: box(".now").right,
    nextLeft: box(".next").left, lastRecentBottom: recent[recent.length - 1].getBoundingClientRect().bottom,
    recent: recent.length, tokenPx: parseFloat(getComputedStyle(document.querySelector(".now .token")).fontSize),
    urduPx: parseFloat(getComputedStyle(document.querySelector(".now .latest-ur")).fontSize),
  };
}"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width, height", [(1920, 1080), (1080, 1920), (768, 1024), (390, 844)])
def test_the_board_fits_landscape_portrait_and_narrow_screens(live_server, general, lab, width, height):
    fill_the_board(general, lab)
    assert "Counter 12 Registration" in Client().get(f"/board/?key={board_key()}").content.decode()
    with browser_context(live_server, viewport={"width": width, "height": height}) as context:
        board = context.new_page()
        board.goto(f"/board/?queues=GEN,LAB&key={board_key()}")
        board.wait_for_load_state("load")
        board.evaluate("document.fonts.ready")
        layout = board.evaluate(LAYOUT)
    assert layout["scrollWidth"] <= layout["width"], layout  # no sideways scrolling
    assert layout["recent"] == 5
    assert layout["urduPx"] >= 0.35 * layout["tokenPx"], layout  # the Urdu line is large too (Nastaliq reads larger)
    if width > height:  # landscape: calls on the left, the lines beside them, all 5 last calls on screen
        assert layout["nowRight"] <= layout["nextLeft"], layout
        assert layout["lastRecentBottom"] <= layout["height"], layout
        assert layout["tokenPx"] >= 0.14 * height, layout
    else:  # portrait: the call above the lines, never under them
        assert layout["nowBottom"] <= layout["nextTop"], layout
        assert layout["tokenPx"] >= 0.08 * width, layout
