"""The per-process cache of sequences: one statement takes a number, and a sequence retired or changed
by anyone since it was cached is never used stale, because that statement checks the row's version."""

import pytest
from django.db import transaction

from idseq import services
from idseq.exceptions import SequenceInactive
from idseq.models import Counter, Sequence
from tests.round_trips import RoundTrips

pytestmark = pytest.mark.django_db


def test_a_cached_sequence_takes_a_number_with_one_statement_that_locks_and_advances():
    services.next_id("CACHE")  # reads (creates) the sequence and its counter
    with RoundTrips() as trips, transaction.atomic():
        assert services.next_id("CACHE", purpose="x") == "CACHE-AAA0002"
    # Every round trip (the test's transaction makes atomic() a savepoint): one for the UPDATE ... RETURNING between
    # setting and resetting its statement timeout (core.busy), one for the ledger row.
    savepoint, advance, ledger, release = trips.statements
    assert savepoint.startswith("SAVEPOINT") and release.startswith("RELEASE"), trips.statements
    bounded, update, reset = advance.split("; ")
    assert bounded.startswith("SELECT set_config('statement_timeout'") and reset.startswith("SET LOCAL")
    assert update.startswith("UPDATE") and "RETURNING" in update and ledger.startswith("INSERT")


def test_a_sequence_retired_after_it_was_cached_issues_nothing_and_a_reactivated_one_issues_again():
    services.next_id("RETIRE")
    Sequence.objects.filter(key="RETIRE").update(is_active=False)  # as the admin or psql would, behind the cache
    with pytest.raises(SequenceInactive):
        services.next_id("RETIRE")
    assert Counter.objects.get(key="RETIRE").last_value == 1
    Sequence.objects.filter(key="RETIRE").update(is_active=True)
    assert services.next_id("RETIRE") == "RETIRE-AAA0002"


def test_a_sequence_changed_after_it_was_cached_is_read_again():
    services.create_sequence(key="cards", kind="plain", prefix="C", padding=4)
    assert services.next_id("cards") == "C-0001"
    Sequence.objects.filter(key="cards").update(padding=6)  # never done by Tokenline, but a psql session could
    assert services.next_id("cards") == "C-000002"


def test_every_write_of_a_sequence_gives_it_a_version_never_used_before():
    first = services.create_sequence(key="v", kind="plain", prefix="V")
    versions = [Sequence.objects.get(pk=first.pk).version]
    first.save()
    versions.append(Sequence.objects.get(pk=first.pk).version)
    first.delete()
    again = services.create_sequence(key="v", kind="plain", prefix="V")
    versions.append(Sequence.objects.get(pk=again.pk).version)
    assert len(set(versions)) == 3 and versions == sorted(versions)
