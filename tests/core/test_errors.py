"""Unexpected errors: logged with their traceback and a request id, which the 500 page and API body show; error
bodies never show the database's host, name or driver text; styled 403/404 pages give the reason."""

import logging

import pytest
from django.test import Client

from tests.conftest import make_user
from tests.core.urls import DRIVER_TEXT


@pytest.fixture
def failing(settings):
    settings.ROOT_URLCONF = "tests.core.urls"
    return Client(raise_request_exception=False)


@pytest.fixture
def request_log():
    """The records of django.request (which does not propagate to the root logger caplog listens on)."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    handler.addFilter(_request_id_filter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def _request_id_filter():
    from core.requests import RequestIdFilter

    return RequestIdFilter()


def test_every_response_carries_a_request_id(db):
    response = Client().get("/login/")
    assert len(response["X-Request-ID"]) == 32


def test_a_safe_incoming_request_id_is_kept(db):
    response = Client().get("/login/", headers={"X-Request-ID": "nginx-abc-12345"})
    assert response["X-Request-ID"] == "nginx-abc-12345"


def test_an_api_500_is_json_with_the_request_id_and_is_logged_with_traceback(db, failing, request_log):
    response = failing.get("/api/v1/broken/")
    assert response.status_code == 500
    body = response.json()
    assert body["request_id"] == response["X-Request-ID"]
    assert "a bug" not in body["detail"]
    (record,) = [r for r in request_log if r.status_code == 500]
    assert record.exc_info and record.request_id == body["request_id"]


def test_the_500_page_shows_the_request_id(db, failing, request_log):
    response = failing.get("/broken/")
    assert response.status_code == 500
    assert response["X-Request-ID"] in response.content.decode()
    assert "a bug in a page" not in response.content.decode()
    assert any(r.exc_info for r in request_log)


def test_a_database_outage_answers_503_without_host_name_or_driver_text(db, failing, caplog):
    response = failing.get("/api/v1/database-down/")
    assert response.status_code == 503
    text = response.content.decode()
    for leak in ("db.internal", "10.0.0.5", "5432", "tokenline", "FATAL"):
        assert leak not in text
    assert DRIVER_TEXT in caplog.text  # the details go to the log


def test_an_unknown_page_is_the_styled_404_with_the_reason(db):
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert b"There is nothing at this address" in response.content
    assert b"tokenline.css" in response.content


def test_an_unknown_api_path_is_json_404(db):
    response = Client().get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_page_the_role_may_not_open_is_403_saying_what_the_role_may_not_do(db):
    client = Client()
    client.force_login(make_user("ops1", "ops"))
    response = client.get("/patients/register/")
    assert response.status_code == 403
    assert b"Your role may not add patient." in response.content
