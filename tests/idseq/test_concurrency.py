"""Many desks at once on PostgreSQL: ids distinct and contiguous, the ledger equal to the counter, one number
per idempotency key."""

import pytest
from django.core.management import call_command

from idseq import services
from idseq.formats import parse_letter_number
from idseq.models import Counter, IssuedNumber
from tests.conftest import run_in_threads


@pytest.mark.django_db(transaction=True)
def test_32_threads_mixing_next_id_and_next_ids_get_distinct_contiguous_ids_and_a_clean_ledger():
    services.next_id("INV")

    def take(i):
        if i % 2:
            return services.next_ids("INV", 50)
        return [services.next_id("INV") for _ in range(3)]

    batches, errors = run_in_threads(take, 32)
    assert not errors
    ids = [issued for batch in batches for issued in batch]
    assert len(ids) == len(set(ids)) == 16 * 50 + 16 * 3
    assert sorted(parse_letter_number(i[4:]) for i in ids) == list(range(2, 2 + len(ids)))
    for batch in batches:  # a block is consecutive
        values = [parse_letter_number(i[4:]) for i in batch]
        assert len(batch) == 3 or values == list(range(values[0], values[0] + 50))
    last = Counter.objects.get(key="INV").last_value
    recorded = list(IssuedNumber.objects.filter(sequence__key="INV").order_by("value").values_list("value", flat=True))
    assert recorded == list(range(1, last + 1))
    call_command("idseq_check")


@pytest.mark.django_db(transaction=True)
def test_16_copies_of_one_idempotent_request_at_once_take_one_number():
    results, errors = run_in_threads(lambda i: services.next_id("REC", idempotency_key="same", fingerprint="b"), 16)
    assert not errors
    assert results == ["REC-AAA0001"] * 16
    assert IssuedNumber.objects.filter(sequence__key="REC").count() == 1
    assert services.next_id("REC") == "REC-AAA0002"


@pytest.mark.django_db(transaction=True)
def test_first_users_of_a_new_prefix_at_once_share_one_sequence():
    results, errors = run_in_threads(lambda i: services.next_id("BRAND"), 16)
    assert not errors
    assert sorted(results) == [f"BRAND-AAA{n:04d}" for n in range(1, 17)]
