"""Admin screens: sequences with usage columns, add and reset through the services, a read-only ledger."""

import pytest
from django.test import Client

from idseq import services
from idseq.models import Sequence
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db):
    make_user("boss", "admin", is_staff=True)
    client = Client()
    client.login(username="boss", password="pw-boss")
    return client


def test_the_sequence_list_shows_usage_and_forecast_columns(admin_client):
    services.next_ids("INV", 3)
    html = admin_client.get("/admin/idseq/sequence/").content.decode()
    assert "INV-AAA0004" in html and "% used" in html and "Days left" in html


def test_adding_a_sequence_goes_through_the_service(admin_client):
    response = admin_client.post("/admin/idseq/sequence/add/", {
        "key": "visits", "kind": "dated", "prefix": "VIS", "padding": 4, "start_value": 1, "reset": "daily",
        "is_active": "on",
    })
    assert response.status_code == 302, response.content
    assert services.next_id("visits").startswith("VIS-")
    bad = admin_client.post("/admin/idseq/sequence/add/", {
        "key": "plainly", "kind": "plain", "padding": 4, "start_value": 1, "reset": "daily"})
    assert bad.status_code == 200 and "Only dated ids show their period" in bad.content.decode()


def test_the_format_is_read_only_once_created(admin_client):
    sequence = Sequence.objects.get(key="INV")
    page = admin_client.get(f"/admin/idseq/sequence/{sequence.pk}/change/").content.decode()
    assert 'name="prefix"' not in page and 'name="is_active"' in page and "Move this sequence forward" in page
    admin_client.post(f"/admin/idseq/sequence/{sequence.pk}/change/", {"prefix": "XXX", "padding": 9})
    sequence.refresh_from_db()
    assert (sequence.prefix, sequence.padding, sequence.is_active) == ("INV", 4, False)


def test_reset_from_the_admin_uses_the_service_and_shows_its_errors(admin_client):
    sequence = Sequence.objects.get(key="SAL")
    url = f"/admin/idseq/sequence/{sequence.pk}/reset/"
    assert "SAL-AAA0001" in admin_client.get(url).content.decode()
    assert admin_client.post(url, {"last_id": "SAL-ZZZ9999"}).status_code == 302
    assert services.peek("SAL") == "SAL-AAAA0001"
    html = admin_client.post(url, {"last_id": "SAL-AAA0005"}).content.decode()
    assert "never issued twice" in html
    garbled = admin_client.post(url, {"last_id": "junk"}).content.decode()
    assert "SAL-AAANNNN" in garbled


def test_ops_may_look_but_not_reset(db):
    make_user("watcher", "ops", is_staff=True)
    client = Client()
    client.login(username="watcher", password="pw-watcher")
    assert client.get("/admin/idseq/sequence/").status_code == 200
    assert client.get("/admin/idseq/issuednumber/").status_code == 200
    sequence = Sequence.objects.get(key="SAL")
    assert client.post(f"/admin/idseq/sequence/{sequence.pk}/reset/", {"last_id": "SAL-ZZZ9999"}).status_code == 403


def test_the_ledger_and_counters_cannot_be_edited_in_the_admin(admin_client):
    services.next_id("INV")
    assert admin_client.get("/admin/idseq/issuednumber/").status_code == 200
    assert admin_client.get("/admin/idseq/issuednumber/add/").status_code == 403
    assert admin_client.get("/admin/idseq/counter/add/").status_code == 403
