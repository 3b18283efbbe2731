"""The manual's screenshots (docs/screenshots/): the reception form, a desk, the board and the OPD report of the demo
morning, taken in Debian's chromium. The test writes them to a temporary folder; to refresh the committed ones:

    TOKENLINE_SCREENSHOTS=docs/screenshots .venv/bin/python -m pytest tests/test_screenshots.py
"""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from queues.models import Desk, Visit
from tokens.models import Doctor
from queues.views import board_key, my_token_link
from tests.conftest import CHROMIUM, browser_context, make_user

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]
# file name -> (path, viewport width, height)
SHOTS = {
    "reception-form.png": ("/patients/register/", 1366, 768),
    "desk.png": ("/queues/desks/{desk}/", 1366, 768),
    "desk-ur.png": ("/queues/desks/{desk}/", 1366, 768),
    "board.png": ("/board/?key={key}&sources=opd", 1920, 1080),
    "board-portrait.png": ("/board/?key={key}&sources=opd", 768, 1024),
    "report.png": ("/opd/report/", 1366, 1000),
    "room.png": ("/opd/room/{doctor}/", 1366, 768),
    # Slips as they print (print styles), about 80 mm wide at 96 CSS pixels per inch.
    "slip-registration.png": ("/patients/{patient}/slip/", 320, 480),
    "slip-token.png": ("/queues/visits/{visit}/slip/", 320, 400),
    "token-page.png": ("{token_page}", 390, 600),  # the patient's phone, from the slip's QR
}
PRINTED = {"slip-registration.png", "slip-token.png"}
URDU = {"desk-ur.png"}  # taken with the language cookie set to Urdu


def test_screenshots_of_the_demo_morning(live_server, tmp_path):
    out = Path(os.environ.get("TOKENLINE_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    with override_settings(DEBUG=True):
        call_command("seed_demo", patients=80, stdout=open(os.devnull, "w"))
        call_command("seed_opd", morning=True, seed=7, stdout=open(os.devnull, "w"))
        call_command("seed_demo_queues", morning=True, seed=7, stdout=open(os.devnull, "w"))
    user = make_user("shots", "reception")
    visit = Visit.objects.filter(status=Visit.Status.WAITING).order_by("pk").first()
    values = {"desk": Desk.objects.get(name="Room 1").pk, "key": board_key(), "visit": visit.pk,
              "patient": visit.patient_id, "doctor": Doctor.objects.order_by("name").first().pk,
              "token_page": my_token_link(visit)}
    with browser_context(live_server, user) as context:
        page = context.new_page()
        for name, (path, width, height) in SHOTS.items():
            page.set_viewport_size({"width": width, "height": height})
            page.emulate_media(media="print" if name in PRINTED else "screen")
            context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "ur" if name in URDU else "en",
                                  "url": live_server.url}])
            page.goto(path.format(**values))
            page.wait_for_load_state("networkidle")
            page.screenshot(path=out / name, full_page=name in PRINTED)
        assert not context.blocked
    for name, (_, width, _) in SHOTS.items():
        png = (out / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == width
