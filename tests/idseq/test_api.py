"""The sequences API under /api/v1/sequences/: statuses, roles, idempotency, and nothing half-written."""

import json
import urllib.request

import pytest
from django.contrib.auth.models import User
from django.db import OperationalError, connections
from rest_framework.test import APIClient

from idseq import services
from idseq.models import IssuedNumber, Sequence
from tests.conftest import make_token, make_user, run_in_threads

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def admin_api(db):
    return client_for(make_user("boss", "admin", is_staff=True))


@pytest.fixture
def ops_api(db):
    return client_for(make_user("watcher", "ops"))


def test_next_and_bulk_issue_ids(admin_api):
    assert admin_api.post("/api/v1/sequences/INV/next/").json() == {"id": "INV-AAA0001"}
    response = admin_api.post("/api/v1/sequences/INV/bulk/", {"count": 3}, format="json")
    assert response.status_code == 201
    assert response.json() == {"ids": ["INV-AAA0002", "INV-AAA0003", "INV-AAA0004"]}


def test_next_on_a_new_prefix_creates_it_and_a_bad_prefix_gets_400_with_the_pattern(admin_api):
    assert admin_api.post("/api/v1/sequences/NEW1/next/").json() == {"id": "NEW1-AAA0001"}
    response = admin_api.post("/api/v1/sequences/bad-prefix/next/")
    assert response.status_code == 400
    assert "^[A-Z][A-Z0-9]{0,9}$" in response.json()["detail"]
    assert not Sequence.objects.filter(key="bad-prefix").exists()


@pytest.mark.parametrize("count", [0, 10_001, "ten", None])
def test_a_bad_count_gets_400_and_takes_nothing(admin_api, count):
    body = {} if count is None else {"count": count}
    response = admin_api.post("/api/v1/sequences/INV/bulk/", body, format="json")
    assert response.status_code == 400
    assert "count" in response.json()
    assert not IssuedNumber.objects.exists()


def test_list_and_detail_show_usage_and_unknown_keys_get_404(ops_api):
    services.next_ids("INV", 2)
    listing = ops_api.get("/api/v1/sequences/").json()
    inv = next(row for row in listing["results"] if row["key"] == "INV")
    assert inv["usage"]["issued"] == 2 and inv["usage"]["next_id"] == "INV-AAA0003"
    assert ops_api.get("/api/v1/sequences/mrn-dated/").json()["kind"] == "dated"
    assert ops_api.get("/api/v1/sequences/NOPE/").status_code == 404
    assert ops_api.get("/api/v1/sequences/NOPE/issued/").status_code == 404


def test_only_admin_creates_sequences(admin_api, ops_api):
    body = {"key": "visits", "kind": "dated", "prefix": "VIS", "reset": "daily"}
    assert ops_api.post("/api/v1/sequences/", body, format="json").status_code == 403
    response = admin_api.post("/api/v1/sequences/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["usage"]["next_id"].startswith("VIS-")
    taken = admin_api.post("/api/v1/sequences/", body, format="json")
    assert taken.status_code == 400 and "key" in taken.json()
    bad = admin_api.post("/api/v1/sequences/", {**body, "key": "v2", "prefix": "BAD-"}, format="json")
    assert bad.status_code == 400 and "^[A-Z][A-Z0-9]{0,9}$" in bad.json()["prefix"][0]


def test_reset_moves_forward_refuses_backward_and_unparsable_ids_and_non_admins(admin_api, ops_api):
    url = "/api/v1/sequences/TEST/reset/"
    response = admin_api.post(url, {"last_id": "TEST-ZZZ9999"}, format="json")
    assert response.json() == {"key": "TEST", "next_id": "TEST-AAAA0001"}
    admin_api.post("/api/v1/sequences/TEST/next/")
    backward = admin_api.post(url, {"last_id": "TEST-AAA0001"}, format="json")
    assert backward.status_code == 409 and "TEST-AAAA0001" in backward.json()["detail"]
    garbled = admin_api.post(url, {"last_id": "TEST-AB12"}, format="json")
    assert garbled.status_code == 400 and "TEST-AAANNNN" in garbled.json()["detail"]
    assert ops_api.post(url, {"last_id": "TEST-ZZZZ9999"}, format="json").status_code == 403
    assert admin_api.post("/api/v1/sequences/TEST/next/").json() == {"id": "TEST-AAAA0002"}


def test_roles_without_the_issue_permission_get_403_and_anonymous_401(ops_api):
    assert ops_api.post("/api/v1/sequences/INV/next/").status_code == 403
    desk = client_for(make_user("desk", "reception"))
    assert desk.post("/api/v1/sequences/INV/bulk/", {"count": 1}, format="json").status_code == 403
    assert APIClient().post("/api/v1/sequences/INV/next/").status_code == 401
    assert not IssuedNumber.objects.exists()


def test_the_ledger_lists_issued_ids_filtered_by_range_and_date(ops_api):
    services.next_ids("INV", 5)
    services.void_id("INV", "INV-AAA0002", reason="cancelled invoice")
    page = ops_api.get("/api/v1/sequences/INV/issued/").json()
    assert page["count"] == 5 and page["results"][1]["void_reason"] == "cancelled invoice"
    ranged = ops_api.get("/api/v1/sequences/INV/issued/", {"from_id": "INV-AAA0002", "to_id": "INV-AAA0003"}).json()
    assert [row["id"] for row in ranged["results"]] == ["INV-AAA0002", "INV-AAA0003"]
    today = ops_api.get("/api/v1/sequences/INV/issued/", {"date": services.timezone.localdate().isoformat()})
    assert today.json()["count"] == 5
    assert ops_api.get("/api/v1/sequences/INV/issued/", {"date_to": "2000-01-01"}).json()["count"] == 0
    bad = ops_api.get("/api/v1/sequences/INV/issued/", {"from_id": "INV-1"})
    assert bad.status_code == 400 and "INV-AAANNNN" in bad.json()["detail"]


def test_void_needs_a_reason_and_a_known_id(admin_api):
    services.next_id("INV")
    url = "/api/v1/sequences/INV/void/"
    assert admin_api.post(url, {"id": "INV-AAA0009", "reason": "gone"}, format="json").status_code == 404
    assert admin_api.post(url, {"id": "INV-AAA0001"}, format="json").status_code == 400
    assert admin_api.post(url, {"id": "INV-AAA0001", "reason": "gone"}, format="json").json()["void_reason"] == "gone"


def test_the_same_idempotency_key_returns_the_same_id_and_a_different_body_gets_422(admin_api):
    url = "/api/v1/sequences/INV/next/"
    first = admin_api.post(url, {"purpose": "invoice 1"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = admin_api.post(url, {"purpose": "invoice 1"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in first and again["Idempotent-Replayed"] == "true"
    assert first.json() == again.json() == {"id": "INV-AAA0001"}
    other = admin_api.post(url, {"purpose": "invoice 2"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]
    bulk = "/api/v1/sequences/INV/bulk/"
    ids = admin_api.post(bulk, {"count": 2}, format="json", HTTP_IDEMPOTENCY_KEY="k-2").json()["ids"]
    assert admin_api.post(bulk, {"count": 2}, format="json", HTTP_IDEMPOTENCY_KEY="k-2").json()["ids"] == ids
    assert IssuedNumber.objects.count() == 3


def test_health_answers_with_usage_and_takes_no_number(ops_api):
    response = ops_api.get("/api/v1/sequences/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy" and body["sample_id"] == "HEALTH-AAA0001"
    assert {"sequence_count", "db_roundtrip_ms", "timestamp", "sequences"} <= set(body)
    assert not IssuedNumber.objects.exists()


def test_health_answers_503_when_the_database_does_not(monkeypatch):
    superuser = User(username="root", is_superuser=True, is_active=True)  # has_perm without a query

    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connections["default"], "cursor", refuse)
    response = client_for(superuser).get("/api/v1/sequences/health/")
    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"
    assert "refused" not in response.content.decode()  # the driver's message is logged, not shown


@pytest.mark.django_db(transaction=True)
def test_16_identical_http_requests_at_once_get_one_number(live_server):
    token = make_token(make_user("boss", "admin", is_staff=True))

    def post(i):
        request = urllib.request.Request(
            f"{live_server.url}/api/v1/sequences/REC/next/", data=b"{}", method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Token {token}",
                     "Idempotency-Key": "same-request"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["id"]

    ids, errors = run_in_threads(post, 16)
    assert not errors
    assert ids == ["REC-AAA0001"] * 16
    assert IssuedNumber.objects.filter(sequence__key="REC").count() == 1


def test_a_void_records_who_voided_and_when(db):
    client = APIClient()
    client.force_authenticate(make_user("boss", "admin"))
    issued = services.next_id("INV")
    response = client.post("/api/v1/sequences/INV/void/", {"id": issued, "reason": "cancelled"}, format="json")
    assert response.status_code == 200 and response.json()["voided_by"] == "boss"
    number = IssuedNumber.objects.get(formatted=issued)
    assert number.voided_by.username == "boss" and number.voided_at is not None
