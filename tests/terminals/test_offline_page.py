"""The offline registration page in a real browser (Debian's chromium through Playwright), with the browser
context set offline: numbers come from the device's lease, registrations wait in IndexedDB, and back online they
sync through the terminals' own sync endpoint, exactly as printed."""

import os
import re
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from patients.models import Patient
from patients.services import register_patient
from terminals import api, queries, services, views
from terminals.models import LabTerminal, TerminalDevice, TerminalLease
from tests.conftest import CHROMIUM, browser_context, make_user
from tests.terminals.conftest import create_seed_terminals

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]
PAGE = "/offline/LAB1-PC/"
TAKEN_CNIC = "35202-1234567-1"
OTHER_TAKEN_CNIC = "35202-1111111-3"
# window.print() counts instead of opening a dialog, and each printed slip's MRN is kept across reloads.
# [[mrn, times its slip was printed], ...] of the page's IndexedDB outbox.
OUTBOX_PRINTED = """() => new Promise(resolve => {
  indexedDB.open("tokenline-offline").onsuccess = event => {
    const all = event.target.result.transaction("outbox").objectStore("outbox").getAll();
    all.onsuccess = () => resolve(all.result.map(record => [record.mrn, record.printed]));
  };
})"""
PRINT_LOG = """window.print = function () {
  var mrn = document.querySelector("#offline-slip [data-slip=mrn]").textContent;
  localStorage.setItem("printed", (localStorage.getItem("printed") || "") + mrn + ",");
};"""
# The page's timer tick, now; resolves once the page has redrawn its counters and lists.
TICK_AND_REDRAW = """() => new Promise(resolve => {
  const counter = document.querySelector("[data-testid=refused]");
  new MutationObserver((_, observer) => { observer.disconnect(); resolve(); }).observe(counter, {childList: true});
  window.dispatchEvent(new Event("online"));
})"""


@pytest.fixture
def desk(live_server, monkeypatch):
    """A receptionist listed as a browser user of LAB1-PC, and a count of the server's contacts (page loads and
    terminal API calls) so a test can prove the offline part made none."""
    create_seed_terminals()
    clerk = make_user("labdesk", "reception")
    LabTerminal.objects.get(code="LAB1-PC").browser_users.add(clerk)
    contacts = []
    for module, name in ((views, "terminal_for_page"), (api.devices, "parse_contact")):
        original = getattr(module, name)

        def counted(*args, _original=original, **kwargs):
            contacts.append(1)
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    return clerk, contacts


def open_ready(context, path=PAGE):
    page = context.new_page()
    page.goto(path)
    expect(page.locator("body")).to_have_attribute("data-ready", "1", timeout=15_000)
    return page


def wait_for_counters(page, *, waiting: int, refused: int):
    """Wait until the page shows both counters at once: each alone passes on the way (a resent record is waiting
    before it is synced or refused again)."""
    page.wait_for_function("([waiting, refused]) =>"
                           " document.querySelector('[data-testid=waiting]').textContent === waiting &&"
                           " document.querySelector('[data-testid=refused]').textContent === refused",
                           arg=[str(waiting), str(refused)], timeout=20_000)


def register(page, name: str, **fields) -> str:
    """Fill the page's form and register, in front as the clerk sees it (a background tab's timers are throttled);
    returns the MRN the page printed."""
    page.bring_to_front()
    page.fill("#offline_full_name", name)
    for field, value in fields.items():
        if field == "sex":
            page.select_option("#offline_sex", value)
        else:
            page.fill(f"#offline_{field}", value)
    before = page.locator("[data-testid=last-mrn]").get_attribute("data-mrn")
    page.click("[data-testid=offline-register]")
    page.wait_for_function("before => { const shown = document.querySelector('[data-testid=last-mrn]').dataset.mrn;"
                           " return shown && shown !== before; }", arg=before)
    mrn = page.locator("[data-testid=last-mrn]").get_attribute("data-mrn")
    expect(page.locator("#offline-slip [data-slip=mrn]")).to_have_text(mrn)
    return mrn


def register_at_once(*forms) -> list[str]:
    """Fill each (page, name), then submit them all at once; returns the MRNs they printed."""
    before = []
    for page, name in forms:
        page.bring_to_front()
        page.fill("#offline_full_name", name)
        before.append(page.locator("[data-testid=last-mrn]").get_attribute("data-mrn"))
    for page, _ in forms:
        page.evaluate("document.getElementById('offline-form').requestSubmit()")
    for (page, _), shown in zip(forms, before):
        page.wait_for_function("before => { const shown = document.querySelector('[data-testid=last-mrn]')"
                               ".dataset.mrn; return shown && shown !== before; }", arg=shown, polling=50)
    return [page.locator("[data-testid=last-mrn]").get_attribute("data-mrn") for page, _ in forms]


def test_fifty_offline_registrations_in_two_tabs_sync_exactly_as_printed(desk, live_server):
    clerk, contacts = desk
    register_patient(full_name="Already Registered", cnic=TAKEN_CNIC)
    register_patient(full_name="Also Registered", cnic=OTHER_TAKEN_CNIC)
    with browser_context(live_server, clerk) as context:
        context.add_init_script(PRINT_LOG)
        first = open_ready(context)
        expect(first.locator("[data-testid=numbers-left]")).to_have_text("100")
        expect(first.locator("[data-testid=network]")).to_have_text("online")
        reached = len(contacts)

        context.set_offline(True)
        expect(first.locator("[data-testid=network]")).to_have_text("offline")
        second = open_ready(context)  # a second tab opened with the network gone: the worker serves the page
        printed = [register(first, f"Patient {i:02}", father_name="Father", sex="F") for i in range(20)]
        printed.append(register(first, "Taken Cnic", cnic=TAKEN_CNIC))  # refused at sync: the CNIC is registered
        first.reload()  # offline: from the service worker's cache, the outbox intact
        expect(first.locator("body")).to_have_attribute("data-ready", "1")
        expect(first.locator("[data-testid=waiting]")).to_have_text("21")
        for i in range(9):
            printed.append(register((first, second)[i % 2], f"Patient {21 + i:02}", dob="1990-01-01"))
        for i in range(10):  # both tabs submit at once
            printed += register_at_once((first, f"Patient {30 + 2 * i}"), (second, f"Patient {31 + 2 * i}"))
        expect(second.locator("[data-testid=numbers-left]")).to_have_text("50")
        assert len(contacts) == reached, "the page reached the server while offline"
        slips = first.evaluate(OUTBOX_PRINTED)  # every record with its slip printed once
        assert sorted(slips) == sorted([mrn, 1] for mrn in printed)

        context.set_offline(False)
        refused = first.locator("[data-testid=refused-list] li")
        expect(refused).to_contain_text(f"CNIC {TAKEN_CNIC} is already registered", timeout=20_000)
        expect(refused).to_contain_text(printed[20])
        expect(refused).to_contain_text("cnic")
        wait_for_counters(first, waiting=0, refused=1)
        # Resent with another registered CNIC: refused again, and still shown as refused with the new reason.
        refused.locator("input[name=cnic]").fill(OTHER_TAKEN_CNIC)
        refused.get_by_role("button").click()
        expect(refused).to_contain_text(f"CNIC {OTHER_TAKEN_CNIC} is already registered", timeout=20_000)
        wait_for_counters(first, waiting=0, refused=1)
        # Fixed; the page refreshes (its timer's tick) between typing and sending: what was typed is what is sent.
        refused.locator("input[name=cnic]").fill("35202-7654321-9")
        first.evaluate(TICK_AND_REDRAW)
        expect(refused.locator("input[name=cnic]")).to_have_value("35202-7654321-9")
        refused.get_by_role("button").click()
        expect(refused).to_have_count(0, timeout=20_000)
        wait_for_counters(first, waiting=0, refused=0)
        expect(first.locator("[data-testid=last-sync]")).not_to_have_text("never")
        device = first.evaluate("document.body.dataset.device")
        assert not context.blocked

    stored = Patient.objects.filter(is_offline_entry=True, origin_terminal__code="LAB1-PC")
    assert sorted(stored.values_list("mrn", flat=True)) == sorted(printed)  # 0 lost, 0 renumbered
    assert len(set(printed)) == 50  # 0 duplicates
    assert stored.values("client_uuid").distinct().count() == 50
    assert stored.get(mrn=printed[20]).cnic == "35202-7654321-9"
    assert re.fullmatch(r"browser-[0-9a-f]{32}", device)
    assert TerminalDevice.objects.filter(device_id=device).exists()
    assert set(TerminalLease.objects.filter(terminal__code="LAB1-PC").values_list("device_id", flat=True)) == {device}
    # Ops see the browser like a terminal's machine, with its leases' figures.
    (machine,) = queries.ops_view(code="LAB1-PC")[0]["devices"]
    assert (machine["device_id"], machine["kind"], machine["leases"]) == (device, "browser", 1)
    assert (machine["leased"], machine["used"], machine["unused"], machine["pending"], machine["refused"]) == (
        100, 50, 50, 0, 0)


def test_a_lease_used_up_offline_refuses_to_number(desk, live_server, settings, tmp_path):
    """Also takes the manual's screenshot of the page (docs/screenshots/offline-page.png; to refresh it:
    TOKENLINE_SCREENSHOTS=docs/screenshots .venv/bin/python -m pytest tests/terminals/test_offline_page.py)."""
    clerk, _ = desk
    settings.TOKENLINE_BROWSER_LEASE = 5
    with browser_context(live_server, clerk) as context:
        context.add_init_script(PRINT_LOG)
        page = open_ready(context)
        expect(page.locator("[data-testid=numbers-left]")).to_have_text("5")
        context.set_offline(True)
        printed = [register(page, f"Patient {i}") for i in range(5)]
        page.fill("#offline_full_name", "One Too Many")
        page.click("[data-testid=offline-register]")
        expect(page.locator("[data-testid=offline-problem]")).to_contain_text("No leased number left")
        expect(page.locator("[data-testid=last-mrn]")).to_have_attribute("data-mrn", printed[-1])
        expect(page.locator("[data-testid=numbers-left]")).to_have_text("0")
        assert page.evaluate("localStorage.getItem('printed')").rstrip(",").split(",") == printed
        page.emulate_media(media="print")  # what the printer gets: the 80 mm slip alone
        expect(page.locator("#offline-slip")).to_be_visible()
        expect(page.locator("#offline-slip [data-slip=mrn]")).to_have_text(printed[-1])
        expect(page.locator("#offline-app")).to_be_hidden()
        page.emulate_media(media="screen")
        page.set_viewport_size({"width": 1366, "height": 768})
        out = Path(os.environ.get("TOKENLINE_SCREENSHOTS") or tmp_path)
        out.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=out / "offline-page.png")
        assert not context.blocked
    assert not Patient.objects.filter(is_offline_entry=True).exists()  # nothing reached the server


def in_thread(work):
    """Run `work()` in a thread with its own database connection, closed after (Playwright's loop runs in this
    thread, where the ORM must not open a second connection); returns what it returned."""
    done = []

    def run():
        try:
            done.append(work())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return done[0]


def test_a_record_renumbered_on_the_server_is_shown_for_reprint(desk, live_server):
    clerk, _ = desk
    with browser_context(live_server, clerk) as context:
        context.add_init_script(PRINT_LOG)
        page = open_ready(context)
        printed = register(page, "Later Patient")
        expect(page.locator("[data-testid=waiting]")).to_have_text("0")  # online: synced at once
        device = page.evaluate("document.body.dataset.device")

        def earlier_registration_of_the_same_number():  # e.g. a restored copy of this browser, registered earlier
            return services.sync_registrations(terminal_code="LAB1-PC", user=clerk, device_id=device, registrations=[{
                "full_name": "Earlier Patient", "mrn": printed, "client_uuid": uuid.uuid4(),
                "registered_at": timezone.now() - timedelta(hours=1)}])

        assert in_thread(earlier_registration_of_the_same_number)[0].created
        register(page, "Next Patient")  # its sync brings the notice
        notice = page.locator("[data-testid=reprint-list] li")
        expect(notice).to_contain_text(f"REPRINT: The slip printed as {printed} now has MRN")
        renumbered = re.search(r"now has MRN (\S+):", notice.text_content()).group(1)
        notice.get_by_role("button").click()
        expect(notice).to_have_count(0)
        assert page.evaluate("localStorage.getItem('printed')").rstrip(",").split(",")[-1] == renumbered
        assert not context.blocked
    assert Patient.objects.get(full_name="Later Patient").mrn == renumbered
    assert Patient.objects.get(full_name="Earlier Patient").mrn == printed
