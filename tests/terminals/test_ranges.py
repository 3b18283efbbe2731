"""Where ranges may lie, how they fill up, and how they grow from the pool."""

import logging

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from idseq.models import Counter
from patients.models import Patient
from patients.services import register_patient
from terminals import services
from terminals.apps import check_offline_pool
from terminals.models import LabTerminal, TerminalRange
from tests.terminals.conftest import PATIENT, hand_out_up_to, seed_migration


def insert_range(terminal: LabTerminal, start: int, end: int) -> None:
    with connection.cursor() as cursor, transaction.atomic():
        cursor.execute(
            "INSERT INTO terminals_terminalrange (terminal_id, start, \"end\", is_active, from_pool, created_at)"
            " VALUES (%s, %s, %s, true, false, now())",
            [terminal.pk, start, end],
        )


def test_the_migration_creates_the_four_terminals_of_seed_001(seed_terminals):
    seed_migration.create_terminals(apps, None)  # running it again changes nothing
    rows = [(r.terminal.code, r.terminal.name, r.start, r.end, r.current)
            for r in TerminalRange.objects.select_related("terminal", "reservation").order_by("start")]
    assert rows == [
        ("LAB1-PC", "Lab 1 Workstation", 710000, 719999, 0),
        ("LAB2-PC", "Lab 2 Workstation", 720000, 729999, 0),
        ("RECEP-1", "Reception Desk 1", 730000, 739999, 0),
        ("RECEP-2", "Reception Desk 2", 740000, 749999, 0),
    ]


@pytest.mark.parametrize("start, end", [(719999, 720000), (700000, 710000), (715000, 715000), (600000, 800000)])
def test_the_database_itself_rejects_overlapping_ranges(seed_terminals, start, end):
    extra = LabTerminal.objects.create(code="LAB3-PC", name="Lab 3")
    with pytest.raises(IntegrityError, match="terminals_terminalrange_no_overlap"):
        insert_range(extra, start, end)


def test_the_database_accepts_adjacent_ranges_and_rejects_reversed_ones(seed_terminals):
    extra = LabTerminal.objects.create(code="LAB3-PC", name="Lab 3")
    insert_range(extra, 750000, 759999)
    with pytest.raises(IntegrityError, match="terminals_terminalrange_start_le_end"):
        insert_range(extra, 770000, 760000)
    # The cursor (the reservation's) stays inside the range: a number past its end would belong to another.
    with pytest.raises(IntegrityError, match="idseq_reservation_next_inside"), transaction.atomic():
        hand_out_up_to(720000, start=710000)


def test_a_new_range_naming_the_terminal_it_overlaps_is_refused(seed_terminals):
    extra = LabTerminal.objects.create(code="LAB3-PC", name="Lab 3")
    with pytest.raises(ValidationError, match="overlaps range 720000-729999 of terminal LAB2-PC"):
        services.add_range(terminal=extra, start=725000, end=735000)
    assert not extra.ranges.exists()


def test_a_new_range_must_start_above_the_online_mrns_in_use(db):
    terminal = LabTerminal.objects.create(code="LAB3-PC", name="Lab 3")
    register_patient(full_name="Online")
    Counter.objects.filter(key="mrn").update(last_value=760000)
    with pytest.raises(ValidationError, match=r"online MRNs in use \(up to 760000\)"):
        services.add_range(terminal=terminal, start=755000, end=764999)
    assert services.add_range(terminal=terminal, start=760001, end=769999).total == 9_999


def test_a_new_range_may_not_contain_a_number_already_stored_as_an_mrn(db):
    terminal = LabTerminal.objects.create(code="LAB3-PC", name="Lab 3")
    Patient.objects.create(mrn="765432", full_name="Legacy")
    Patient.objects.create(mrn="001-76-543", full_name="Online")
    with pytest.raises(ValidationError, match="contains MRN 765432"):
        services.add_range(terminal=terminal, start=760000, end=769999)
    services.add_range(terminal=terminal, start=770000, end=779999)


def test_numbers_continue_in_the_next_active_range_when_one_is_full(lab1):
    terminal = LabTerminal.objects.get(code="LAB1-PC")
    services.add_range(terminal=terminal, start=900000, end=900009)
    hand_out_up_to(719999, start=710000)
    user = terminal.user
    numbers = [services.register_offline(terminal_code="LAB1-PC", user=user, **PATIENT).patient.mrn for _ in range(2)]
    assert numbers == ["009-00-000", "009-00-001"]
    hand_out_up_to(900009, start=900000)
    with pytest.raises(services.RangeExhausted, match=r"exhausted its offline MRN range \(900000-900009\)"):
        services.register_offline(terminal_code="LAB1-PC", user=user, **PATIENT)


def test_a_terminal_without_an_active_range_is_told_so(lab1):
    TerminalRange.objects.filter(terminal__code="LAB1-PC").update(is_active=False)
    with pytest.raises(services.RangeExhausted, match="has no offline MRN range"):
        services.lease_block(terminal_code="LAB1-PC", user=LabTerminal.objects.get(code="LAB1-PC").user, count=1)


def test_crossing_80_and_90_percent_is_logged_once_each(lab1, caplog, django_capture_on_commit_callbacks):
    user = LabTerminal.objects.get(code="LAB1-PC").user
    caplog.set_level(logging.WARNING, logger="tokenline.terminals")
    with django_capture_on_commit_callbacks(execute=True):
        services.lease_block(terminal_code="LAB1-PC", user=user, count=7_999)
        assert not caplog.records
        services.lease_block(terminal_code="LAB1-PC", user=user, count=1)  # 8,000 used: 80 %
        services.lease_block(terminal_code="LAB1-PC", user=user, count=500)
        services.lease_block(terminal_code="LAB1-PC", user=user, count=1_000)  # 9,500: past 90 %
        services.lease_block(terminal_code="LAB1-PC", user=user, count=10)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "Terminal LAB1-PC range 710000-719999 passed 80 %: 8000/10000 used, 2000 remaining"),
        ("CRITICAL", "Terminal LAB1-PC range 710000-719999 passed 90 %: 9500/10000 used, 500 remaining"),
    ]


def test_past_90_percent_a_terminal_gets_the_pools_next_free_block_of_its_range_size(lab1, settings):
    settings.TOKENLINE_OFFLINE_POOL = "705000-799999"
    terminal = LabTerminal.objects.get(code="LAB1-PC")
    LabTerminal.objects.create(code="LAB3-PC", name="Lab 3")
    services.add_range(terminal=LabTerminal.objects.get(code="LAB3-PC"), start=750000, end=750999)
    services.lease_block(terminal_code="LAB1-PC", user=terminal.user, count=8_999)
    assert not terminal.ranges.filter(from_pool=True).exists()
    services.lease_block(terminal_code="LAB1-PC", user=terminal.user, count=2)  # 90.01 %
    added = terminal.ranges.get(from_pool=True)
    assert (added.start, added.end, added.current) == (751000, 760999, 0)
    services.lease_block(terminal_code="LAB1-PC", user=terminal.user, count=999)  # fills 710000-719999
    assert services.lease_block(terminal_code="LAB1-PC", user=terminal.user, count=5).start == 751000
    assert terminal.ranges.count() == 2


def test_when_the_pool_is_empty_the_seed_exhaustion_error_stands(lab1, settings):
    settings.TOKENLINE_OFFLINE_POOL = "710000-749999"  # all taken by the seed terminals
    terminal = LabTerminal.objects.get(code="LAB1-PC")
    services.lease_block(terminal_code="LAB1-PC", user=terminal.user, count=10_000)
    with pytest.raises(services.RangeExhausted, match=r"\(710000-719999\)"):
        services.register_offline(terminal_code="LAB1-PC", user=terminal.user, **PATIENT)
    assert terminal.ranges.count() == 1


def test_the_utilisation_command_prints_seed_001s_monitoring_line(lab1, capsys):
    services.lease_block(terminal_code="LAB1-PC", user=LabTerminal.objects.get(code="LAB1-PC").user, count=2_500)
    call_command("terminal_utilisation")
    out = capsys.readouterr().out
    assert "LAB1-PC: 2500/10000 used (25.0%), 7500 remaining [ok]" in out
    assert "  710000-719999 current 712499: 2500/10000 (25.0%), 7500 remaining [ok]" in out
    call_command("terminal_utilisation", "--json")
    assert '"code": "LAB1-PC"' in capsys.readouterr().out


@pytest.mark.parametrize("pool", ["700000", "800000-700000", "a-b", "0-10"])
def test_a_malformed_pool_setting_fails_the_system_check(settings, pool):
    settings.TOKENLINE_OFFLINE_POOL = pool
    assert [error.id for error in check_offline_pool()] == ["terminals.E001"]
    settings.TOKENLINE_OFFLINE_POOL = "700000-799999"
    assert check_offline_pool() == []
