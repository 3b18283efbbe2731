"""Sequences: next_id / next_ids, auto-created prefixes, daily scopes, reset, ledger, idempotency, health."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction

from idseq import selectors, services
from idseq.builtin import SEED_004_PREFIXES
from idseq.exceptions import (
    BackwardReset,
    IdempotencyConflict,
    IdseqError,
    InvalidId,
    SequenceExhausted,
    SequenceInactive,
    UnknownSequence,
)
from idseq.models import Counter, IssuedNumber, Sequence, UnrecordedRange

KARACHI = zoneinfo.ZoneInfo("Asia/Karachi")
pytestmark = pytest.mark.django_db


def ledger(key: str) -> list[str]:
    return list(IssuedNumber.objects.filter(sequence__key=key).order_by("scope", "value")
                .values_list("formatted", flat=True))


def state() -> tuple[list, list]:
    """Every counter and ledger row, to show that something changed nothing."""
    return list(Counter.objects.order_by("key").values_list("key", "last_value")), list(
        IssuedNumber.objects.order_by("pk").values_list("pk", "formatted"))


def test_seed_004s_common_prefixes_and_the_mrn_sequences_exist_after_migration():
    keys = set(Sequence.objects.values_list("key", flat=True))
    assert {*SEED_004_PREFIXES, "mrn", "mrn-dated"} <= keys
    assert Sequence.objects.get(key="mrn").kind == "grouped"


def test_next_id_and_next_ids_issue_consecutive_ids_and_record_each_in_the_ledger(django_user_model):
    user = django_user_model.objects.create(username="clerk")
    assert services.next_id("INV", purpose="invoice", issued_by=user) == "INV-AAA0001"
    assert services.next_ids("INV", 3) == ["INV-AAA0002", "INV-AAA0003", "INV-AAA0004"]
    assert ledger("INV") == ["INV-AAA0001", "INV-AAA0002", "INV-AAA0003", "INV-AAA0004"]
    first = IssuedNumber.objects.get(formatted="INV-AAA0001")
    assert (first.value, first.purpose, first.issued_by, first.scope) == (1, "invoice", user, "")
    assert selectors.ledger_problems() == []


def test_seed_004_aliases_work():
    assert services.generate_id("CUS") == "CUS-AAA0001"
    assert services.bulk_generate_ids("CUS", 2) == ["CUS-AAA0002", "CUS-AAA0003"]
    assert services.health_check()["status"] == "healthy"


def test_an_unknown_valid_prefix_creates_its_sequence_on_first_use():
    assert services.next_id("LAB7") == "LAB7-AAA0001"
    sequence = Sequence.objects.get(key="LAB7")
    assert (sequence.kind, sequence.prefix) == ("letter_number", "LAB7")


@pytest.mark.parametrize("key", ["inv", "1NV", "TOOLONGPREFIX", "IN-V", "", "INV2\n"])
def test_an_unknown_key_that_is_not_a_valid_prefix_is_refused_with_the_pattern(key):
    with pytest.raises(InvalidId, match=r"\^\[A-Z\]\[A-Z0-9\]\{0,9\}\$"):
        services.next_id(key)
    assert not Sequence.objects.filter(key=key).exists()


@pytest.mark.parametrize("count", [0, -1, 10_001])
def test_a_block_of_fewer_than_1_or_more_than_10000_is_refused(count):
    with pytest.raises(IdseqError, match="between 1 and 10,000"):
        services.next_ids("INV", count)
    assert ledger("INV") == []


def test_ten_thousand_ids_come_in_one_block():
    ids = services.next_ids("PUR", 10_000)
    assert ids[0] == "PUR-AAA0001" and ids[-1] == "PUR-AAB0001" and len(set(ids)) == 10_000
    assert IssuedNumber.objects.filter(sequence__key="PUR").count() == 10_000


def test_the_mrn_sequence_gives_the_walking_skeletons_numbers():
    assert services.next_ids("mrn", 2) == ["001-00-001", "001-00-002"]
    Counter.objects.filter(key="mrn").update(last_value=100_999)
    assert services.peek("mrn") == "001-01-000"


def test_the_dated_sequence_issues_seed_001_mrns_per_day_in_the_hospitals_time_zone():
    with time_machine.travel(datetime.datetime(2024, 11, 3, 23, 59, 59, tzinfo=KARACHI), tick=False):
        assert services.next_ids("mrn-dated", 2) == ["PAT-20241103-0001", "PAT-20241103-0002"]
    # 19:00 UTC is midnight in Karachi: a new day, a new counter; yesterday's numbers stay as they were.
    with time_machine.travel(datetime.datetime(2024, 11, 3, 19, 0, 0, tzinfo=datetime.UTC), tick=False):
        assert services.next_id("mrn-dated") == "PAT-20241104-0001"
    with time_machine.travel(datetime.datetime(2024, 11, 3, 18, 59, 59, tzinfo=datetime.UTC), tick=False):
        assert services.next_id("mrn-dated") == "PAT-20241103-0003"
    assert Counter.objects.get(key="mrn-dated@2024-11-03").last_value == 3
    assert selectors.ledger_problems() == []


def test_the_10000th_dated_number_of_a_day_is_exhausted_naming_the_sequence_and_day():
    with time_machine.travel(datetime.datetime(2024, 11, 3, 12, tzinfo=KARACHI), tick=False):
        services.next_ids("mrn-dated", 9_999)
        with pytest.raises(SequenceExhausted, match=r"'mrn-dated'.*2024-11-03"):
            services.next_id("mrn-dated")
        assert Counter.objects.get(key="mrn-dated@2024-11-03").last_value == 9_999
    with time_machine.travel(datetime.datetime(2024, 11, 4, 12, tzinfo=KARACHI), tick=False):
        assert services.next_id("mrn-dated") == "PAT-20241104-0001"


def test_a_wider_dated_sequence_goes_past_9999():
    services.create_sequence(key="visits", kind="dated", prefix="VIS", reset="daily", padding=5, start_value=9_999)
    with time_machine.travel(datetime.datetime(2024, 11, 3, 12, tzinfo=KARACHI), tick=False):
        assert services.next_ids("visits", 2) == ["VIS-20241103-09999", "VIS-20241103-10000"]


def test_a_yearly_sequence_starts_again_each_new_year_in_karachi():
    services.create_sequence(key="invoices", kind="dated", prefix="IN", reset="yearly")
    with time_machine.travel(datetime.datetime(2025, 12, 31, 18, 59, tzinfo=datetime.UTC), tick=False):
        assert services.next_id("invoices") == "IN-2025-0001"
    with time_machine.travel(datetime.datetime(2025, 12, 31, 19, 1, tzinfo=datetime.UTC), tick=False):
        assert services.next_id("invoices") == "IN-2026-0001"


def test_a_sequence_with_a_check_digit_issues_ids_that_verify():
    sequence = services.create_sequence(key="cards", kind="plain", prefix="C", padding=6, check_digit=True)
    issued = services.next_id("cards")
    assert issued[:-1] == "C-000001"
    assert sequence.id_format.parse(issued) == (1, "")


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"key": "X1", "kind": "letter_number", "prefix": "X2"}, "key"),
        ({"key": "bad", "kind": "letter_number", "prefix": "bad"}, "prefix"),
        ({"key": "d", "kind": "dated", "prefix": "D"}, "reset"),
        ({"key": "p", "kind": "plain", "reset": "daily"}, "reset"),
        ({"key": "s", "kind": "letter_number", "prefix": "s", "reset": "scoped"}, "reset"),
        ({"key": "d2", "kind": "dated", "prefix": "D", "reset": "scoped"}, "reset"),
        ({"key": "has:colon", "kind": "plain"}, "key"),
        ({"key": "newline\n", "kind": "plain"}, "key"),
        ({"key": "NL", "kind": "plain", "prefix": "NL\n"}, "prefix"),
        ({"key": "INV", "kind": "letter_number", "prefix": "INV"}, "key"),
    ],
)
def test_creating_a_sequence_validates_each_field(fields, field):
    with pytest.raises(ValidationError) as error:
        services.create_sequence(**fields)
    assert field in error.value.message_dict


def test_a_retired_sequence_issues_nothing():
    Sequence.objects.filter(key="VEN").update(is_active=False)
    with pytest.raises(SequenceInactive):
        services.next_id("VEN")


def test_reset_to_zzz9999_makes_the_next_id_aaaa0001_and_the_check_stays_clean():
    services.next_id("TEST")
    assert services.reset_sequence("TEST", "TEST-ZZZ9999") == "TEST-AAAA0001"
    assert services.next_id("TEST") == "TEST-AAAA0001"
    skipped = UnrecordedRange.objects.get(sequence__key="TEST")
    assert (skipped.first_value, skipped.reason) == (2, "reset")
    assert selectors.ledger_problems() == []


def test_a_backward_reset_is_refused_naming_the_highest_issued_id():
    services.next_ids("SAL", 3)
    with pytest.raises(BackwardReset, match="SAL-AAA0003"):
        services.reset_sequence("SAL", "SAL-AAA0002")
    assert services.next_id("SAL") == "SAL-AAA0004"


@pytest.mark.parametrize("last_id", ["SAL-ZZ9999", "SAL-AAA00001", "sal-AAA0001", "SALAAA0001", "SAL-AAA0000"])
def test_a_reset_to_an_unparsable_id_is_refused_with_the_pattern_and_never_corrected(last_id):
    with pytest.raises(InvalidId, match="SAL-AAANNNN"):
        services.reset_sequence("SAL", last_id)
    assert services.next_id("SAL") == "SAL-AAA0001"


def test_a_reset_to_the_last_id_of_the_format_commits_and_leaves_nothing_to_issue():
    services.create_sequence(key="tiny", kind="plain", padding=2)
    assert services.reset_sequence("tiny", "99") is None
    with pytest.raises(SequenceExhausted):
        services.next_id("tiny")
    assert Counter.objects.get(key="tiny").last_value == 99


def test_peek_shows_the_next_id_without_taking_it():
    assert services.peek("REC") == "REC-AAA0001"
    assert services.peek("REC") == "REC-AAA0001"
    assert services.next_id("REC") == "REC-AAA0001"
    with pytest.raises(UnknownSequence):
        services.peek("NOPE")


def test_a_voided_number_stays_in_the_ledger_and_is_never_reissued():
    issued = services.next_id("UOM")
    voided = services.void_id("UOM", issued, reason="record deleted")
    assert (voided.void_reason, voided.voided_at is not None) == ("record deleted", True)
    assert services.next_id("UOM") == "UOM-AAA0002"
    assert selectors.ledger_problems() == []
    with pytest.raises(IdseqError):
        services.void_id("UOM", "UOM-AAA0002", reason="  ")


def test_unvoiding_takes_back_only_the_voiding_made_for_that_reason():
    first, second = services.next_id("UMG"), services.next_id("UMG")
    services.void_id("UMG", first, reason="merged into X-1")
    services.void_id("UMG", second, reason="record deleted")
    with transaction.atomic():
        assert services.unvoid_id("UMG", first, reason="merged into X-1")
        assert not services.unvoid_id("UMG", second, reason="merged into X-1")
        assert not services.unvoid_id("UMG", "UMG-AAA9999", reason="merged into X-1")
    voided = dict(IssuedNumber.objects.filter(sequence__key="UMG").values_list("formatted", "void_reason"))
    assert voided == {first: "", second: "record deleted"}
    assert services.next_id("UMG") == "UMG-AAA0003" and selectors.ledger_problems() == []


def test_a_failed_transaction_returns_its_numbers_and_leaves_no_ledger_row():
    services.next_id("WH")
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        services.next_ids("WH", 5)
        1 / 0
    assert ledger("WH") == ["WH-AAA0001"]
    assert services.next_id("WH") == "WH-AAA0002"


def test_the_same_idempotency_key_and_request_get_the_same_ids_and_take_no_more():
    first = services.issue("PKG", 2, idempotency_key="abc", fingerprint="body-1")
    again = services.issue("PKG", 2, idempotency_key="abc", fingerprint="body-1")
    assert (first.ids, first.replayed, again.ids, again.replayed) == (["PKG-AAA0001", "PKG-AAA0002"], False,
                                                                      ["PKG-AAA0001", "PKG-AAA0002"], True)
    assert services.next_id("PKG") == "PKG-AAA0003"


def test_the_same_idempotency_key_with_a_different_request_is_a_conflict_and_takes_nothing():
    services.next_id("PKG", idempotency_key="abc", fingerprint="body-1")
    with pytest.raises(IdempotencyConflict):
        services.next_id("PKG", idempotency_key="abc", fingerprint="body-2")
    with pytest.raises(IdempotencyConflict):
        services.next_ids("PKG", 2, idempotency_key="abc", fingerprint="body-1")
    assert ledger("PKG") == ["PKG-AAA0001"]


def test_an_idempotent_request_that_fails_frees_its_key():
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        services.next_id("PKG", idempotency_key="retry-me")
        1 / 0
    assert services.next_id("PKG", idempotency_key="retry-me") == "PKG-AAA0001"


def test_an_idempotency_conflict_inside_a_callers_transaction_leaves_it_usable():
    services.next_id("PKG", idempotency_key="k", fingerprint="a")
    with transaction.atomic():
        with pytest.raises(IdempotencyConflict):
            services.next_id("PKG", idempotency_key="k", fingerprint="b")
        assert services.next_id("PKG") == "PKG-AAA0002"


def test_health_check_reports_and_consumes_no_number():
    services.next_ids("INV", 3)
    before = state()
    report = services.health_check()
    assert state() == before
    assert not Sequence.objects.filter(key=services.HEALTH_KEY).exists()
    assert report["status"] == "healthy" and report["sample_id"] == "HEALTH-AAA0001"
    assert report["sequence_count"] == Sequence.objects.count()
    assert report["db_roundtrip_ms"] >= 0
    inv = next(row for row in report["sequences"] if row["key"] == "INV")
    assert (inv["issued"], inv["next_id"], inv["level"]) == (3, "INV-AAA0004", "ok")


def test_usage_warns_at_80_percent_and_is_critical_at_90():
    services.create_sequence(key="tiny", kind="plain", padding=2)  # 99 numbers
    services.next_ids("tiny", 79)
    assert selectors.sequence_usage(Sequence.objects.filter(key="tiny"))[0].level == "ok"
    services.next_id("tiny")
    assert selectors.sequence_usage(Sequence.objects.filter(key="tiny"))[0].level == "warning"
    services.next_ids("tiny", 10)
    usage = selectors.sequence_usage(Sequence.objects.filter(key="tiny"))[0]
    assert (usage.level, usage.issued, usage.capacity) == ("critical", 90, 99)
    assert usage.rate_per_day == 3.0 and usage.days_to_exhaustion == 3.0  # 90 in 30 days, 9 left


def test_a_scoped_sequence_counts_each_callers_scope_from_its_start_and_records_every_id(django_user_model):
    desk = django_user_model.objects.create_user("desk")
    with transaction.atomic():
        gen = services.issue("visit-token", 2, scope="GEN-20261202", issued_by=desk, purpose="visit token")
        lab = services.issue("visit-token", scope="LAB-20261202")
        again = services.issue("visit-token", scope="GEN-20261202")
    assert (gen.ids, gen.values) == (["VT-GEN-20261202-0001", "VT-GEN-20261202-0002"], [1, 2])
    assert (lab.ids, lab.values, again.values) == (["VT-LAB-20261202-0001"], [1], [3])
    assert ledger("visit-token") == ["VT-GEN-20261202-0001", "VT-GEN-20261202-0002", "VT-GEN-20261202-0003",
                                     "VT-LAB-20261202-0001"]
    first = IssuedNumber.objects.get(formatted="VT-GEN-20261202-0001")
    assert (first.scope, first.value, first.issued_by, first.purpose) == ("GEN-20261202", 1, desk, "visit token")
    assert Counter.objects.get(key="visit-token@GEN-20261202").last_value == 3
    assert services.peek("visit-token", scope="GEN-20261202") == "VT-GEN-20261202-0004"


@pytest.mark.parametrize("key, scope", [
    ("visit-token", None), ("visit-token", ""), ("visit-token", "GEN:2026-12-02"), ("INV", "GEN-20261202"),
])
def test_a_scope_is_required_by_a_scoped_sequence_only_and_must_read_back(key, scope):
    before = state()
    with pytest.raises(IdseqError, match="scope"):
        services.issue(key, scope=scope)
    assert state() == before


def test_a_failed_transaction_returns_its_scoped_number_and_ledger_row():
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        services.issue("slot-token", scope="42")
        1 / 0
    assert services.issue("slot-token", scope="42").ids == ["SLOT-42-0001"]
    assert ledger("slot-token") == ["SLOT-42-0001"]


def test_a_scoped_sequences_usage_is_its_fullest_scope_of_today():
    assert selectors.sequence_usage(Sequence.objects.filter(key="slot-token"))[0].next_id is None
    services.issue("slot-token", 3, scope="a")
    services.issue("slot-token", 7, scope="b")
    services.issue("slot-token", 5, scope="c")
    usage = selectors.sequence_usage(Sequence.objects.filter(key="slot-token"))[0]
    assert (usage.scope, usage.issued, usage.next_id, usage.capacity) == ("b", 7, "SLOT-b-0008", 9999)
    assert usage.days_to_exhaustion is None
    assert "slot-token" in [row["key"] for row in services.health_check()["sequences"]]
