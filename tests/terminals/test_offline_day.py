"""bench/offline_day.py, smaller: terminals lease, register offline through terminals/client.py, sync at once,
replay twice, and a copied outbox on a second machine; nothing renumbered, duplicated or lost, and the copy is caught
before it prints."""

import pytest

from bench.offline_day import offline_day
from patients.models import Patient


@pytest.mark.django_db(transaction=True)
def test_a_day_offline_stores_every_printed_number_once_and_unchanged(live_server, tmp_path):
    day = offline_day(live_server.url, terminals=3, patients=20, replays=2, workdir=str(tmp_path))
    assert (day.patients, day.renumbered, day.duplicates, day.lost, day.refused) == (60, 0, 0, 0, 0)
    assert (day.caught_before_printing, day.incidents) == (1, 0)
    assert day.utilisation == {"BENCH-1": 0.2, "BENCH-2": 0.2, "BENCH-3": 0.2}
    printed = sorted(item["mrn"] for outbox in day.outboxes.values() for item in outbox)
    assert sorted(Patient.objects.filter(is_offline_entry=True).values_list("mrn", flat=True)) == printed
    assert len(set(printed)) == 60
