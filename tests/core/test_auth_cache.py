"""Token lookups kept per process (core.authentication): a desk's repeated requests send no authentication query,
and a revoked token, an expired one, a deactivated user or a removed role stops working at once in the process that
made the change and within TOKENLINE_AUTH_CACHE_SECONDS in the others (a change another worker made, seen here as a
change in SQL that sends no signal)."""

import datetime
import time

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import make_token, make_user
from tests.core.test_api_tokens import client_with

WINDOW = 0.5  # seconds, short so the tests can wait it out


@pytest.fixture
def window(settings):
    settings.TOKENLINE_AUTH_CACHE_SECONDS = WINDOW


@pytest.fixture
def desk(db, window):
    """(user, API client) of a reception desk whose token was read once, so the next request uses the kept one."""
    user = make_user("desk1", "reception")
    client = client_with(make_token(user))
    assert client.get("/api/v1/patients/").status_code == 200
    return user, client


def auth_queries(client) -> tuple[int, list[str]]:
    """(status of GET /api/v1/patients/, the statements it sent that read tokens)."""
    with CaptureQueriesContext(connection) as captured:
        status = client.get("/api/v1/patients/").status_code
    return status, [q["sql"] for q in captured.captured_queries if "knox_authtoken" in q["sql"]]


def in_sql(statement: str, *params) -> None:
    """A change made by another worker: this process gets no signal."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_a_kept_token_sends_no_authentication_query(desk):
    _, client = desk
    assert auth_queries(client) == (200, [])


def test_with_a_window_of_0_every_request_reads_the_token(desk, settings):
    settings.TOKENLINE_AUTH_CACHE_SECONDS = 0
    _, client = desk
    status, queries = auth_queries(client)
    assert status == 200 and len(queries) == 1


def test_a_token_revoked_by_logout_answers_401_at_once(desk):
    _, client = desk
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert client.get("/api/v1/patients/").status_code == 401


def test_a_token_deleted_by_another_worker_answers_401_within_the_window(desk):
    user, client = desk
    in_sql("DELETE FROM knox_authtoken WHERE user_id = %s", user.pk)
    assert client.get("/api/v1/patients/").status_code == 200  # kept: the window this setting allows
    time.sleep(WINDOW + 0.1)
    assert client.get("/api/v1/patients/").status_code == 401


def test_a_kept_token_past_its_expiry_answers_401_at_once(db, window):
    client = client_with(make_token(make_user("desk1", "reception"), ttl=datetime.timedelta(hours=1)))
    assert client.get("/api/v1/patients/").status_code == 200
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=1, seconds=1)):
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/api/v1/patients/")
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    assert not captured.captured_queries  # refused from the kept lookup, not by reading the token again


def test_a_user_deactivated_here_answers_401_at_once(desk):
    user, client = desk
    user.is_active = False
    user.save()
    assert client.get("/api/v1/patients/").status_code == 401


def test_a_user_deactivated_by_another_worker_answers_401_within_the_window(desk):
    user, client = desk
    in_sql("UPDATE auth_user SET is_active = false WHERE id = %s", user.pk)
    time.sleep(WINDOW + 0.1)
    assert client.get("/api/v1/patients/").status_code == 401


def test_a_role_removed_here_counts_at_once(desk):
    user, client = desk
    user.groups.clear()
    assert client.get("/api/v1/patients/").status_code == 403


def test_each_request_gets_its_own_user(desk):
    _, client = desk
    seen = [client.get("/api/v1/patients/").wsgi_request.user for _ in range(2)]
    assert seen[0] is not seen[1] and seen[0].pk == seen[1].pk
