"""Seed 002's paths under /api/v1/: every one answers; bad input gets 400/404/409, never a 500, nothing written."""

import datetime
import json
import urllib.error
import urllib.request

import pytest
from rest_framework.test import APIClient

from idseq.models import Counter
from tests.conftest import make_token, make_user, run_in_threads
from tests.tokens.conftest import at, make_patients, make_slot
from tokens import services
from tokens.models import Category, Doctor, Slot, Token, WaitingListEntry


@pytest.fixture
def admin_api(db):
    client = APIClient()
    client.force_authenticate(make_user("boss", "admin", is_staff=True))
    return client


def iso(moment: datetime.datetime) -> str:
    return moment.isoformat()


def test_every_seed_path_answers(api, admin_api):
    doctor = admin_api.post("/api/v1/doctors/", {"name": "Dr. John Smith", "specialization": "Cardiology"},
                            format="json")
    assert doctor.status_code == 201, doctor.content
    doctor_id = doctor.json()["id"]
    assert admin_api.get(f"/api/v1/doctors/{doctor_id}/").json()["name"] == "Dr. John Smith"
    assert admin_api.put(f"/api/v1/doctors/{doctor_id}/", {"name": "Dr. J. Smith", "specialization": "Cardio"},
                         format="json").json()["name"] == "Dr. J. Smith"
    assert admin_api.patch(f"/api/v1/doctors/{doctor_id}/", {"specialization": "Cardiology"},
                           format="json").json()["name"] == "Dr. J. Smith"
    assert api.get("/api/v1/doctors/").json()["count"] == 1

    slot = admin_api.post("/api/v1/slots/", {"doctor": doctor_id, "start_time": iso(at(9)), "end_time": iso(at(10)),
                                             "max_capacity": 1}, format="json")
    assert slot.status_code == 201, slot.content
    slot_id = slot.json()["id"]
    assert api.get("/api/v1/slots/").json()["count"] == 1
    assert api.get(f"/api/v1/slots/{slot_id}/").json()["free_places"] == 1

    patient = api.post("/api/v1/patients/", {"name": "Jane Doe", "phone": "+1234567890"}, format="json").json()
    assert api.get(f"/api/v1/patients/{patient['id']}/").status_code == 200
    booked = api.post("/api/v1/tokens/", {"slot_id": slot_id, "patient_id": patient["id"], "category": "ONLINE"},
                      format="json")
    assert booked.status_code == 201, booked.content
    token = booked.json()
    assert (token["token_number"], token["position"], token["estimated_time"]) == (1, 1, iso(at(9)))

    (other, third) = make_patients(2)
    waiting = api.post("/api/v1/tokens/", {"slot_id": slot_id, "mrn": other.mrn, "category": "WALKIN"}, format="json")
    assert waiting.status_code == 202, waiting.content
    assert waiting.json()["waiting_position"] == 1
    assert api.get("/api/v1/waiting-list/").json()["count"] == 1
    assert [e["patient"] for e in api.get(f"/api/v1/waiting-list/by_slot/?slot_id={slot_id}").json()] == [other.pk]

    emergency = api.post("/api/v1/tokens/emergency/", {"slot_id": slot_id, "patient_id": third.pk}, format="json")
    assert emergency.status_code == 201, emergency.content
    assert (emergency.json()["token_number"], emergency.json()["position"]) == (2, 1)
    queue = api.get(f"/api/v1/slots/{slot_id}/tokens/").json()
    assert [(t["token_number"], t["position"]) for t in queue] == [(2, 1), (1, 2)]

    assert api.get(f"/api/v1/tokens/{token['id']}/").json()["status"] == "CONFIRMED"
    assert api.get(f"/api/v1/tokens/?slot={slot_id}&category=EMERGENCY").json()["count"] == 1
    assert api.get(f"/api/v1/tokens/?doctor={doctor_id}&date={at(9).date()}&status=CONFIRMED").json()["count"] == 2

    cancelled = api.delete(f"/api/v1/tokens/{token['id']}/")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["token"]["status"] == "CANCELLED" and cancelled.json()["promoted"] is None  # overflow
    no_show = api.post(f"/api/v1/tokens/{emergency.json()['id']}/no_show/")
    assert no_show.status_code == 200
    assert no_show.json()["promoted"]["patient"] == other.pk and no_show.json()["promoted"]["token_number"] == 3
    done = api.post(f"/api/v1/tokens/{no_show.json()['promoted']['id']}/complete/")
    assert done.status_code == 200 and done.json()["actual_time"]

    delayed = admin_api.put(f"/api/v1/slots/{slot_id}/delay/", {"delay_minutes": 30}, format="json")
    assert delayed.status_code == 200, delayed.content
    assert (delayed.json()["status"], delayed.json()["delay_minutes"], delayed.json()["cascaded"]) == ("DELAYED", 30, [])

    report = api.get(f"/api/v1/reports/daily/?date={at(9).date()}&doctor_id={doctor_id}")
    assert report.status_code == 200
    assert report.json()["total"]["completed"] == 1 and report.json()["total"]["no_shows"] == 1
    assert admin_api.delete(f"/api/v1/doctors/{doctor_id}/").status_code == 409  # has slots
    spare = services.create_doctor(name="Dr. Spare")
    assert admin_api.delete(f"/api/v1/doctors/{spare.pk}/").status_code == 204


def test_the_api_needs_a_login_and_the_right_role(db, slot):
    assert APIClient().get("/api/v1/tokens/").status_code == 401
    ops = APIClient()
    ops.force_authenticate(make_user("watcher", "ops"))
    assert ops.get("/api/v1/reports/daily/").status_code == 200
    (patient,) = make_patients(1)
    body = {"slot_id": str(slot.pk), "patient_id": patient.pk, "category": "ONLINE"}
    assert ops.post("/api/v1/tokens/", body, format="json").status_code == 403
    reception = APIClient()
    reception.force_authenticate(make_user("desk2", "reception"))
    assert reception.post("/api/v1/slots/", {}, format="json").status_code == 403
    assert reception.put(f"/api/v1/slots/{slot.pk}/delay/", {"delay_minutes": 5}, format="json").status_code == 403
    assert not Token.objects.exists()


@pytest.mark.parametrize(
    "change, status, text",
    [
        ({"end_time": iso(at(8))}, 400, "end_time"),
        ({"end_time": iso(at(9))}, 400, "end_time"),
        ({"max_capacity": 0}, 400, "max_capacity"),
        ({"start_time": iso(at(9, 30)), "end_time": iso(at(10, 30))}, 409, "overlaps"),
        ({"doctor": "7b7a3c1e-0000-4000-8000-000000000000"}, 404, "doctor"),
        ({"doctor": "nope"}, 400, "doctor"),
        ({"start_time": "tomorrow"}, 400, "start_time"),
        # Slots lie from a year back to two years ahead: 1970 or 2999 is a typing error.
        ({"start_time": "1970-01-01T09:00:00+05:00"}, 400, "A slot lies between"),
        ({"end_time": "2999-12-31T23:00:00Z"}, 400, "A slot lies between"),
        ({"start_time": "9999-12-31T23:00:00Z", "end_time": "9999-12-31T23:30:00Z"}, 400, "start_time"),
    ],
)
def test_bad_slots_are_refused_and_nothing_is_written(admin_api, doctor, change, status, text):
    make_slot(doctor, at(9))
    body = {"doctor": str(doctor.pk), "start_time": iso(at(10)), "end_time": iso(at(11)), "max_capacity": 5, **change}
    response = admin_api.post("/api/v1/slots/", body, format="json")
    assert response.status_code == status, response.content
    assert text in response.content.decode()
    assert Slot.objects.count() == 1


def test_touching_slots_do_not_overlap_and_a_cancelled_slot_frees_its_time(admin_api, doctor, slot):
    body = {"doctor": str(doctor.pk), "start_time": iso(at(10)), "end_time": iso(at(11)), "max_capacity": 5}
    assert admin_api.post("/api/v1/slots/", body, format="json").status_code == 201
    services.cancel_slot(slot_id=slot.pk)
    body = {**body, "start_time": iso(at(9)), "end_time": iso(at(10))}
    assert admin_api.post("/api/v1/slots/", body, format="json").status_code == 201


def booking_cases():
    return [
        ("cancelled slot", 409, "cancelled"),
        ("past slot", 409, "over"),
        ("unknown category", 400, "EMERGENCY, PRIORITY_PAID, FOLLOWUP, ONLINE, WALKIN"),
        ("unknown slot", 404, "slot"),
        ("malformed slot", 400, "slot_id"),
        ("unknown patient", 404, "patient"),
        ("unknown mrn", 404, "MRN"),
        ("malformed mrn", 400, "xxx-xx-xxx"),
        ("no patient", 400, "patient_id"),
        ("double booking", 409, "already holds token 1"),
        ("already waiting", 409, "waiting list"),
    ]


def test_a_booking_finds_the_patient_by_an_mrn_typed_without_dashes(api, doctor):
    slot = make_slot(doctor, at(9))
    (patient,) = make_patients(1)
    body = {"slot_id": str(slot.pk), "mrn": patient.mrn.replace("-", ""), "category": "WALKIN"}
    response = api.post("/api/v1/tokens/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["patient"] == patient.pk


@pytest.mark.parametrize("case, status, text", booking_cases())
def test_bad_bookings_are_refused_and_take_no_number(api, doctor, case, status, text):
    slot = make_slot(doctor, at(9), capacity=1)
    holder, patient = make_patients(2)
    services.book_token(slot_id=slot.pk, patient=holder, category=Category.ONLINE)
    body = {"slot_id": str(slot.pk), "patient_id": patient.pk, "category": "WALKIN"}
    if case == "cancelled slot":
        slot = services.cancel_slot(slot_id=slot.pk)
    elif case == "past slot":
        Slot.objects.filter(pk=slot.pk).update(start_time=at(9, days=-1), end_time=at(10, days=-1))
    elif case == "unknown category":
        body["category"] = "VIP"
    elif case == "unknown slot":
        body["slot_id"] = "7b7a3c1e-0000-4000-8000-000000000000"
    elif case == "malformed slot":
        body["slot_id"] = "42"
    elif case == "unknown patient":
        body["patient_id"] = 987654
    elif case in ("unknown mrn", "malformed mrn"):
        body = {**body, "mrn": "999-99-999" if case == "unknown mrn" else "12-34"}
        del body["patient_id"]
    elif case == "no patient":
        del body["patient_id"]
    elif case == "double booking":
        body["patient_id"] = holder.pk
    elif case == "already waiting":
        services.book_token(slot_id=slot.pk, patient=patient, category=Category.WALKIN)
    tokens, waiting = Token.objects.count(), WaitingListEntry.objects.count()
    response = api.post("/api/v1/tokens/", body, format="json")
    assert response.status_code == status, response.content
    assert text in response.content.decode()
    assert (Token.objects.count(), WaitingListEntry.objects.count()) == (tokens, waiting)
    assert Counter.objects.get(sequence__key="slot-token", scope=services.token_scope(slot)).last_value == 1


@pytest.mark.parametrize(
    "path, method",
    [
        ("/api/v1/tokens/{}/", "get"),
        ("/api/v1/tokens/{}/", "delete"),
        ("/api/v1/tokens/{}/no_show/", "post"),
        ("/api/v1/tokens/{}/complete/", "post"),
        ("/api/v1/slots/{}/", "get"),
        ("/api/v1/slots/{}/tokens/", "get"),
        ("/api/v1/doctors/{}/", "get"),
        ("/api/v1/waiting-list/by_slot/?slot_id={}", "get"),
    ],
)
@pytest.mark.parametrize("bad_id", ["7b7a3c1e-0000-4000-8000-000000000000", "not-a-uuid"])
def test_unknown_ids_get_404(api, path, method, bad_id):
    assert getattr(api, method)(path.format(bad_id)).status_code == 404


def test_ending_a_token_twice_is_a_409(api, slot):
    (patient,) = make_patients(1)
    token = services.book_token(slot_id=slot.pk, patient=patient, category=Category.ONLINE)
    assert api.delete(f"/api/v1/tokens/{token.pk}/").status_code == 200
    for response in (api.delete(f"/api/v1/tokens/{token.pk}/"), api.post(f"/api/v1/tokens/{token.pk}/no_show/"),
                     api.post(f"/api/v1/tokens/{token.pk}/complete/")):
        assert response.status_code == 409 and "cancelled" in response.json()["detail"]


@pytest.mark.parametrize("body", [{"delay_minutes": -5}, {"delay_minutes": 721}, {"delay_minutes": "late"}, {}])
def test_bad_delays_get_400(admin_api, slot, body):
    assert admin_api.put(f"/api/v1/slots/{slot.pk}/delay/", body, format="json").status_code == 400
    slot.refresh_from_db()
    assert (slot.delay_minutes, slot.status) == (0, "ACTIVE")


def test_the_waiting_list_by_slot_needs_a_slot_id(api):
    response = api.get("/api/v1/waiting-list/by_slot/")
    assert response.status_code == 400 and "slot_id" in response.json()


def test_bad_report_queries_get_400(api):
    assert api.get("/api/v1/reports/daily/?date=01/02/2026").status_code == 400
    assert api.get("/api/v1/reports/daily/?doctor_id=x").status_code == 400
    assert api.get("/api/v1/reports/daily/?doctor_id=7b7a3c1e-0000-4000-8000-000000000000").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_16_concurrent_http_bookings_of_one_patient_get_one_201(live_server):
    slot = make_slot(services.create_doctor(name="Dr. Race"), at(9))
    (patient,) = make_patients(1)
    key = make_token(make_user("desk9", "reception"))

    def post(i):
        request = urllib.request.Request(
            f"{live_server.url}/api/v1/tokens/",
            data=json.dumps({"slot_id": str(slot.pk), "patient_id": patient.pk, "category": "ONLINE"}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Token {key}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    statuses, errors = run_in_threads(post, 16)
    assert not errors
    assert sorted(statuses) == [201] + [409] * 15
    assert Token.objects.get().token_number == 1


@pytest.mark.django_db(transaction=True)
def test_one_patient_booked_into_two_slots_of_a_doctor_at_once_gets_one_token():
    doctor = services.create_doctor(name="Dr. Twin")
    slots = [make_slot(doctor, at(7, 30) + i * datetime.timedelta(minutes=30), minutes=30) for i in range(16)]
    (patient,) = make_patients(1)

    booked, errors = run_in_threads(
        lambda i: services.book_token(slot_id=slots[i].pk, patient=patient, category=Category.ONLINE), 16
    )
    assert len(booked) == 1 and len(errors) == 15
    assert all(isinstance(e, services.DoubleBooking) for e in errors)
    assert Counter.objects.filter(sequence__key="slot-token", last_value__gt=0).count() == 1
    assert Doctor.objects.get().pk == doctor.pk


def test_the_api_schema_documents_the_opd_paths(api, reception):
    client = APIClient()
    client.force_authenticate(reception)
    schema = client.get("/api/schema/").content.decode()
    for path in ["/api/v1/doctors/", "/api/v1/slots/{id}/delay/", "/api/v1/slots/{id}/tokens/",
                 "/api/v1/tokens/emergency/", "/api/v1/tokens/{id}/no_show/", "/api/v1/tokens/{id}/complete/",
                 "/api/v1/reports/daily/", "/api/v1/waiting-list/by_slot/"]:
        assert path in schema, path


def test_a_delay_answers_with_the_slot_and_the_later_slots_it_pushed(admin_api, doctor, slot):
    later = make_slot(doctor, at(10, 10))
    response = admin_api.put(f"/api/v1/slots/{slot.pk}/delay/", {"delay_minutes": 25}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["delay_minutes"]) == (str(slot.pk), 25)
    assert [(s["id"], s["delay_minutes"], s["status"]) for s in body["cascaded"]] == [(str(later.pk), 15, "DELAYED")]
