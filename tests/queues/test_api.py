"""The queues API under /api/v1/: visits, desk actions, queues and desks, integrity and board JSON."""

import pytest
from rest_framework.test import APIClient

from idseq.models import Counter, IssuedNumber
from queues import services
from queues.models import Queue, Visit
from tests.conftest import make_user
from tests.queues.conftest import make_desk, make_patients

S = Visit.Status


@pytest.fixture
def desk_api(asst):
    client = APIClient()
    client.force_authenticate(asst)
    return client


@pytest.fixture
def admin_api(db):
    client = APIClient()
    client.force_authenticate(make_user("boss", "admin", is_staff=True))
    return client


def issue(api, patient, queue="GEN", **extra):
    return api.post("/api/v1/visits/", {"patient": patient.pk, "queue": queue, **extra}, format="json")


def test_issuing_returns_201_with_token_position_and_estimate(desk_api, general):
    a, b = make_patients(2)
    issue(desk_api, a)
    response = issue(desk_api, b, queue=general.pk, priority="low")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["token"], body["token_number"], body["queue_code"], body["mrn"]) == ("GEN-002", 2, "GEN", b.mrn)
    assert (body["status"], body["priority"], body["position"], body["estimated_wait_minutes"]) == (
        "waiting", "low", 2, 10
    )
    assert body["issued_by"] == "asst"


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"queue": "NOPE"}, 404, "detail"),
        ({"queue": 99999}, 404, "detail"),
        ({"patient": 99999}, 404, "detail"),
        ({"priority": "urgent"}, 400, "priority"),
        ({"patient": "abc"}, 400, "patient"),
    ],
)
def test_bad_input_gets_a_clear_error_and_takes_no_token(desk_api, general, body, status, field):
    (patient,) = make_patients(1)
    response = desk_api.post("/api/v1/visits/", {"patient": patient.pk, "queue": "GEN", **body}, format="json")
    assert response.status_code == status, response.content
    assert field in response.json()
    assert not Visit.objects.exists()
    assert not Counter.objects.filter(sequence__key="visit-token").exists()


def test_an_inactive_queue_and_a_second_open_visit_get_409(desk_api, general, lab):
    (patient,) = make_patients(1)
    lab.is_active = False
    lab.save()
    response = issue(desk_api, patient, queue="LAB")
    assert response.status_code == 409 and "inactive" in response.json()["detail"]
    issue(desk_api, patient)
    response = issue(desk_api, patient)
    assert response.status_code == 409
    assert "GEN-001" in response.json()["detail"]
    assert Counter.objects.get(sequence__key="visit-token", scope__startswith="GEN-").last_value == 1
    assert IssuedNumber.objects.filter(sequence__key="visit-token").count() == 1  # the refused visit's row rolled back


def test_call_next_and_each_step_have_an_endpoint(desk_api, general, lab):
    desk = make_desk("Room 1", general)
    a, b = make_patients(2)
    first = issue(desk_api, a).json()
    second = issue(desk_api, b).json()
    called = desk_api.post(f"/api/v1/desks/{desk.pk}/call-next/")
    assert called.status_code == 200
    assert (called.json()["token"], called.json()["status"], called.json()["desk_name"]) == ("GEN-001", "called", "Room 1")
    busy = desk_api.post(f"/api/v1/desks/{desk.pk}/call-next/")
    assert busy.status_code == 409 and "complete it or mark it no-show first" in busy.json()["detail"]
    assert desk_api.post(f"/api/v1/visits/{first['id']}/no-show/").json()["status"] == "no_show"
    recalled = desk_api.post(f"/api/v1/visits/{first['id']}/recall/").json()
    assert (recalled["status"], recalled["token"], recalled["position"]) == ("waiting", "GEN-001", 2)
    desk_api.post(f"/api/v1/desks/{desk.pk}/call-next/")
    assert desk_api.post(f"/api/v1/visits/{second['id']}/start/").json()["status"] == "in_consultation"
    assert desk_api.post(f"/api/v1/visits/{second['id']}/complete/").json()["status"] == "completed"
    moved = desk_api.post(f"/api/v1/visits/{first['id']}/transfer/", {"queue": "LAB"}, format="json")
    assert moved.status_code == 201 and moved.json()["token"] == "LAB-001"
    assert moved.json()["transferred_from"] == first["id"]
    assert desk_api.post(f"/api/v1/visits/{moved.json()['id']}/cancel/").json()["status"] == "cancelled"


def test_an_action_not_allowed_now_gets_409_naming_the_status(desk_api, general):
    (patient,) = make_patients(1)
    visit = issue(desk_api, patient).json()
    response = desk_api.post(f"/api/v1/visits/{visit['id']}/complete/")
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "Visit GEN-001 cannot be completed: it is waiting (allowed when: in consultation)."
    )
    desk_api.post(f"/api/v1/visits/{visit['id']}/cancel/")
    response = desk_api.post(f"/api/v1/visits/{visit['id']}/recall/")
    assert response.status_code == 409 and "it is cancelled" in response.json()["detail"]


def test_unknown_desks_and_visits_get_404(desk_api, general):
    assert desk_api.post("/api/v1/desks/99999/call-next/").status_code == 404
    assert desk_api.post("/api/v1/visits/99999/start/").status_code == 404
    assert desk_api.post("/api/v1/visits/99999/transfer/", {"queue": "GEN"}, format="json").status_code == 404
    (patient,) = make_patients(1)
    visit = issue(desk_api, patient).json()
    assert desk_api.post(f"/api/v1/visits/{visit['id']}/transfer/", {"queue": "ZZZ"}, format="json").status_code == 404
    assert desk_api.post(f"/api/v1/visits/{visit['id']}/transfer/", {}, format="json").status_code == 400


def test_the_visit_list_filters_by_queue_date_and_status(desk_api, general, lab):
    a, b = make_patients(2)
    issue(desk_api, a)
    issue(desk_api, b)
    issue(desk_api, a, queue="LAB")
    services.cancel_visit(visit=Visit.objects.get(queue=general, token_number=2))
    listing = desk_api.get("/api/v1/visits/", {"queue": general.pk, "status": "waiting"}).json()
    assert [(v["token"], v["position"]) for v in listing["results"]] == [("GEN-001", 1)]
    assert desk_api.get("/api/v1/visits/", {"queue_code": "lab"}).json()["count"] == 1
    assert desk_api.get("/api/v1/visits/", {"date": "2001-01-01"}).json()["count"] == 0
    assert desk_api.get("/api/v1/visits/", {"date": "yesterday"}).status_code == 400
    detail = desk_api.get(f"/api/v1/visits/{listing['results'][0]['id']}/").json()
    assert (detail["position"], detail["estimated_wait_minutes"]) == (1, 0)


def test_queues_are_edited_by_admins_and_read_by_reception(desk_api, admin_api, general):
    assert desk_api.get("/api/v1/queues/").json()["results"][0]["code"] == "GEN"
    assert desk_api.post("/api/v1/queues/", {"name": "Dental", "code": "DEN"}, format="json").status_code == 403
    created = admin_api.post("/api/v1/queues/", {"name": "Dental", "code": "DEN"}, format="json")
    assert created.status_code == 201
    assert admin_api.post("/api/v1/queues/", {"name": "Bad", "code": "de n"}, format="json").status_code == 400
    desk = admin_api.post("/api/v1/desks/", {"name": "Chair 1", "queues": [created.json()["id"]]}, format="json")
    assert desk.status_code == 201
    assert desk_api.get(f"/api/v1/desks/{desk.json()['id']}/").json()["queues"] == [created.json()["id"]]
    (patient,) = make_patients(1)
    issue(desk_api, patient)
    response = admin_api.delete(f"/api/v1/queues/{general.pk}/")
    assert response.status_code == 409 and "is_active" in response.json()["detail"]
    assert Queue.objects.filter(pk=general.pk).exists()


def test_ops_reads_but_cannot_run_desks(db, general):
    desk = make_desk("Room 1", general)
    client = APIClient()
    client.force_authenticate(make_user("watcher", "ops"))
    assert client.get("/api/v1/visits/").status_code == 200
    assert client.post(f"/api/v1/desks/{desk.pk}/call-next/").status_code == 403
    (patient,) = make_patients(1)
    assert issue(client, patient).status_code == 403
    assert APIClient().post(f"/api/v1/desks/{desk.pk}/call-next/").status_code == 401


def test_integrity_and_board_json(desk_api, general):
    desk = make_desk("Room 1", general)
    a, b, c = make_patients(3)
    for patient in (a, b, c):
        issue(desk_api, patient)
    desk_api.post(f"/api/v1/desks/{desk.pk}/call-next/")
    report = desk_api.get(f"/api/v1/queues/{general.pk}/integrity/").json()
    assert report["ok"] and report["max_position"] == 2 and report["max_token"] == 3
    assert report["missing_positions"] == [] and report["duplicate_tokens"] == []
    assert desk_api.get(f"/api/v1/queues/{general.pk}/integrity/", {"date": "nope"}).status_code == 400
    board = desk_api.get(f"/api/v1/queues/{general.pk}/board/").json()
    assert board["called"][0]["token"] == "GEN-001" and board["called"][0]["desk"] == "Room 1"
    assert [v["token"] for v in board["queues"][0]["next"]] == ["GEN-002", "GEN-003"]
    assert a.full_name not in str(board)
