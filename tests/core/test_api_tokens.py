"""API tokens that end: stored as digests, with an expiry and revocation, read in one query; DRF's plaintext keys
carried over by migration so that configured terminals keep working."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.conftest import make_token, make_user, migrate


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_login_gives_a_token_with_an_expiry_and_only_its_digest_is_stored(db, settings):
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": datetime.timedelta(hours=12)}
    make_user("desk1", "reception")
    before = timezone.now()
    body = APIClient().post("/api/v1/auth/token/", {"username": "desk1", "password": "pw-desk1"}).json()
    expiry = datetime.datetime.fromisoformat(body["expiry"])
    assert before + datetime.timedelta(hours=12) <= expiry <= timezone.now() + datetime.timedelta(hours=12)
    (row,) = AuthToken.objects.values("digest", "token_key")
    assert row["digest"] == hash_token(body["token"]) and body["token"] not in row.values()
    assert client_with(body["token"]).get("/api/v1/patients/").status_code == 200


def test_an_expired_token_answers_401_naming_the_expiry(db):
    key = make_token(make_user("desk1", "reception"), ttl=datetime.timedelta(hours=1))
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=59)):
        assert client_with(key).get("/api/v1/patients/").status_code == 200
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=61)):
        response = client_with(key).get("/api/v1/patients/")
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    assert response["WWW-Authenticate"] == "Token"


def test_a_revoked_token_stops_working_at_once(db):
    user = make_user("desk1", "reception")
    key, other = make_token(user), make_token(user)
    assert client_with(key).post("/api/v1/auth/logout/").status_code == 204
    response = client_with(key).get("/api/v1/patients/")
    assert response.status_code == 401 and response.json()["detail"] == "Invalid token."
    assert client_with(other).get("/api/v1/patients/").status_code == 200  # the user's other sessions go on


def test_a_token_is_checked_with_its_user_and_permissions_in_one_query(db, settings):
    settings.TOKENLINE_AUTH_CACHE_SECONDS = 0  # read on every request (tests/core/test_auth_cache.py: kept)
    client = client_with(make_token(make_user("desk1", "reception")))
    client.get("/api/v1/patients/?q=zz")  # warm: content types
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/v1/patients/?q=001-00-001").status_code == 200
    token_queries = [q["sql"] for q in captured.captured_queries if "knox_authtoken" in q["sql"]]
    assert len(token_queries) == 1 and "auth_permission" in token_queries[0]
    assert not [q["sql"] for q in captured.captured_queries if "auth_user" in q["sql"]
                and "knox_authtoken" not in q["sql"]]


@pytest.mark.django_db(transaction=True)
def test_drf_keys_are_hashed_by_the_migration_and_keep_working():
    user = make_user("terminal-lab9", "lab_terminal")
    MigrationExecutor(connection).migrate([("core", None)])  # before: DRF's authtoken table, the key as given
    legacy = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO authtoken_token (key, user_id, created) VALUES (%s, %s, now())", [legacy, user.pk])
    migrate()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone() == (0,)  # no key left as given
    token = AuthToken.objects.get(user=user)
    assert token.digest == hash_token(legacy) and token.expiry > timezone.now() + datetime.timedelta(days=300)
    assert client_with(legacy).get("/api/v1/terminals/").status_code == 200
