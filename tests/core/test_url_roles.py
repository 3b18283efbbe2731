"""Every URL of the URLconf, asked with GET by every role, answers what the table below says.

The URLconf is walked recursively (django.urls.get_resolver), so an endpoint added later has no row here and fails
`test_every_url_pattern_has_a_rule`, and a row left behind by a removed endpoint fails it too. Path parameters are
filled with real objects, the patients' with lab terminal B's patient: terminal A must get 404 for it wherever a
patient is shown (REST, FHIR, pages, slips), as if it did not exist, and terminal B must read it.

Statuses: 200 read; 302 a page sending to the login (anonymous, or a user the admin does not let in) or the admin
sending back from a missing object; 401 the API without credentials; 403 a role without the permission; 404 out of
scope or nothing there; 405 a POST-only endpoint asked with GET.
"""

import re

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.cache import caches
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from core import tokenlinks
from idseq.models import Counter, IssuedNumber, Sequence
from patients.models import DuplicatePair, ImportJob, Patient, PatientAccess
from patients.services import register_patient
from queues import services as queue_services
from queues.models import Desk, Queue
from terminals import services as terminal_services
from terminals.models import LabTerminal
from tests.conftest import make_token, make_user
from tests.terminals.conftest import create_seed_terminals
from tests.tokens.conftest import at, make_slot
from tokens import services as token_services

ROLES = ("anonymous", "reception", "lab_a", "lab_b", "ops", "admin")

# Shorthands for the common rows: (anonymous, reception, lab terminal A, lab terminal B, ops, admin).
PAGE_ALL = (302, 200, 200, 200, 200, 200)
OPEN = (200,) * 6
STAFF = (302, 302, 302, 302, 302, 200)  # pages: the reception roles and ops; the admin site: staff only
TO_LOGIN = (302,) * 6  # the admin's old-style object link (to the change page) and pages of missing objects
# The admin's own rule: numbers are never deleted, some rows are made by services only.
ADMIN_REFUSES = (302, 302, 302, 302, 302, 403)
POST_ONLY_PAGE = (405,) * 6  # require_POST answers before the login check
POST_ONLY_API = (401, 405, 405, 405, 405, 405)
DESK_POST_ONLY = (401, 405, 403, 403, 403, 405)  # POST-only, and only roles that run desks get as far as the method
OPD_POST_ONLY = (401, 405, 403, 403, 405, 405)  # POST-only, ops may view tokens (so 405), terminals may not
SEQUENCE_POST_ONLY = (401, 403, 403, 403, 405, 405)
QUEUE_READ_API = (401, 200, 403, 403, 200, 200)
QUEUE_READ_PAGE = (302, 200, 403, 403, 200, 200)
MANAGER_PAGE = (302, 403, 403, 403, 200, 200)  # the manager's day: ops and admin (today.view_day)
# B's patient: terminal A is told it does not exist, B and the register's roles read it.
PATIENT_PAGE = (302, 200, 404, 200, 200, 200)
PATIENT_API = (401, 200, 404, 200, 200, 200)


def admin_model(path: str, *, change=STAFF, add=STAFF, delete=STAFF, history=STAFF) -> dict:
    """The rows of one model's admin: its list, add, change, history and delete pages and the old-style link
    (which redirects to the change page)."""
    return {
        f"admin/{path}/": STAFF,
        f"admin/{path}/add/": add,
        f"admin/{path}/<path:object_id>/history/": history,
        f"admin/{path}/<path:object_id>/delete/": delete,
        f"admin/{path}/<path:object_id>/change/": change,
        f"admin/{path}/<path:object_id>/": TO_LOGIN,
    }


EXPECTED = {
    # monitoring: open (metrics from 127.0.0.1, in METRICS_ALLOWED_IPS by default)
    "health/": OPEN,
    "health/live/": OPEN,
    "metrics": OPEN,
    # login, logout, home
    "": PAGE_ALL,
    "login/": OPEN,
    "logout/": (405,) * 6,  # POST only
    "i18n/setlang/": TO_LOGIN,  # set_language without a language: back where the user came from
    # patients' pages
    "patients/": PAGE_ALL,
    "patients/register/": (302, 200, 200, 200, 403, 200),
    "patients/import/": (302, 403, 403, 403, 200, 200),
    "patients/import/<int:pk>/": (302, 403, 403, 403, 200, 200),
    # the job here holds a file without an `mrn` column: back to its page, which says why
    "patients/import/<int:pk>/refused.csv": (302, 403, 403, 403, 302, 302),
    "patients/<int:pk>/": PATIENT_PAGE,
    "patients/duplicates/": (302, 403, 403, 403, 200, 200),  # the worklist: roles that may merge
    "patients/duplicates/<int:pk>/": (302, 403, 403, 403, 200, 200),
    "patients/likely/": (302, 200, 200, 200, 403, 200),  # the desk's hint: roles that register
    "patients/<int:pk>/correct/": (302, 200, 403, 403, 403, 200),
    "patients/<int:pk>/registered/": PATIENT_PAGE,
    "patients/<int:pk>/slip/": PATIENT_PAGE,
    # queues' pages; the waiting-room board logs in with its key in the URL, never with a session
    "queues/": QUEUE_READ_PAGE,
    "queues/issue/<int:patient_pk>/": POST_ONLY_PAGE,
    "queues/register/": (302, 200, 403, 403, 403, 200),  # register and issue: roles that do both
    "queues/visits/<int:pk>/slip/": QUEUE_READ_PAGE,
    "queues/visits/<int:pk>/transfer/": POST_ONLY_PAGE,
    "queues/visits/<int:pk>/<slug:step>/": POST_ONLY_PAGE,
    "queues/desks/<int:pk>/": (302, 200, 403, 403, 403, 200),
    "queues/desks/<int:pk>/call-next/": POST_ONLY_PAGE,
    "board/": (403,) * 6,
    "board/panel/": (403,) * 6,
    # the patient's token pages: the signed link is the key, no login (and no role changes what it shows)
    "t/<str:key>/": OPEN,
    "t/<str:key>/panel/": OPEN,
    # OPD pages
    "opd/book/": (302, 200, 403, 403, 403, 200),
    "opd/tokens/<uuid:pk>/": QUEUE_READ_PAGE,
    "opd/waiting/<uuid:pk>/": QUEUE_READ_PAGE,
    "opd/slots/<uuid:pk>/waiting/": QUEUE_READ_PAGE,
    "opd/waiting/<uuid:pk>/<slug:step>/": POST_ONLY_PAGE,
    "opd/room/": (302, 200, 403, 403, 403, 200),
    "opd/room/<uuid:pk>/": (302, 200, 403, 403, 403, 200),
    "opd/room/slots/<uuid:pk>/call-next/": POST_ONLY_PAGE,
    "opd/room/tokens/<uuid:pk>/<slug:step>/": POST_ONLY_PAGE,
    "opd/report/": QUEUE_READ_PAGE,
    "opd/report.csv": QUEUE_READ_PAGE,
    "today/": MANAGER_PAGE,
    "today.csv": MANAGER_PAGE,
    "opd/t/<str:key>/": OPEN,
    "opd/t/<str:key>/panel/": OPEN,
    "opd/t/<str:key>/here/": POST_ONLY_PAGE,
    "opd/here/": OPEN,  # the entrance's QR: the patient's own phone, no login
    "opd/entrance/": QUEUE_READ_PAGE,  # its printable sign
    # the API
    "api/v1/auth/token/": (405,) * 6,  # POST only, open to anyone
    "api/v1/auth/logout/": POST_ONLY_API,  # POST only: revokes the token it is called with
    r"api/v1/^patients/$": (401, 200, 200, 200, 200, 200),  # a terminal's list holds its own patients only
    r"api/v1/^patients/(?P<pk>[^/.]+)/$": PATIENT_API,
    r"api/v1/^patients/(?P<pk>[^/.]+)/slip/$": PATIENT_API,
    r"api/v1/^patients/(?P<pk>[^/.]+)/merge/$": POST_ONLY_API,
    r"api/v1/^patients/(?P<pk>[^/.]+)/unmerge/$": POST_ONLY_API,
    r"api/v1/^patients/likely-duplicates/$": (401, 400, 400, 400, 400, 400),  # without a name typed
    r"api/^patients/$": (401, 200, 200, 200, 200, 200),
    r"api/^patients/(?P<pk>[^/.]+)/$": PATIENT_API,
    r"api/^patients/(?P<pk>[^/.]+)/slip/$": PATIENT_API,
    r"api/^patients/(?P<pk>[^/.]+)/merge/$": POST_ONLY_API,
    r"api/^patients/(?P<pk>[^/.]+)/unmerge/$": POST_ONLY_API,
    r"api/^patients/likely-duplicates/$": (401, 400, 400, 400, 400, 400),  # without a name typed
    r"api/v1/^sequences/$": (401, 403, 403, 403, 200, 200),
    r"api/v1/^sequences/health/$": (401, 403, 403, 403, 200, 200),
    r"api/v1/^sequences/(?P<key>[A-Za-z0-9_.-]+)/$": (401, 403, 403, 403, 200, 200),
    r"api/v1/^sequences/(?P<key>[A-Za-z0-9_.-]+)/bulk/$": SEQUENCE_POST_ONLY,
    r"api/v1/^sequences/(?P<key>[A-Za-z0-9_.-]+)/issued/$": (401, 403, 403, 403, 200, 200),
    r"api/v1/^sequences/(?P<key>[A-Za-z0-9_.-]+)/next/$": SEQUENCE_POST_ONLY,
    r"api/v1/^sequences/(?P<key>[A-Za-z0-9_.-]+)/reset/$": SEQUENCE_POST_ONLY,
    r"api/v1/^sequences/(?P<key>[A-Za-z0-9_.-]+)/void/$": SEQUENCE_POST_ONLY,
    "api/v1/terminals/": (401, 403, 200, 200, 200, 200),
    # the offline registration page of terminal B: its browser users only; the service worker holds nothing private
    "offline/sw.js": OPEN,
    "offline/<str:code>/": (302, 200, 403, 403, 403, 403),
    "offline/<str:code>/manifest.webmanifest": (302, 200, 403, 403, 403, 403),
    "api/v1/terminals/utilisation/": (401, 403, 403, 403, 200, 200),
    # terminal B's: its own key, and the receptionist listed as its browser user (the offline page)
    "api/v1/terminals/<str:code>/leases/": (401, 200, 403, 200, 403, 403),
    "api/v1/terminals/<str:code>/sync/": POST_ONLY_API,
    r"api/v1/^queues/$": QUEUE_READ_API,
    r"api/v1/^queues/(?P<pk>[^/.]+)/$": QUEUE_READ_API,
    r"api/v1/^queues/(?P<pk>[^/.]+)/board/$": QUEUE_READ_API,
    r"api/v1/^queues/(?P<pk>[^/.]+)/integrity/$": QUEUE_READ_API,
    r"api/v1/^desks/$": QUEUE_READ_API,
    r"api/v1/^desks/(?P<pk>\d+)/$": QUEUE_READ_API,
    r"api/v1/^desks/(?P<pk>\d+)/call-next/$": DESK_POST_ONLY,
    r"api/v1/^visits/$": QUEUE_READ_API,
    r"api/v1/^visits/(?P<pk>[^/.]+)/$": QUEUE_READ_API,
    **{rf"api/v1/^visits/(?P<pk>[^/.]+)/{step}/$": DESK_POST_ONLY
       for step in ("cancel", "complete", "no-show", "recall", "start", "transfer")},
    "api/v1/reports/daily/": QUEUE_READ_API,
    r"api/v1/^doctors/$": QUEUE_READ_API,
    r"api/v1/^doctors/(?P<pk>[0-9a-fA-F-]{32,36})/$": QUEUE_READ_API,
    r"api/v1/^slots/$": QUEUE_READ_API,
    r"api/v1/^slots/(?P<pk>[0-9a-fA-F-]{32,36})/$": QUEUE_READ_API,
    r"api/v1/^slots/(?P<pk>[0-9a-fA-F-]{32,36})/delay/$": OPD_POST_ONLY,
    r"api/v1/^slots/(?P<pk>[0-9a-fA-F-]{32,36})/tokens/$": QUEUE_READ_API,
    r"api/v1/^tokens/$": QUEUE_READ_API,
    r"api/v1/^tokens/emergency/$": OPD_POST_ONLY,
    r"api/v1/^tokens/(?P<pk>[0-9a-fA-F-]{32,36})/$": QUEUE_READ_API,
    r"api/v1/^tokens/(?P<pk>[0-9a-fA-F-]{32,36})/complete/$": OPD_POST_ONLY,
    r"api/v1/^tokens/(?P<pk>[0-9a-fA-F-]{32,36})/check_in/$": OPD_POST_ONLY,
    r"api/v1/^tokens/(?P<pk>[0-9a-fA-F-]{32,36})/no_show/$": OPD_POST_ONLY,
    r"api/v1/^waiting-list/$": QUEUE_READ_API,
    r"api/v1/^waiting-list/by_slot/$": (401, 400, 403, 403, 400, 400),  # slot_id is required
    r"api/v1/^waiting-list/(?P<pk>[0-9a-fA-F-]{32,36})/$": QUEUE_READ_API,
    # FHIR: the metadata is open; a terminal searches and reads its own patients only
    "fhir/metadata": OPEN,
    "fhir/Patient": (401, 200, 200, 200, 200, 200),
    "fhir/Patient/<str:pk>": PATIENT_API,
    "api/schema/": (401, 200, 200, 200, 200, 200),
    "api/docs/": PAGE_ALL,
    # the admin site: staff only; a logged-in user who is not staff sees its login form
    "admin/": STAFF,
    "admin/login/": (200, 200, 200, 200, 200, 302),
    "admin/logout/": (302, 302, 302, 302, 302, 405),  # POST only, for those it lets in
    "admin/password_change/": STAFF,
    "admin/password_change/done/": STAFF,
    "admin/autocomplete/": ADMIN_REFUSES,  # without a field to complete
    "admin/jsi18n/": STAFF,
    "admin/r/<path:content_type_id>/<path:object_id>/": (302, 302, 302, 302, 302, 404),  # patients have no site URL
    r"admin/^(?P<app_label>auth|knox|axes|otp_totp|idseq|patients|terminals|queues|tokens|django_tasks_database"
    r"|notifications)/$": STAFF,
    "admin/(?P<url>.*)$": (302, 302, 302, 302, 302, 404),
    "admin/auth/user/<id>/password/": STAFF,
    **admin_model("auth/group"),
    **admin_model("auth/user"),
    # No token, lockout or login row exists here: their pages answer as for a missing object.
    **admin_model("knox/authtoken", change=TO_LOGIN, delete=TO_LOGIN, history=TO_LOGIN),
    **admin_model("axes/accessattempt", add=ADMIN_REFUSES, change=TO_LOGIN, delete=TO_LOGIN, history=TO_LOGIN),
    **admin_model("axes/accessfailurelog", add=ADMIN_REFUSES, change=TO_LOGIN, delete=TO_LOGIN, history=TO_LOGIN),
    **admin_model("axes/accesslog", add=ADMIN_REFUSES, change=TO_LOGIN, delete=TO_LOGIN, history=TO_LOGIN),
    **admin_model("otp_totp/totpdevice"),
    "admin/otp_totp/totpdevice/<int:pk>/config/": STAFF,
    "admin/otp_totp/totpdevice/<int:pk>/qrcode/": STAFF,
    **admin_model("idseq/counter", add=ADMIN_REFUSES, delete=ADMIN_REFUSES),
    "admin/idseq/sequence/<int:pk>/reset/": STAFF,
    **admin_model("idseq/sequence", delete=ADMIN_REFUSES),
    **admin_model("idseq/issuednumber", add=ADMIN_REFUSES, delete=ADMIN_REFUSES),
    # No object of these: the admin sends its users back to the index.
    **admin_model("idseq/unrecordedrange", add=ADMIN_REFUSES, change=TO_LOGIN, delete=ADMIN_REFUSES,
                  history=TO_LOGIN),
    r"admin/patients/patient/^([^/]+)/history/([^/]+)/$": STAFF,
    **admin_model("patients/patient", delete=ADMIN_REFUSES),
    **admin_model("patients/patientaccess", add=ADMIN_REFUSES, delete=ADMIN_REFUSES),
    **admin_model("patients/patientmerge", add=ADMIN_REFUSES, change=TO_LOGIN, delete=ADMIN_REFUSES, history=TO_LOGIN),
    **admin_model("terminals/labterminal", delete=ADMIN_REFUSES),
    # No handover, machine or refused record exists here: their pages answer as for a missing object.
    **admin_model("terminals/leasehandover", change=TO_LOGIN, delete=ADMIN_REFUSES, history=TO_LOGIN),
    **admin_model("terminals/terminaldevice", add=ADMIN_REFUSES, change=TO_LOGIN, delete=ADMIN_REFUSES,
                  history=TO_LOGIN),
    **admin_model("terminals/refusedregistration", add=ADMIN_REFUSES, change=TO_LOGIN, delete=ADMIN_REFUSES,
                  history=TO_LOGIN),
    **admin_model("terminals/skewedregistration", add=ADMIN_REFUSES, change=TO_LOGIN, delete=ADMIN_REFUSES,
                  history=TO_LOGIN),
    **admin_model("terminals/offlineincident", add=ADMIN_REFUSES, change=TO_LOGIN, delete=ADMIN_REFUSES,
                  history=TO_LOGIN),
    **admin_model("queues/queue"),
    **admin_model("queues/desk"),
    **admin_model("queues/visit", add=ADMIN_REFUSES, delete=ADMIN_REFUSES),
    **admin_model("tokens/doctor"),
    **admin_model("tokens/slot", delete=ADMIN_REFUSES),
    **admin_model("tokens/token", add=ADMIN_REFUSES, delete=ADMIN_REFUSES),
    **admin_model("tokens/waitinglistentry", add=ADMIN_REFUSES),
    # The task results are no role's: the admin role is refused everything there.
    **admin_model("django_tasks_database/dbtaskresult", add=ADMIN_REFUSES, change=ADMIN_REFUSES,
                  delete=ADMIN_REFUSES, history=TO_LOGIN),
    "admin/django_tasks_database/dbtaskresult/": ADMIN_REFUSES,
    **admin_model("notifications/notification", add=ADMIN_REFUSES, change=TO_LOGIN, delete=ADMIN_REFUSES,
                  history=TO_LOGIN),
}


def url_patterns(patterns=None, prefix: str = ""):
    """(route, pattern) of every URL pattern of the URLconf, resolvers walked recursively; `route` is the
    concatenation of the patterns' strings, e.g. `api/v1/^patients/(?P<pk>[^/.]+)/$`."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            assert isinstance(pattern, URLPattern)
            yield prefix + str(pattern.pattern), pattern


def test_every_url_pattern_has_a_rule():
    routes = [route for route, _ in url_patterns()]
    assert len(routes) == len(set(routes)), "two patterns with the same route: the table cannot tell them apart"
    missing = sorted(set(routes) - set(EXPECTED))
    stale = sorted(set(EXPECTED) - set(routes))
    assert not missing, f"URL patterns without a rule in EXPECTED: {missing}"
    assert not stale, f"rules for URL patterns that no longer exist: {stale}"


@pytest.fixture
def world(db):
    """One of each object a URL names, the patients' being lab terminal B's; users and clients of each role."""
    create_seed_terminals()
    terminal_a, terminal_b = LabTerminal.objects.get(code="LAB1-PC"), LabTerminal.objects.get(code="LAB2-PC")
    # A terminal's user is made with its first key.
    keys = {"lab_a": terminal_services.issue_terminal_key(terminal=terminal_a),
            "lab_b": terminal_services.issue_terminal_key(terminal=terminal_b)}
    terminal_a.refresh_from_db()
    terminal_b.refresh_from_db()
    users = {
        "reception": make_user("desk1", "reception"),
        "lab_a": terminal_a.user,
        "lab_b": terminal_b.user,
        "ops": make_user("ops1", "ops"),
        "admin": make_user("boss", "admin", is_staff=True),
    }
    terminal_b.browser_users.add(users["reception"])
    register_patient(full_name="Own Of Terminal A", created_by=users["lab_a"])
    patient = register_patient(full_name="Own Of Terminal B", created_by=users["lab_b"])
    other = register_patient(full_name="Registered At Reception", created_by=users["reception"])
    pair = DuplicatePair.objects.create(low=min(patient, other, key=lambda p: p.pk),
                                        high=max(patient, other, key=lambda p: p.pk), score=0.7)
    queue = Queue.objects.create(name="General", code="GEN", default_service_minutes=10)
    desk = Desk.objects.create(name="Desk 1")
    desk.queues.set([queue])
    visit = queue_services.issue_visit(patient=patient, queue=queue, issued_by=users["reception"])
    doctor = token_services.create_doctor(name="Dr. Ayesha Khan", specialization="Cardiology")
    slot = make_slot(doctor, at(9), capacity=1)
    token = token_services.book_token(slot_id=slot.pk, patient=other, category="WALKIN")
    entry = token_services.book_token(slot_id=slot.pk, patient=patient, category="WALKIN")
    device = TOTPDevice.objects.create(user=users["admin"], name="admin's phone")
    job = ImportJob.objects.create(file_name="p.csv", csv_text="full_name\nA\n", rows=1)
    group = Group.objects.get(name="reception")
    access = PatientAccess.objects.get_or_create(patient=patient, channel="page", user=users["reception"])[0]
    sequence = Sequence.objects.get(key="mrn")
    objects = {
        "auth/group": group.pk, "auth/user": users["reception"].pk,
        "idseq/counter": Counter.objects.order_by("pk").first().pk, "idseq/sequence": sequence.pk,
        "idseq/issuednumber": IssuedNumber.objects.order_by("pk").first().pk,
        "patients/patient": patient.pk, "patients/patientaccess": access.pk,
        "terminals/labterminal": terminal_b.pk, "queues/queue": queue.pk, "queues/desk": desk.pk,
        "queues/visit": visit.pk, "tokens/doctor": doctor.pk, "tokens/slot": slot.pk, "tokens/token": token.pk,
        "tokens/waitinglistentry": entry.pk, "otp_totp/totpdevice": device.pk,
    }
    values = {
        # (route prefix, parameter): value; the longest matching prefix wins
        ("patients/import/", "pk"): job.pk, ("patients/duplicates/", "pk"): pair.pk, ("patients/", "pk"): patient.pk,
        ("queues/issue/", "patient_pk"): patient.pk,
        ("queues/visits/", "pk"): visit.pk, ("queues/visits/", "step"): "start", ("queues/desks/", "pk"): desk.pk,
        ("opd/tokens/", "pk"): token.pk, ("opd/waiting/", "pk"): entry.pk, ("opd/waiting/", "step"): "promote",
        ("opd/slots/", "pk"): slot.pk, ("opd/room/", "pk"): doctor.pk, ("opd/room/slots/", "pk"): slot.pk,
        ("opd/room/tokens/", "pk"): token.pk, ("opd/room/tokens/", "step"): "complete",
        ("t/", "key"): tokenlinks.sign("visit", visit.pk, visit.visit_date),
        ("opd/t/", "key"): tokenlinks.sign("opd", token.pk, token.day),
        ("api/v1/^patients/", "pk"): patient.pk, ("api/^patients/", "pk"): patient.pk,
        ("api/v1/^sequences/", "key"): "mrn", ("api/v1/terminals/", "code"): terminal_b.code,
        ("offline/", "code"): terminal_b.code,
        ("api/v1/^queues/", "pk"): queue.pk, ("api/v1/^desks/", "pk"): desk.pk, ("api/v1/^visits/", "pk"): visit.pk,
        ("api/v1/^doctors/", "pk"): doctor.pk, ("api/v1/^slots/", "pk"): slot.pk, ("api/v1/^tokens/", "pk"): token.pk,
        ("api/v1/^waiting-list/", "pk"): entry.pk, ("fhir/Patient/", "pk"): patient.pk,
        ("admin/r/", "content_type_id"): ContentType.objects.get_for_model(Patient).pk,
        ("admin/r/", "object_id"): patient.pk, ("admin/auth/user/", "id"): users["reception"].pk,
        ("admin/idseq/sequence/", "pk"): sequence.pk, ("admin/otp_totp/totpdevice/", "pk"): device.pk,
        ("admin/", "app_label"): "patients",
        ("admin/", "url"): "no/such/page/",
        ("admin/patients/patient/^", "1"): patient.pk,
        ("admin/patients/patient/^", "2"): patient.history.first().history_id,
        **{(f"admin/{path}/", "object_id"): pk for path, pk in objects.items()},
        ("admin/", "object_id"): 0,  # models with no object here: the admin's "does not exist" answer
    }
    # A view that fails answers 500 here, listed with the others, instead of stopping the test at the first.
    clients = {"anonymous": (Client(raise_request_exception=False), APIClient(raise_request_exception=False))}
    for role, user in users.items():
        page = Client(raise_request_exception=False)
        page.force_login(user)
        api = APIClient(raise_request_exception=False)
        key = keys.get(role) or make_token(user)
        api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        clients[role] = (page, api)
    return {"clients": clients, "values": values}


_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)|\(([^)]*)\)")


def concrete_url(route: str, values: dict) -> str:
    """`route` with each parameter (`<int:pk>`, `(?P<pk>...)`, an unnamed group: `1`, `2`...) replaced by its
    value in `values` for the longest matching route prefix, and the regular expressions' syntax removed."""
    position = 0

    def value(match):
        nonlocal position
        name = match.group(1) or match.group(2)
        if name is None:
            position += 1
            name = str(position)
        start = route[: match.start()]
        prefixes = [prefix for prefix, param in values if param == name and start.startswith(prefix)]
        assert prefixes, f"no value for {name} in {route}"
        return str(values[max(prefixes, key=len), name])

    path = _PARAMETER.sub(value, route)
    path = path.replace("^", "").replace("/?$", "/").replace("$", "").replace("\\.", ".")
    return "/" + path


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_the_answer_of_the_table_on_every_url(world, role):
    page_client, api_client = world["clients"][role]
    wrong = []
    for route, _ in url_patterns():
        if route not in EXPECTED:
            continue  # test_every_url_pattern_has_a_rule names it
        url = concrete_url(route, world["values"])
        for cache in caches.all():  # the API's rate limits are not what this test is about
            cache.clear()
        client = api_client if route.startswith(("api/", "fhir/")) and route != "api/docs/" else page_client
        status = client.get(url).status_code
        expected = EXPECTED[route][ROLES.index(role)]
        if status != expected:
            wrong.append(f"{url}: {status}, expected {expected} ({route})")
    assert not wrong, "\n".join(wrong)
