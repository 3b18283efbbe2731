"""Migrations patients 0006 and terminals 0005-0006: plain-digit offline MRNs become grouped, stay
findable as printed, their ranges become reservations with the synced numbers in the ledger and the range's cursor
(`current`) in the reservation; and all of it goes back."""

import io

import pytest
from django.core.management import call_command

from idseq.models import IssuedNumber, Reservation
from patients.models import Patient
from patients.selectors import search_patients
from terminals.models import TerminalRange
from tests.conftest import migrate
from tests.terminals.conftest import seed_migration

BEFORE = [("patients", "0005_convert_legacy_mrns"), ("terminals", "0002_seed_terminals")]


@pytest.fixture
def before(transactional_db):
    apps = migrate(*BEFORE)
    yield apps
    migrate()


def test_plain_offline_mrns_become_grouped_and_findable_as_printed_and_go_back(before):
    Patient_ = before.get_model("patients", "Patient")
    seed_migration.create_terminals(before, None)  # gone if an earlier transactional test emptied the tables
    terminal = before.get_model("terminals", "LabTerminal").objects.get(code="LAB1-PC")
    terminal.ranges.filter(start=710000).update(current=710001)
    for mrn in ("710000", "710001"):
        Patient_.objects.create(mrn=mrn, full_name=f"Offline {mrn}", is_offline_entry=True, origin_terminal=terminal)
    migrate()
    assert sorted(Patient.objects.values_list("mrn", flat=True)) == ["007-10-000", "007-10-001"]
    assert [p.mrn for p in search_patients("710000").patients] == ["007-10-000"]
    reservation = Reservation.objects.get(owner="LAB1-PC")
    assert (reservation.first_value, reservation.last_value, reservation.issued) == (710000, 719999, 2)
    assert (reservation.next_value, TerminalRange.objects.get(start=710000).current) == (710002, 710001)
    assert Reservation.objects.get(owner="LAB2-PC").next_value == 720000  # nothing handed out
    assert sorted(IssuedNumber.objects.values_list("formatted", flat=True)) == ["007-10-000", "007-10-001"]
    call_command("idseq_check", stdout=io.StringIO())

    migrate(*BEFORE)
    assert sorted(Patient_.objects.values_list("mrn", flat=True)) == ["710000", "710001"]
    assert not Reservation.objects.filter(owner="LAB1-PC").exists()
    assert terminal.ranges.get(start=710000).current == 710001


def test_an_offline_number_also_held_online_stops_the_migration_naming_both(before):
    Patient_ = before.get_model("patients", "Patient")
    Patient_.objects.create(mrn="710000", full_name="Offline", is_offline_entry=True)
    Patient_.objects.create(mrn="007-10-000", full_name="Online")
    with pytest.raises(RuntimeError, match="710000 = 007-10-000"):
        migrate()
    Patient_.objects.filter(mrn="710000").delete()
