"""bench/offline_faults.py against the test server: every scenario loses nothing, and only what the clone printed
before its first contact is printed twice."""

import pytest

from bench.offline_faults import scenarios, table


@pytest.mark.django_db(transaction=True)
def test_each_failing_pc_loses_nothing_and_only_a_clone_prints_a_number_twice(live_server, tmp_path):
    results, statuses = scenarios(live_server.url, str(tmp_path))
    print("\n" + table(results))
    figures = {r.scenario: (r.printed, r.renumbered, r.duplicates, r.lost, r.incidents, r.caught) for r in results}
    assert figures == {
        "dead PC handed over": (6, 0, 0, 0, 0, 0),
        "cloned PC": (8, 2, 1, 0, 2, 1),
        "restored backup": (7, 0, 0, 0, 0, 1),
        "single endpoint, bound + other PC": (2, 1, 0, 0, 1, 0),
    }
    assert statuses == [201, 409]
