"""Reservations: the counter steps over reserved values without passing a free one; reservations never
overlap each other or issued values; their owners issue them into the ledger; idseq_check accounts for them."""

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from idseq import reservations, services
from idseq.exceptions import AlreadyIssued, NotReserved, ReservationOverlap, ReservedValue
from idseq.models import Counter, IssuedNumber, Reservation, Sequence
from tests.conftest import run_in_threads
from tests.round_trips import RoundTrips

pytestmark = pytest.mark.django_db


@pytest.fixture
def seq(db):
    """A plain sequence R-000001..R-999999 with nothing issued."""
    return services.create_sequence(key="R", kind="plain", prefix="R", padding=6)


def take(key: str, count: int = 1) -> list[str]:
    with transaction.atomic():
        return services.next_ids(key, count)


def check_output() -> str:
    with pytest.raises(CommandError) as error:
        call_command("idseq_check")
    return str(error.value)


def test_the_counter_steps_over_a_reserved_range_and_no_free_value(seq):
    take("R", 9)
    reservations.reserve("R", 11, 20, owner="LAB1-PC", reason="offline range")
    assert take("R", 3) == ["R-000010", "R-000021", "R-000022"]
    assert take("R") == ["R-000023"]
    call_command("idseq_check")


@pytest.mark.usefixtures("seed_terminals")
def test_seven_hundred_and_ten_thousand_follows_seven_hundred_and_nine_thousand_nine_hundred_ninety_nine():
    # Seed 001's ranges 710000-749999 are reserved by migration (terminals 0003).
    assert Reservation.objects.filter(owner="LAB1-PC", first_value=710_000, last_value=719_999).exists()
    with transaction.atomic():
        services.next_id("mrn")  # the counter exists from here on
        Counter.objects.filter(key="mrn").update(last_value=709_998)
        assert services.next_ids("mrn", 2) == ["007-09-999", "007-50-000"]  # past LAB1-PC ... RECEP-2


def test_the_counter_remembers_the_next_reservation_and_reads_none_on_the_common_path(seq):
    reservations.reserve("R", 100, 200, owner="X", reason="test")
    assert Counter.objects.get(key="R").reserved_from == 100
    take("R")
    # Every round trip: the counter locked and advanced in one UPDATE (the sequence cached, the lock timeout came
    # with the connection), the ledger insert, between the savepoint atomic() makes in the test's transaction and its
    # release: no reservation read
    with RoundTrips() as trips, transaction.atomic():
        services.next_id("R")
    assert len(trips) == 4, trips.statements
    take("R", 97)  # 3..99
    assert take("R") == ["R-000201"]
    assert Counter.objects.get(key="R").reserved_from is None


def test_a_reservation_overlapping_another_is_refused_naming_its_owner(seq):
    reservations.reserve("R", 100, 199, owner="LAB1-PC", reason="offline range")
    with pytest.raises(ReservationOverlap, match="100-199, reserved for LAB1-PC") as error:
        reservations.reserve("R", 150, 250, owner="LAB2-PC", reason="offline range")
    assert error.value.status_code == 400 and error.value.extra == {"owner": "LAB1-PC"}


def test_the_database_refuses_overlapping_reservations_too(seq):
    reservations.reserve("R", 100, 199, owner="LAB1-PC", reason="offline range")
    with pytest.raises(IntegrityError), transaction.atomic():
        Reservation.objects.create(sequence=seq, first_value=199, last_value=300, next_value=199, owner="B", reason="x")


def test_a_reservation_never_covers_issued_values(seq):
    take("R", 5)
    with pytest.raises(ReservationOverlap, match="already issued \\(up to 5\\)"):
        reservations.reserve("R", 5, 10, owner="LAB1-PC", reason="offline range")
    assert not Reservation.objects.filter(sequence=seq).exists()


def test_an_owner_issues_its_handed_out_values_into_the_ledger_once(seq):
    block = reservations.reserve("R", 100, 199, owner="LAB1-PC", reason="offline range")
    assert reservations.take_reserved(block, 3) == range(100, 103)
    assert reservations.issue_reserved("R", 101, owner="LAB1-PC") == "R-000101"
    with pytest.raises(AlreadyIssued):
        reservations.issue_reserved("R", 101, owner="LAB1-PC")
    with pytest.raises(ReservedValue, match="reserved for LAB1-PC"):
        reservations.issue_reserved("R", 102, owner="LAB2-PC")
    with pytest.raises(NotReserved):
        reservations.issue_reserved("R", 150, owner="LAB1-PC")  # never handed out
    assert Reservation.objects.get(sequence=seq).issued == 1
    call_command("idseq_check")


def test_a_reservation_hands_out_no_more_than_it_holds(seq):
    block = reservations.reserve("R", 100, 104, owner="LAB1-PC", reason="offline range")
    assert reservations.take_reserved(block, 4) == range(100, 104)
    assert reservations.take_reserved(block, 4) == range(104, 105)
    assert reservations.take_reserved(block, 4) == range(105, 105)


def test_claimed_numbers_above_the_counter_are_reserved_in_runs_and_recorded_without_moving_the_counter(seq):
    take("R", 3)
    assert reservations.claim("R", [500, 501, 502, 900], owner="import", reason="CSV") == [
        "R-000500", "R-000501", "R-000502", "R-000900",
    ]
    assert list(Reservation.objects.filter(sequence=seq).values_list("first_value", "last_value", "issued")) == [(500, 502, 3), (900, 900, 1)]
    assert Counter.objects.get(key="R").last_value == 3
    assert take("R") == ["R-000004"]
    call_command("idseq_check")


def test_a_claimed_number_voided_or_reserved_already_is_refused(seq):
    take("R", 3)
    services.void_id("R", "R-000002", reason="record removed")
    reservations.reserve("R", 100, 199, owner="LAB1-PC", reason="offline range")
    with pytest.raises(AlreadyIssued, match="R-000002 was voided"):
        reservations.claim("R", [2], owner="carried over", reason="paper card")
    assert reservations.claim("R", [3], owner="restore", reason="export") == ["R-000003"]  # no record holds it
    with pytest.raises(ReservedValue, match="R-000150 is reserved for LAB1-PC"):
        reservations.claim("R", [150], owner="carried over", reason="paper card")


def test_the_pool_region_is_the_first_free_run_and_blocks_are_carved_from_it(seq):
    reservations.reserve("R", 1000, 1099, owner="LAB1-PC", reason="offline range")
    pool = reservations.reserve_free("R", 1000, 1999, owner="pool", reason="offline pool")
    assert (pool.first_value, pool.last_value) == (1100, 1999)
    block = reservations.carve(pool, 100, owner="LAB2-PC", reason="from the pool")
    assert (block.first_value, block.last_value) == (1100, 1199)
    pool.refresh_from_db()
    assert pool.first_value == 1200
    assert reservations.carve(pool, 1000, owner="LAB2-PC", reason="from the pool") is None
    assert reservations.carve(pool, 800, owner="LAB2-PC", reason="from the pool").last_value == 1999
    assert not Reservation.objects.filter(owner="pool").exists()
    assert reservations.reserve_free("R", 1000, 1999, owner="pool", reason="offline pool") is None


def test_the_check_accepts_reservations_the_counter_stepped_over_and_names_a_missing_reserved_ledger_row(seq):
    reservations.claim("R", [3], owner="carried over", reason="paper card")
    take("R", 5)  # 1, 2, 4, 5, 6
    call_command("idseq_check")
    IssuedNumber.objects.filter(formatted="R-000003").delete()
    assert "R: 1 number(s) were issued from R-000003 (1 value), reserved for carried over, but the ledger holds 0" in (
        check_output()
    )


def test_the_forecast_counts_reserved_values_as_used(seq):
    take("R", 10)
    reservations.reserve("R", 500_000, 599_999, owner="LAB1-PC", reason="offline range")
    usage = services.health_check()["sequences"]
    row = next(row for row in usage if row["key"] == "R")
    assert (row["issued"], row["reserved"], row["percent_used"]) == (10, 100_000, 10.0)


@pytest.mark.django_db(transaction=True)
def test_registrations_racing_reservations_never_take_a_reserved_value():
    Sequence.objects.get_or_create(key="R", defaults={"kind": "plain", "prefix": "R", "padding": 6})
    blocks = [(20 * i + 10, 20 * i + 19) for i in range(8)]  # 10-19, 30-39, ..., 150-159

    def work(i):
        if i % 2:
            first, last = blocks[i // 2]
            with transaction.atomic():
                return ("reserved", reservations.reserve("R", first, last, owner=f"T{i}", reason="test").pk)
        with transaction.atomic():
            return ("issued", services.next_ids("R", 10))

    results, errors = run_in_threads(work, 16)
    assert all(isinstance(error, ReservationOverlap) for error in errors)  # a block the counter reached first
    issued = sorted(int(number[2:]) for kind, numbers in results if kind == "issued" for number in numbers)
    assert len(issued) == 80 == len(set(issued))
    reserved = {v for r in Reservation.objects.all() for v in range(r.first_value, r.last_value + 1)}
    assert not reserved & set(issued)
    highest = issued[-1]
    assert set(issued) | {v for v in reserved if v <= highest} == set(range(1, highest + 1))  # nothing skipped
    call_command("idseq_check")
    connection.close()
