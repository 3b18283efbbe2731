"""idseq_check finds what went wrong in the ledger; idseq_repair moves lagging counters forward, never back."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from idseq import services
from idseq.models import Counter, IssuedNumber, Sequence, UnrecordedRange

pytestmark = pytest.mark.django_db


def check_output() -> str:
    with pytest.raises(CommandError) as error:
        call_command("idseq_check")
    return str(error.value)


def sql(statement: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_a_clean_ledger_passes(capsys):
    services.next_ids("INV", 5)
    services.next_id("mrn")
    call_command("idseq_check")
    assert "Ledger clean" in capsys.readouterr().out


def test_deleting_ledger_rows_is_reported_by_id():
    services.next_ids("INV", 5)
    sql("DELETE FROM idseq_issuednumber WHERE formatted IN ('INV-AAA0002', 'INV-AAA0003')")
    assert "INV: the ledger is missing INV-AAA0002..INV-AAA0003 (2 values)" in check_output()


def test_deleting_the_last_ledger_row_is_reported_as_a_counter_ahead_of_its_ledger():
    services.next_ids("INV", 3)
    sql("DELETE FROM idseq_issuednumber WHERE formatted = 'INV-AAA0003'")
    assert "the ledger is missing INV-AAA0003 (1 value)" in check_output()


def test_a_counter_moved_back_by_sql_is_reported_and_repaired_forward():
    services.next_ids("INV", 5)
    sql("UPDATE idseq_counter SET last_value = 2 WHERE key = 'INV'")
    assert "INV: the counter (2) is behind its ledger, which records INV-AAA0003..INV-AAA0005" in check_output()
    call_command("idseq_repair")
    assert Counter.objects.get(key="INV").last_value == 5
    call_command("idseq_check")
    assert services.next_id("INV") == "INV-AAA0006"


def test_repair_never_moves_a_counter_back():
    services.next_ids("INV", 5)
    sql("DELETE FROM idseq_issuednumber WHERE formatted = 'INV-AAA0005'")
    call_command("idseq_repair")
    assert Counter.objects.get(key="INV").last_value == 5


def test_a_counter_with_no_ledger_at_all_is_reported():
    sequence = Sequence.objects.get(key="VEN")
    Counter.objects.create(key="VEN", last_value=4, sequence=sequence)
    assert "VEN: the ledger is missing VEN-AAA0001..VEN-AAA0004 (4 values)" in check_output()


def test_a_value_recorded_twice_is_reported():
    services.next_ids("INV", 2)
    sequence = Sequence.objects.get(key="INV")
    UnrecordedRange.objects.create(sequence=sequence, first_value=2, last_value=2, reason="reset")
    assert "INV-AAA0002 (1 value) recorded more than once" in check_output()


def test_the_mrn_counter_carried_over_from_the_skeleton_checks_clean():
    """Migration 0003 records MRNs issued before the ledger as one range; the same rule is checked here."""
    sequence = Sequence.objects.get(key="mrn")
    Counter.objects.create(key="mrn", last_value=100_010, sequence=sequence)
    assert "001-00-001..001-00-010" in check_output()
    UnrecordedRange.objects.create(sequence=sequence, first_value=100_001, last_value=100_010, reason="before_ledger")
    call_command("idseq_check")
    assert services.next_id("mrn") == "001-00-011"
    assert IssuedNumber.objects.get(sequence=sequence).formatted == "001-00-011"
