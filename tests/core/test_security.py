"""Security settings: throttled password guessing, DRF throttles, production settings that
`check --deploy` finds nothing to say about."""

import os
import subprocess
import sys
from pathlib import Path

from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import make_user

ROOT = Path(__file__).resolve().parents[2]


def test_30_wrong_passwords_in_a_minute_on_the_token_endpoint_get_429_from_some_point_on(db):
    make_user("desk1", "reception")
    client = APIClient()
    statuses = [
        client.post("/api/v1/auth/token/", {"username": "desk1", "password": f"guess-{i}"}).status_code
        for i in range(30)
    ]
    first_429 = statuses.index(429)
    assert set(statuses[:first_429]) == {400}
    assert set(statuses[first_429:]) == {429}
    # Blocked means blocked: the right password is refused too until the minute has passed.
    right = client.post("/api/v1/auth/token/", {"username": "desk1", "password": "pw-desk1"})
    assert right.status_code == 429 and "Retry-After" in right.headers


def test_login_attempts_are_counted_in_the_cache_every_worker_shares_and_api_requests_in_none(production_caches):
    user = make_user("desk1", "reception")
    client = APIClient()
    client.post("/api/v1/auth/token/", {"username": "desk1", "password": "guess"})
    client.force_authenticate(user)
    assert client.get("/api/v1/patients/").status_code == 200
    with connection.cursor() as cursor:  # the database cache: one count, the login's (per client address)
        cursor.execute("SELECT cache_key FROM tokenline_cache")
        assert [key for (key,) in cursor.fetchall()] == [":1:throttle_login_127.0.0.1"]


def test_behind_a_proxy_login_attempts_are_counted_per_client_address_the_proxy_saw(db, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}  # NUM_PROXIES=1 in the environment
    make_user("desk1", "reception")

    def attempt(client_address, sent_by_client):
        # nginx's $proxy_add_x_forwarded_for: what the client sent, then the address nginx saw it come from.
        return APIClient().post("/api/v1/auth/token/", {"username": "desk1", "password": "guess"},
                                REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"{sent_by_client}, {client_address}")

    statuses = [attempt("10.0.0.7", f"10.9.9.{i}").status_code for i in range(12)]  # a new made-up address each time
    assert statuses[-1] == 429
    assert attempt("10.0.0.8", "10.0.0.7").status_code == 400  # another desk behind the same proxy is not locked out


def test_the_right_password_gets_a_token(db):
    make_user("desk1", "reception")
    response = APIClient().post("/api/v1/auth/token/", {"username": "desk1", "password": "pw-desk1"})
    assert response.status_code == 200 and response.json()["token"]


def test_the_login_page_refuses_attempts_past_the_limit_with_a_message(db):
    make_user("desk1", "reception")
    client = Client()
    statuses = [
        client.post("/login/", {"username": "desk1", "password": f"guess-{i}"}).status_code for i in range(15)
    ]
    assert statuses[0] == 200 and statuses[-1] == 429
    last = client.post("/login/", {"username": "desk1", "password": "pw-desk1"})
    assert last.status_code == 429
    assert b"Too many login attempts" in last.content


def test_a_user_past_the_user_rate_gets_429(api, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": "3/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    # DRF copies the rates onto the class when it is imported; follow the changed setting for this test.
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        statuses = [api.get("/api/v1/patients/").status_code for _ in range(5)]
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
    assert statuses == [200, 200, 200, 429, 429]


def test_check_deploy_with_debug_off_finds_no_issues():
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SECURE", "SESSION_", "CSRF_"))}
    env.update(
        DEBUG="false",
        SECRET_KEY="a-production-secret-" + "x7Qp2" * 12,
        ALLOWED_HOSTS="tokenline.hospital.lan",
        DATABASE_URL="postgres://tokenline@127.0.0.1:5432/tokenline",  # not connected to by `check`
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
