"""Urdu everywhere: every staff page rendered in Urdu shows no English a translator left out, and the message
catalogue (locale/ur) has an Urdu line for every string the code marks, with the committed .mo compiled from it.

Two checks, each of which fails on its own kind of gap:
- the pages: each staff page is rendered with the Urdu language, its visible text (text nodes, and the attributes
  a person reads: placeholder, title, aria-label, alt, data-confirm, a button's value) is read, and any English word
  left in it fails the test. Data the test typed is Urdu; codes, numbers and capitalised abbreviations (MRN, CNIC,
  GEN-001, OPD, CSV) are kept, as the hospital's staff read them; text marked `lang="en"` (the language switch, the
  board's English line) is English on purpose.
- the catalogue: `makemessages` run on a copy of the sources finds no msgid without a non-fuzzy Urdu msgstr, and the
  committed .mo holds exactly what the .po says.
"""

import datetime
import gettext
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from patients import worklist
from patients.models import DuplicatePair, ImportJob, Patient
from patients.services import register_patient, update_patient
from queues import services as queue_services
from queues.models import Desk, Queue, Visit
from queues.views import board_key
from queues.views import my_token_link as my_visit_link
from terminals.models import LabTerminal
from tests.conftest import make_user
from tokens import services as token_services
from tokens.models import Category, Token, WaitingListEntry
from tokens.views import my_token_link as my_opd_link

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale/ur/LC_MESSAGES/django.po"
MO = PO.with_suffix(".mo")

# Text a person reads in these attributes, besides the text between tags.
READ_ATTRIBUTES = {"placeholder", "title", "aria-label", "alt", "data-confirm"}
# Elements whose text is not read as page text (code, scripts) or is English on purpose.
SKIPPED = {"script", "style", "code", "kbd", "svg", "template"}
# Words kept as they are in Urdu pages: the product's name, capitalised codes and abbreviations (MRN, CNIC, OPD,
# CSV, QR, GEN-001, A4), the names printed on keys (Enter, Ctrl), the shapes typed (dd/mm/yyyy, xx-xx-xxx) and the
# units of an age as typed and printed (35y, 8m), a file name's extension (.csv).
KEPT = re.compile(
    r"Tokenline|\b[A-Z][A-Z0-9]+\b|\b(?:Enter|Ctrl|Tab)\b|\b[dmxy]+(?:[-/][dmxy]+)+\b|\b\d+[a-z]\b|\.[a-z]{2,4}\b"
)
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")


class _Reader(HTMLParser):
    """Collects (where, text) for every piece of readable text in a page, skipping SKIPPED elements and the parts
    marked lang="en" (but reading a lang="ur" part inside one: the bilingual board's Urdu lines)."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, skipped)
        self.found: list[tuple[str, str]] = []

    def _skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in SKIPPED or attrs.get("lang") == "en":
            skipped = True
        elif attrs.get("lang") == "ur":
            skipped = False
        else:
            skipped = self._skipping()
        if not skipped:
            for name in READ_ATTRIBUTES & attrs.keys():
                self.found.append((f"<{tag} {name}>", attrs[name] or ""))
            if tag == "input" and attrs.get("type") in {"submit", "button"}:
                self.found.append((f"<{tag} value>", attrs.get("value") or ""))
        if tag not in self.VOID:
            self.stack.append((tag, skipped))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if data.strip() and not self._skipping():
            where = self.stack[-1][0] if self.stack else "page"
            self.found.append((f"<{where}>", data.strip()))


def english_left(html: str) -> list[str]:
    """The pieces of readable text of `html` that still hold an English word, as "<tag> text"."""
    reader = _Reader()
    reader.feed(html)
    return [f"{where} {text}" for where, text in reader.found if ENGLISH_WORD.search(KEPT.sub("", text))]


def urdu_client(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ur"
    return client


@pytest.fixture
def morning(db, settings):
    """A small Urdu morning: patients, a correction, a duplicate pair, an import job, walk-in visits at every step,
    and an OPD slot with a token and a waiting entry. Returns the pages to read, by name."""
    settings.HOSPITAL_NAME = "سول ہسپتال"
    born = timezone.localdate().replace(year=1980)
    patient = register_patient(full_name="بی بی جان", father_name="گل خان", sex="F", dob=born, phone="0300-1234567")
    update_patient(patient, address="لاہور")
    twin = register_patient(full_name="بی بی جان", father_name="گل خان", sex="F", dob=born)
    worklist.queue_pairs_for(twin, source=worklist.SCAN)
    others = [register_patient(full_name=name) for name in ("علی", "احمد", "زینب", "فاطمہ")]
    job = ImportJob.objects.create(
        file_name="مریض.csv", csv_text="", rows=3, error_count=2, status=ImportJob.Status.CHECKED, errors=["3", "4"],
    )

    general = Queue.objects.create(name="جنرل", code="GEN")
    Queue.objects.create(name="لیبارٹری", code="LAB")
    desk = Desk.objects.create(name="کمرہ ۲")
    desk.queues.set([general])
    free_desk = Desk.objects.create(name="کمرہ ۳")  # no patient: Call next
    free_desk.queues.set([general])
    waiting = [queue_services.issue_visit(patient=p, queue=general) for p in (patient, *others)]
    queue_services.call_next(desk=desk)
    queue_services.mark_no_show(visit=waiting[0])
    queue_services.call_next(desk=desk)
    queue_services.start_visit(visit=waiting[1])

    doctor = token_services.create_doctor(name="ڈاکٹر عائشہ", specialization="امراض قلب")
    now = timezone.localtime()
    start = now.replace(minute=0, second=0, microsecond=0)
    slot = token_services.create_slot(doctor=doctor, start_time=start, end_time=start + datetime.timedelta(hours=23),
                                      max_capacity=1)
    token = token_services.book_token(slot_id=slot.pk, patient=patient, category=Category.WALKIN)
    entry = token_services.book_token(slot_id=slot.pk, patient=twin, category=Category.WALKIN)
    token_services.check_in(token_id=token.pk)  # past the grace, call next takes only arrived tokens
    token_services.call_next_token(slot_id=slot.pk)
    pair = DuplicatePair.objects.get()
    terminal = LabTerminal.objects.create(code="LAB9-PC", name="لیب")
    return {
        "home": "/",
        "register": "/patients/register/",
        "register and issue token": "/queues/register/",
        "search": "/patients/?q=" + "بی بی",
        "search, nothing found": "/patients/?q=" + "کوئی نہیں",
        "patient": f"/patients/{patient.pk}/",
        "correction": f"/patients/{patient.pk}/correct/",
        "registered": f"/patients/{patient.pk}/registered/",
        "registration slip": f"/patients/{patient.pk}/slip/",
        "import": "/patients/import/",
        "import job": f"/patients/import/{job.pk}/",
        "duplicates": "/patients/duplicates/",
        "duplicate pair": f"/patients/duplicates/{pair.pk}/",
        "queues": "/queues/",
        "desk": f"/queues/desks/{desk.pk}/",
        "desk with nobody at it": f"/queues/desks/{free_desk.pk}/",
        "token slip": f"/queues/visits/{waiting[2].pk}/slip/",
        "board": f"/board/?key={board_key()}&sources=opd",
        "OPD front desk": "/opd/book/",
        "OPD token slip": f"/opd/tokens/{token.pk}/",
        "OPD waiting slip": f"/opd/waiting/{entry.pk}/",
        "OPD slot waiting list": f"/opd/slots/{slot.pk}/waiting/",
        "doctor's rooms": "/opd/room/",
        "doctor's room": f"/opd/room/{doctor.pk}/",
        "OPD report": "/opd/report/",
        "OPD entrance sign": "/opd/entrance/",
        "patient's token page": my_visit_link(waiting[2]),
        "patient's OPD token page": my_opd_link(token),
        "offline registration page": f"/offline/{terminal.code}/",
        "the manager's day": "/today/",
        "not found": "/patients/999999/",
    }


def test_every_staff_page_in_urdu_has_no_english_left(morning):
    user = make_user("منتظم", is_superuser=True, is_staff=True)
    LabTerminal.objects.get(code="LAB9-PC").browser_users.add(user)  # the offline page is for its listed users
    client = urdu_client(user)
    left = {}
    for name, path in morning.items():
        response = client.get(path)
        assert response.status_code in (200, 404), (name, response.status_code)
        left[name] = english_left(response.content.decode())
    assert {name: texts for name, texts in left.items() if texts} == {}


def test_form_errors_and_refusals_shown_on_urdu_pages_are_translated(morning):
    client = urdu_client(make_user("منتظم", is_superuser=True, is_staff=True))
    desk = Desk.objects.get(name="کمرہ ۲")
    in_room = Token.objects.get(called_at__isnull=False)
    yesterday = timezone.localtime().replace(minute=0, second=0, microsecond=0) - datetime.timedelta(days=1)
    over = token_services.create_slot(doctor=in_room.doctor, start_time=yesterday,
                                      end_time=yesterday + datetime.timedelta(hours=1), max_capacity=2)
    ended, _ = token_services.mark_no_show(token_id=token_services.book_token(
        slot_id=in_room.slot_id, patient=Patient.objects.get(full_name="علی"), category=Category.EMERGENCY
    ).pk)
    pages = {
        "registration with errors": client.post("/patients/register/", {"full_name": "", "cnic": "12", "dob": "x"}),
        "booking with errors": client.post("/opd/book/", {"patient": "000-00-000", "category": "VIP"}),
        "refused step": client.post(f"/queues/desks/{desk.pk}/call-next/", follow=True),
        "step done": client.post(f"/queues/visits/{Visit.objects.get(status='in_consultation').pk}/complete/",
                                 {"desk": desk.pk}, follow=True),
        "refused room call": client.post(f"/opd/room/slots/{in_room.slot_id}/call-next/", follow=True),
        "refused double booking": client.post("/opd/book/", {"slot": in_room.slot_id, "patient": in_room.patient.mrn,
                                                             "category": Category.WALKIN}),
        "refused booking into a slot that is over": client.post(
            f"/opd/book/?day={over.day}", {"slot": over.pk, "patient": in_room.patient.mrn, "category": Category.WALKIN}
        ),
        "refused promotion": client.post(f"/opd/waiting/{WaitingListEntry.objects.get().pk}/promote/", follow=True),
        "refused check-in": client.post(f"/opd/room/tokens/{ended.pk}/check-in/", follow=True),
        "search with a hint": client.get("/patients/?q=12-3456"),
    }
    left = {name: english_left(response.content.decode()) for name, response in pages.items()}
    assert {name: texts for name, texts in left.items() if texts} == {}


def test_the_login_page_in_urdu_has_no_english_left(db, settings):
    settings.HOSPITAL_NAME = "سول ہسپتال"
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ur"
    assert english_left(client.get("/login/").content.decode()) == []


def test_the_checker_sees_an_english_word_in_text_and_attributes_but_not_codes():
    assert english_left('<p>ٹوکن <span class="token">GEN-001</span> MRN 001-00-042 · 35y</p>') == []
    assert english_left('<p lang="en">Now calling</p><kbd>Ctrl</kbd>') == []
    assert english_left('<html lang="en"><h1>Now calling <span lang="ur">waiting</span></h1></html>') == [
        "<span> waiting"
    ]
    assert english_left("<p>ٹوکن waiting</p>") == ["<p> ٹوکن waiting"]
    assert english_left('<input placeholder="Search">') == ["<input placeholder> Search"]


def _untranslated(po: Path) -> list[str]:
    """msgids of `po` with an empty or fuzzy msgstr (gettext's msgattrib), header left out."""
    out = []
    for option in ("--untranslated", "--only-fuzzy"):
        text = subprocess.run(["msgattrib", option, "--no-wrap", str(po)], capture_output=True, text=True,
                              check=True).stdout
        out += [m for m in re.findall(r'^msgid "(.*)"$', text, flags=re.M) if m]
    return out


@pytest.mark.skipif(not shutil.which("msgattrib"), reason="gettext is not installed")
def test_makemessages_finds_no_string_without_urdu(tmp_path):
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in tracked.splitlines():
        if name.endswith((".py", ".html", ".txt", ".po")) and not name.startswith(("tests/", "bench/", "docs/")):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tmp_path / name)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "ur", "--no-wrap", "--no-location"],
        cwd=tmp_path, check=True, capture_output=True,
        # makemessages reads no database: a URL that is never connected to keeps the embedded server from starting.
        env={"DEBUG": "true", "PATH": "/usr/bin:/bin", "DATABASE_URL": "postgres://nobody@127.0.0.1:1/unused"},
    )
    assert _untranslated(tmp_path / "locale/ur/LC_MESSAGES/django.po") == []


@pytest.mark.skipif(not shutil.which("msgfmt"), reason="gettext is not installed")
def test_the_committed_mo_is_the_po_compiled(tmp_path):
    subprocess.run(["msgfmt", "--check-format", "-o", str(tmp_path / "django.mo"), str(PO)], check=True)
    with open(MO, "rb") as committed, open(tmp_path / "django.mo", "rb") as compiled:
        assert gettext.GNUTranslations(committed)._catalog == gettext.GNUTranslations(compiled)._catalog
