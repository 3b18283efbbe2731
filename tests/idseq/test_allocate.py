import pytest
from django.core.management import call_command
from django.db import transaction

from idseq.exceptions import NotInTransaction, SequenceExhausted
from idseq.formats import GROUPED_FIRST, GROUPED_LAST
from idseq.models import Counter, IssuedNumber
from idseq.services import allocate, next_id
from tests.conftest import run_in_threads


def allocate_one(key: str) -> int:
    with transaction.atomic():
        return allocate(key)[0]


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_run_outside_a_transaction():
    with pytest.raises(NotInTransaction):
        allocate("x")


@pytest.mark.django_db
def test_a_new_counter_starts_at_start_and_reserves_blocks():
    with transaction.atomic():
        assert allocate("block", 3, start=10) == range(10, 13)
        assert allocate("block", 2, start=999) == range(13, 15)
    assert Counter.objects.get(key="block").last_value == 14


@pytest.mark.django_db
def test_a_rolled_back_allocation_returns_its_values():
    with transaction.atomic():
        allocate("undo", 5)
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        allocate("undo", 3)
        1 / 0
    assert Counter.objects.get(key="undo").last_value == 5


@pytest.mark.django_db(transaction=True)
def test_first_callers_at_once_create_the_counter_without_failing_or_sharing_a_value():
    values, errors = run_in_threads(lambda i: allocate_one("brand-new"), 16)
    assert not errors
    assert sorted(values) == list(range(1, 17))


@pytest.mark.django_db(transaction=True)
def test_parallel_allocations_are_unique_and_gapless():
    allocate_one("busy")

    def many(i):
        return [allocate_one("busy") for _ in range(20)]

    batches, errors = run_in_threads(many, 16)
    assert not errors
    assert sorted(v for batch in batches for v in batch) == list(range(2, 2 + 16 * 20))


@pytest.mark.django_db
def test_allocating_from_a_sequences_counter_records_the_values_in_its_ledger():
    assert next_id("mrn") == "001-00-001"
    with transaction.atomic():
        assert allocate("mrn", 2, start=GROUPED_FIRST) == range(GROUPED_FIRST + 1, GROUPED_FIRST + 3)
    assert list(IssuedNumber.objects.order_by("value").values_list("formatted", flat=True)) == [
        "001-00-001", "001-00-002", "001-00-003"]
    call_command("idseq_check")
    Counter.objects.filter(key="mrn").update(last_value=GROUPED_LAST)
    with transaction.atomic():
        with pytest.raises(SequenceExhausted):
            allocate("mrn")
        assert Counter.objects.get(key="mrn").last_value == GROUPED_LAST
