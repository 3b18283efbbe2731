"""Terminals in the admin: utilisation at a glance, ranges added safely, keys issued and revoked."""

import datetime
import re

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken
from rest_framework.test import APIClient

from terminals import services
from terminals.models import LabTerminal
from tests.conftest import make_user
from tests.terminals.conftest import hand_out_up_to


@pytest.fixture
def admin_client(seed_terminals) -> Client:
    client = Client()
    client.force_login(make_user("boss", "admin", is_staff=True))
    return client


def inline_form(terminal: LabTerminal, new: list[tuple[int, int]]) -> dict:
    """The change form's POST data: the terminal's fields, its ranges (existing unchanged, plus `new`), no leases."""
    existing = list(terminal.ranges.order_by("pk"))
    data = {
        "code": terminal.code, "name": terminal.name, "is_active": "on",
        "ranges-TOTAL_FORMS": str(len(existing) + len(new)), "ranges-INITIAL_FORMS": str(len(existing)),
        "leases-TOTAL_FORMS": "0", "leases-INITIAL_FORMS": "0",
    }
    for i, block in enumerate(existing):
        data.update({f"ranges-{i}-id": str(block.pk), f"ranges-{i}-terminal": str(terminal.pk),
                     f"ranges-{i}-is_active": "on"})
    for i, (start, end) in enumerate(new, start=len(existing)):
        data.update({f"ranges-{i}-start": str(start), f"ranges-{i}-end": str(end), f"ranges-{i}-is_active": "on"})
    return data


def test_the_list_shows_ranges_current_use_and_highlights_80_and_90_percent(admin_client):
    hand_out_up_to(718499, terminal__code="LAB1-PC")  # 85 %
    hand_out_up_to(729499, terminal__code="LAB2-PC")  # 95 %
    html = admin_client.get("/admin/terminals/labterminal/").content.decode()
    assert "710000-719999" in html and "718499" in html and "8,500 / 10,000" in html and "1,500" in html
    assert '<span style="background:#fde68a">85.0 %</span>' in html
    assert '<span style="background:#fca5a5;font-weight:bold">95.0 %</span>' in html
    assert '<span style="">0.0 %</span>' in html


def test_adding_an_overlapping_range_shows_a_form_error_naming_the_other_terminal(admin_client):
    terminal = LabTerminal.objects.get(code="LAB1-PC")
    response = admin_client.post(f"/admin/terminals/labterminal/{terminal.pk}/change/",
                                 inline_form(terminal, [(729000, 739999)]))
    assert response.status_code == 200
    assert "729000-739999 overlaps range 720000-729999 of terminal LAB2-PC." in response.content.decode()
    assert terminal.ranges.count() == 1


def test_adding_a_free_range_records_who_added_it(admin_client):
    terminal = LabTerminal.objects.get(code="LAB1-PC")
    response = admin_client.post(f"/admin/terminals/labterminal/{terminal.pk}/change/",
                                 inline_form(terminal, [(750000, 759999)]))
    assert response.status_code == 302, response.content.decode()[-3000:]
    added = terminal.ranges.get(start=750000)
    assert (added.end, added.current, added.created_by.username) == (759999, 0, "boss")


def test_a_saved_ranges_bounds_cannot_be_changed(admin_client):
    terminal = LabTerminal.objects.get(code="LAB1-PC")
    data = inline_form(terminal, [])
    data.update({"ranges-0-start": "1", "ranges-0-end": "2"})
    assert admin_client.post(f"/admin/terminals/labterminal/{terminal.pk}/change/", data).status_code == 302
    assert str(terminal.ranges.get()) == "710000-719999"


def key_answers(key: str) -> int:
    """The status a terminal's API request with `key` gets."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/terminals/").status_code


def test_keys_are_issued_rotated_with_a_grace_period_and_revoked_with_admin_actions(admin_client, settings):
    settings.TOKENLINE_KEY_GRACE_HOURS = 2
    terminal = LabTerminal.objects.get(code="LAB2-PC")
    url = "/admin/terminals/labterminal/"
    response = admin_client.post(url, {"action": "issue_key", "_selected_action": [terminal.pk]}, follow=True)
    terminal.refresh_from_db()
    key = re.search(r"configure it on the terminal\): (\w+)", response.content.decode()).group(1)
    assert "the previous key keeps working for 2 hour(s)" in response.content.decode()
    assert terminal.user.groups.filter(name="lab_terminal").exists()
    stored = list(AuthToken.objects.filter(user=terminal.user).values_list("digest", "token_key"))
    assert stored == [(hash_token(key), key[:15])]  # its digest and knox's 15-character prefix, never the key
    assert key_answers(key) == 200
    response = admin_client.post(url, {"action": "issue_key", "_selected_action": [terminal.pk]}, follow=True)
    new_key = re.search(r"configure it on the terminal\): (\w+)", response.content.decode()).group(1)
    assert (key_answers(key), key_answers(new_key)) == (200, 200)  # the old key works while the new one is typed in
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=2, minutes=1)):
        assert (key_answers(key), key_answers(new_key)) == (401, 200)  # ... for the grace period only
    assert "valid until" in admin_client.get(url).content.decode()
    response = admin_client.post(url, {"action": "revoke_key", "_selected_action": [terminal.pk]}, follow=True)
    assert "Revoked the keys of: LAB2-PC." in response.content.decode()
    assert not AuthToken.objects.filter(user=terminal.user).exists()
    assert key_answers(new_key) == 401


def test_the_change_page_shows_ranges_with_their_use_and_the_leases(admin_client):
    terminal = LabTerminal.objects.get(code="LAB1-PC")
    services.issue_terminal_key(terminal=terminal)
    terminal.refresh_from_db()
    services.lease_block(terminal_code="LAB1-PC", user=terminal.user, count=250)
    html = admin_client.get(f"/admin/terminals/labterminal/{terminal.pk}/change/").content.decode()
    assert "250 / 10,000 (2.5 %)" in html and "710249" in html
    assert admin_client.get("/admin/terminals/labterminal/add/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_patients_page_shows_when_it_was_registered_at_the_terminal_and_when_it_synced(admin_client):
    from patients.models import Patient

    patient = Patient.objects.create(mrn="710000", full_name="Offline", is_offline_entry=True,
                                     registered_at="2026-11-03T09:15:00+05:00", synced_at="2026-11-03T13:40:00+05:00")
    html = admin_client.get(f"/admin/patients/patient/{patient.pk}/change/").content.decode()
    assert "Registered at" in html and "Nov. 3, 2026, 9:15 a.m." in html and "Nov. 3, 2026, 1:40 p.m." in html


def test_turning_a_range_off_records_who_and_when_and_the_admin_shows_it(admin_client):
    terminal = LabTerminal.objects.get(code="LAB1-PC")
    data = inline_form(terminal, [])
    del data["ranges-0-is_active"]  # unticked
    assert admin_client.post(f"/admin/terminals/labterminal/{terminal.pk}/change/", data).status_code == 302
    block = terminal.ranges.get()
    assert not block.is_active and block.switched_by.username == "boss" and block.switched_at is not None
    assert "boss" in admin_client.get(f"/admin/terminals/labterminal/{terminal.pk}/change/").content.decode()
