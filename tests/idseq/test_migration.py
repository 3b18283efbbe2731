"""Migration idseq.0003 carries the walking skeleton's MRN counter over: the next MRN is the one it would have
issued, and the MRNs issued before the ledger existed check clean."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from idseq import services
from idseq.models import Counter, UnrecordedRange


def migrate_idseq_to(name: str | None) -> None:
    """Migrate idseq to migration `name`, or every app to its latest with None (going back also unapplies the
    other apps' migrations that depend on idseq's; they must come back too, as the tests after this one expect)."""
    executor = MigrationExecutor(connection)
    executor.migrate([("idseq", name)] if name else executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_skeletons_mrn_counter_becomes_the_mrn_sequences_counter():
    migrate_idseq_to("0001_initial")
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO idseq_counter (key, last_value, updated_at) VALUES ('mrn', 100050, now())")
    migrate_idseq_to(None)
    counter = Counter.objects.get(key="mrn")
    assert (counter.sequence.key, counter.last_value) == ("mrn", 100_050)
    carried = UnrecordedRange.objects.get(sequence__key="mrn")
    assert (carried.first_value, carried.last_value, carried.reason) == (100_001, 100_050, "before_ledger")
    assert services.next_id("mrn") == "001-00-051"
    call_command("idseq_check")
